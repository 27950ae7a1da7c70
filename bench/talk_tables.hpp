#pragma once
// ist-bench talk: runs the talk's rows (bench/talk_runs.hpp) and prints them beside the talk's own
// numbers (bench/talk_reference.hpp); `ist-bench talk --bytes` prints the ResNet101 bytes table
// (bench/talk_bytes.hpp). ist_bench.cpp dispatches here with one line.
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <thread>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "talk_bytes.hpp"
#include "talk_journal.hpp"
#include "talk_runs.hpp"

namespace ist_bench::talk {

/// Every seed's outcome, by (hidden layers, S, method).
using Results = std::map<std::tuple<std::size_t, std::size_t, Method>, std::vector<Outcome>>;

/// The machine's load averages over 1, 5 and 15 minutes (times here depend on them).
inline std::array<double, 3> load_averages() {
    std::ifstream in("/proc/loadavg");
    std::array<double, 3> load{};
    in >> load[0] >> load[1] >> load[2];
    return load;
}

/// The load average, as `uptime` prints it.
inline std::string load_text() {
    const auto load = load_averages();
    return number(load[0], "%.2f") + ", " + number(load[1], "%.2f") + ", " + number(load[2], "%.2f");
}

/// "load average at the start of the runs: 0.71-1.43 (12 of 54 runs from the journal)".
inline std::string run_loads(const Results& results, std::size_t journalled) {
    double low = 1e300, high = -1e300;
    std::size_t runs = 0;
    for (const auto& [cell, outcomes] : results)
        for (const Outcome& o : outcomes) {
            low = std::min(low, o.load_at_start);
            high = std::max(high, o.load_at_start);
            ++runs;
        }
    return "load average at the start of the runs: " + number(low, "%.2f") + "-" + number(high, "%.2f") + " (" +
           std::to_string(journalled) + " of " + std::to_string(runs) + " runs from the journal)\n";
}

inline Stats time_stats(const std::vector<Outcome>& runs, std::size_t clock, std::size_t target) {
    std::vector<double> v;
    for (const Outcome& o : runs) v.push_back(o.to_target[clock][target]);
    return stats(v);
}

inline std::string clock_name(const TalkConfig& c, std::size_t clock) {
    return clock == 0 ? "here" : c.links[clock - 1].name;
}

/// "a / b / c" over S of one method's cells.
template <class Cell>
std::string across_workers(const TalkConfig& c, Cell&& cell) {
    std::string out;
    for (std::size_t S : c.workers) out += (out.empty() ? "" : " / ") + cell(S);
    return out;
}

inline const TalkRow& talk_row(std::size_t hidden_layers, std::size_t target) {
    return kSpeechRows[(hidden_layers - 1) * 2 + target];
}

inline std::string talk_numbers(const std::array<double, 3>& v) {
    return number(v[0], "%.0f") + " / " + number(v[1], "%.0f") + " / " + number(v[2], "%.0f");
}

inline void print_times(std::ostream& out, const TalkConfig& c, const Results& results, std::size_t nl) {
    char line[512];
    out << "\n" << net_name(nl, c.width) << ": seconds to the target at S = " << across_workers(c, [](std::size_t S) {
        return std::to_string(S);
    }) << " (mean±sd over the seeds that reached it; (n/N): only n of N did)\n";
    std::snprintf(line, sizeof line, "  %-6s %-11s %-34s %-34s %-34s\n", "target", "clock", "data parallel", "local SGD", "IST");
    out << line;
    for (std::size_t k = 0; k < c.targets.size(); ++k) {
        for (std::size_t clock = 0; clock <= c.links.size(); ++clock) {
            std::snprintf(line, sizeof line, "  %-6.2f %-11s", c.targets[k], clock_name(c, clock).c_str());
            out << line;
            for (Method m : kMethods) {
                const std::string cells = across_workers(c, [&](std::size_t S) {
                    return time_cell(time_stats(results.at({nl, S, m}), clock, k));
                });
                std::snprintf(line, sizeof line, " %-34s", cells.c_str());
                out << line;
            }
            out << '\n';
        }
        const TalkRow& t = talk_row(nl, k);
        std::snprintf(line, sizeof line, "  talk: Speech %zu-layer, %.2f, m5.2xlarge nodes, S = 2 / 4 / 8:  %s | %s | %s\n",
                      nl + 1, t.accuracy, talk_numbers(t.data_parallel).c_str(), talk_numbers(t.local_sgd).c_str(),
                      talk_numbers(t.ist).c_str());
        out << line;
    }
}

inline void print_ratios(std::ostream& out, const TalkConfig& c, const Results& results, std::size_t nl) {
    out << "\n" << net_name(nl, c.width) << ": how many times sooner IST reached the target, S = "
        << across_workers(c, [](std::size_t S) { return std::to_string(S); }) << " ('-': a seed did not reach it)\n";
    char line[512];
    for (std::size_t k = 0; k < c.targets.size(); ++k) {
        for (std::size_t clock = 0; clock <= c.links.size(); ++clock) {
            const auto ratio = [&](Method baseline) {
                return across_workers(c, [&](std::size_t S) {
                    return ratio_cell(time_stats(results.at({nl, S, baseline}), clock, k),
                                      time_stats(results.at({nl, S, Method::Ist}), clock, k));
                });
            };
            std::snprintf(line, sizeof line, "  %-6.2f %-11s data parallel / IST %-22s local SGD / IST %s\n", c.targets[k],
                          clock_name(c, clock).c_str(), ratio(Method::DataParallel).c_str(), ratio(Method::LocalSgd).c_str());
            out << line;
        }
        const TalkRow& t = talk_row(nl, k);
        std::string dp, local;
        for (std::size_t i = 0; i < 3; ++i) {
            dp += (i ? " / x" : "x") + number(t.data_parallel[i] / t.ist[i], "%.1f");
            local += (i ? " / x" : "x") + number(t.local_sgd[i] / t.ist[i], "%.1f");
        }
        std::snprintf(line, sizeof line, "  talk   %.2f, S = 2/4/8: data parallel / IST %-22s local SGD / IST %s\n", t.accuracy,
                      dp.c_str(), local.c_str());
        out << line;
    }
}

inline void print_finals(std::ostream& out, const TalkConfig& c, const Results& results) {
    out << "\nfinal test accuracy after " << c.rounds << " rounds (mean±sd over " << c.seeds << " seeds)\n";
    char line[256];
    std::snprintf(line, sizeof line, "  %-36s %3s  %-16s %-16s %-16s\n", "net", "S", "data parallel", "local SGD", "IST");
    out << line;
    for (std::size_t nl : c.nets) {
        for (std::size_t S : c.workers) {
            std::snprintf(line, sizeof line, "  %-36s %3zu", net_name(nl, c.width).c_str(), S);
            out << line;
            for (Method m : kMethods) {
                std::vector<double> acc;
                for (const Outcome& o : results.at({nl, S, m})) acc.push_back(o.final_accuracy);
                const Stats s = stats(acc);
                std::snprintf(line, sizeof line, "  %-16s", (number(s.mean, "%.4f") + "±" + number(s.sd, "%.4f")).c_str());
                out << line;
            }
            out << '\n';
        }
        const TalkFinal& f = kSpeechFinal[nl - 1];
        std::snprintf(line, sizeof line, "  %-36s %3s  %-16.4f %-16.4f %-16.4f\n",
                      ("talk: Speech " + std::to_string(nl + 1) + "-layer").c_str(), "", f.data_parallel, f.local_sgd, f.ist);
        out << line;
    }
}

/// --epochs: how many epochs, steps and rounds each net and S trains (IST_Release's accounting).
inline std::string epoch_accounting(const TalkConfig& c, std::size_t train_rows) {
    std::ostringstream s;
    s << "  epochs as IST_Release counts them: each worker takes " << train_rows << " rows / batch " << c.batch
      << " / S batches per epoch, E = " << c.epochs << " epochs (its 2-layer script) or E x S (its 3-layer script);"
      << " an epoch rounded up to whole rounds of l = " << c.local_steps << ", evaluated at its end\n";
    for (std::size_t nl : c.nets)
        for (std::size_t S : c.workers) {
            const EpochPlan p = epoch_plan(c, nl, S, train_rows);
            s << "    " << nl + 1 << "-layer, S = " << S << ": " << p.epochs << " epochs of " << p.steps_per_epoch
              << " steps per worker = " << p.rounds_per_epoch << " rounds per epoch, " << p.rounds() << " rounds\n";
        }
    return s.str();
}

/// Per seed, IST's chosen test accuracy minus the better baseline's, in points.
inline std::vector<double> ist_lead(const Results& results, std::size_t nl, std::size_t S) {
    const auto chosen = [&](Method m, std::size_t k) { return results.at({nl, S, m})[k].convergence->chosen_test; };
    std::vector<double> lead;
    for (std::size_t k = 0; k < results.at({nl, S, Method::Ist}).size(); ++k)
        lead.push_back(100.0 * (chosen(Method::Ist, k) -
                                std::max(chosen(Method::DataParallel, k), chosen(Method::LocalSgd, k))));
    return lead;
}

inline std::string mean_sd(const Stats& s, const char* format) {
    return number(s.mean, format) + "±" + number(s.sd, format);
}

/// --epochs: the table at convergence, the talk's final accuracies beside, and the last line
/// "at convergence IST - best baseline: min A mean B max C (points)" over the cells.
inline void print_converged(std::ostream& out, const TalkConfig& c, const Results& results, const TalkData& data) {
    out << "\nat convergence: test accuracy (" << data.test.size() << " test rows) of the model chosen on "
        << data.validation.size() << " validation rows" << (data.validation.size() ? "" : " (none: the last model)")
        << ", mean±sd over " << c.seeds << " seeds;\n  IST - best: per seed, IST minus the better of data parallel and"
        << " local SGD, in points; converged: runs whose last " << kConvergedWindow << " test accuracies lie within "
        << kConvergedSpread << "\n";
    char line[320];
    std::snprintf(line, sizeof line, "  %-36s %3s %6s  %-16s %-16s %-16s %-14s %s\n", "net", "S", "epochs", "data parallel",
                  "local SGD", "IST", "IST - best", "converged");
    out << line;
    std::vector<double> cell_leads;
    for (std::size_t nl : c.nets) {
        for (std::size_t S : c.workers) {
            std::snprintf(line, sizeof line, "  %-36s %3zu %6zu", net_name(nl, c.width).c_str(), S,
                          epoch_plan(c, nl, S, data.train.size()).epochs);
            out << line;
            std::size_t converged = 0, runs = 0;
            for (Method m : kMethods) {
                std::vector<double> acc;
                for (const Outcome& o : results.at({nl, S, m})) {
                    acc.push_back(o.convergence->chosen_test);
                    converged += o.convergence->converged;
                    ++runs;
                }
                std::snprintf(line, sizeof line, "  %-16s", mean_sd(stats(acc), "%.4f").c_str());
                out << line;
            }
            const Stats lead = signed_stats(ist_lead(results, nl, S));
            cell_leads.push_back(lead.mean);
            std::snprintf(line, sizeof line, " %+7.2f±%-6.2f %zu/%zu\n", lead.mean, lead.sd, converged, runs);
            out << line;
        }
        const TalkFinal& f = kSpeechFinal[nl - 1];
        std::snprintf(line, sizeof line, "  %-36s %3s %6s  %-16.4f %-16.4f %-16.4f %+7.2f\n",
                      ("talk: Speech " + std::to_string(nl + 1) + "-layer, width 4096").c_str(), "", "",
                      f.data_parallel, f.local_sgd, f.ist, 100.0 * (f.ist - std::max(f.data_parallel, f.local_sgd)));
        out << line;
    }
    out << "\ntraining accuracy / loss of the chosen models on " << data.train_sample.size()
        << " training rows (mean over the seeds)\n";
    for (std::size_t nl : c.nets)
        for (std::size_t S : c.workers) {
            std::snprintf(line, sizeof line, "  %-36s %3zu", net_name(nl, c.width).c_str(), S);
            out << line;
            for (Method m : kMethods) {
                std::vector<double> acc, loss;
                for (const Outcome& o : results.at({nl, S, m})) {
                    acc.push_back(o.convergence->train_accuracy);
                    loss.push_back(o.convergence->train_loss);
                }
                std::snprintf(line, sizeof line, "  %-13s %.4f / %.4f", method_name(m), stats(acc).mean, stats(loss).mean);
                out << line;
            }
            out << '\n';
        }
    const auto [low, high] = std::minmax_element(cell_leads.begin(), cell_leads.end());
    std::snprintf(line, sizeof line, "at convergence IST - best baseline: min %.3f mean %.3f max %.3f (points)\n", *low,
                  std::accumulate(cell_leads.begin(), cell_leads.end(), 0.0) / static_cast<double>(cell_leads.size()),
                  *high);
    out << '\n' << line;
}

inline std::string talk_setup(const TalkConfig& c, const TalkData& data) {
    const ist::Dataset &train = data.train, &test = data.test;
    std::ostringstream s;
    s << "ist-bench talk: the talk's tables on Fashion-MNIST (" << train.size() << " training rows, " << test.size()
      << " test rows, standardised)\n";
    if (c.epochs)
        s << "  to convergence: " << data.validation.size() << " validation rows (the last training rows, never trained on) "
          << (data.validation.size() ? "choose the reported model" : "(none: the last model is reported)")
          << "; training loss and accuracy on the first " << data.train_sample.size() << " training rows\n"
          << epoch_accounting(c, train.size());
    s
      << "  nets: MLP 784 -> hidden -> 10, Dense (no bias) -> BatchNorm -> ReLU, parameter-free BatchNorm on the logits;"
      << " the talk's Speech nets are 4096 inputs -> 4096 (-> 4096) -> 35\n"
      << "  every run: " << (c.epochs ? std::string("its") : std::to_string(c.rounds)) << " rounds of l = " << c.local_steps << " steps (data parallel: " << c.local_steps
      << " all-reduced steps per round), plain SGD lr " << c.lr << ", batch " << c.batch << " per worker, workers sample "
      << (c.whole_set ? "the whole training set" : "disjoint shards") << "; seeds " << c.seed << ".."
      << c.seed + c.seeds - 1 << " (initial weights, partitions, sampling)\n"
      << "  targets " << c.targets[0] << " and " << c.targets[1] << " stand beside the talk's 0.63 and 0.75 (Speech has 35 "
      << "classes, Fashion-MNIST 10: compare ratios, not seconds)\n"
      << "  threads: workers are threads of one process on " << std::thread::hardware_concurrency()
      << " cores; GEMM backend " << ist::detail::gemm_backend_name(c.gemm) << "; load average at the start " << load_text()
      << "\n";
    return s.str();
}

/// One run: the journal's if it has it, otherwise trained now (and journalled).
inline Outcome journalled_run(const TalkConfig& c, std::optional<RunJournal>& journal, std::size_t nl, Method m,
                              std::size_t S, std::uint64_t seed, const TalkData& data, std::size_t& from_journal) {
    if (journal)
        if (auto known = journal->find(nl, S, m, seed)) {
            ++from_journal;
            return *known;
        }
    const double load = load_averages()[0];
    Outcome o = run_once(c, nl, m, S, seed, data);
    o.load_at_start = load;
    if (journal) journal->record(nl, S, m, seed, o);
    return o;
}

inline int run_talk(const TalkConfig& c) {
    const ist::detail::GemmBackendGuard gemm(c.gemm);
    const TalkData data = talk_data(c);
    std::cout << talk_setup(c, data) << std::flush;
    std::optional<RunJournal> journal;
    if (!c.runs.empty()) journal.emplace(c.runs, c);
    Results results;
    std::size_t from_journal = 0;
    for (std::size_t nl : c.nets)
        for (std::size_t S : c.workers)
            for (Method m : kMethods) {
                auto& runs = results[{nl, S, m}];
                for (std::size_t k = 0; k < c.seeds; ++k)
                    runs.push_back(journalled_run(c, journal, nl, m, S, c.seed + k, data, from_journal));
                std::fprintf(stderr, "  done: %s, S = %zu, %s\n", net_name(nl, c.width).c_str(), S, method_name(m));
            }
    for (std::size_t nl : c.nets) print_times(std::cout, c, results, nl);
    for (std::size_t nl : c.nets) print_ratios(std::cout, c, results, nl);
    if (!c.epochs) print_finals(std::cout, c, results);
    std::cout << '\n' << kModelText << run_loads(results, from_journal) << "load average at the end " << load_text() << '\n';
    if (c.epochs) print_converged(std::cout, c, results, data);
    return 0;
}

/// --show-config: the settings the runs would use, one "name value" per line.
inline int show_config(const TalkConfig& c) {
    std::string nets;
    for (std::size_t n : c.nets) nets += (nets.empty() ? "" : ",") + std::to_string(n);
    std::cout << "nets " << nets << "\nwidth " << c.width << "\nworkers "
              << across_workers(c, [](std::size_t S) { return std::to_string(S); }) << "\nseeds " << c.seeds << "\nrounds "
              << c.rounds << "\nlocal-steps " << c.local_steps << "\nbatch " << c.batch << "\nlr " << c.lr << "\nsampling "
              << (c.whole_set ? "whole-set" : "shards") << "\ngemm " << ist::detail::gemm_backend_name(c.gemm) << '\n';
    if (c.epochs) std::cout << epoch_accounting(c, talk_data(c).train.size());
    return 0;
}

/// `ist-bench talk ...` (argv[1] == "talk").
inline int talk_main(int argc, char** argv) {
    return ist::cli::run_main("ist-bench", [&] {
        const TalkConfig c = parse_talk(argc, argv);
        if (c.show_config) return show_config(c);
        return c.bytes ? print_resnet101_bytes(std::cout) : run_talk(c);
    });
}

}  // namespace ist_bench::talk

namespace ist_bench {
using talk::talk_main;
}
