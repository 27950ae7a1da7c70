// ist-bench compare: IST, local SGD and data parallel at S = 2, 4, 8 train the same MLP on the
// same Fashion-MNIST data for the same training-time budget; prints the talk's table (seconds to
// each target accuracy, final accuracy, bytes per round, total bytes), measured here and under a
// network model, and writes CSV, JSON and a PNG plot (gnuplot).
//
//   ist-bench compare            # 784 -> 4096 -> 4096 -> 10, all 60,000 training rows
//   ist-bench compare --quick    # 784 -> 512 -> 512 -> 10, 12,000 rows: under 2 minutes here
//   ist-bench compare --help
//   ist-bench --help
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "network_model.hpp"

namespace {

struct Config {
    bool quick = false;
    std::vector<std::size_t> hidden{4096, 4096};
    std::vector<std::size_t> workers{2, 4, 8};
    std::vector<double> targets{0.80, 0.84};
    std::size_t train_rows = 0, test_rows = 2000, local_steps = 20, dp_report_steps = 5, batch = 128;
    double budget = 60.0;  ///< training seconds per run (evaluation excluded)
    float lr = 0.05f;
    std::uint64_t seed = 42;
    std::string out = "bench-results";
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    Options cli("ist-bench", "Benchmarks of IST against its baselines.");
    cli.subcommand("compare",
                   "IST, local SGD and data parallel at S = 2, 4, 8 train the same MLP on the same Fashion-MNIST\n"
                   "data for the same training-time budget; prints seconds to each target accuracy, final\n"
                   "accuracy and bytes, measured here and under a network model; writes CSV, JSON and a PNG.");
    cli.flag("--quick", c.quick, "784-512-512-10 on 12,000 training rows, 6 s per run: < 2 minutes on 2 cores");
    cli.list("--hidden", c.hidden, kWidth, "W1,W2", "hidden widths (default 4096,4096: the talk's 2-layer Speech net)");
    cli.list("--workers", c.workers, kCount, "LIST", "S values (default 2,4,8)");
    cli.list("--targets", c.targets, kDouble, "LIST", "target test accuracies (default 0.80,0.84)");
    cli.value("--budget", c.budget, kDouble, "SEC", "training seconds per run, the same for every method (default 60)");
    cli.value("--local-steps", c.local_steps, kCount, "L", "local steps per round, IST and local SGD (default 20)");
    cli.value("--dp-report", c.dp_report_steps, kCount, "K",
              "data parallel all-reduces every step; it reports (and is evaluated)\n"
              "every K steps (default 5)");
    cli.value("--batch", c.batch, kCount, "B", "mini-batch per worker (default 128)");
    cli.value("--lr", c.lr, kFloat, "X", "SGD learning rate, every method (default 0.05)");
    cli.value("--train-rows", c.train_rows, kCount, "N", "first N training rows (default all 60,000)");
    cli.value("--test-rows", c.test_rows, kCount, "N", "first N test rows used for evaluation (default 2000)");
    cli.value("--seed", c.seed, kCount, "N", "seed of initialisation, partitions and sampling (default 42)");
    cli.text("--out", c.out, "DIR", "where CSV / JSON / PNG go (default bench-results)");
    cli.parse(argc, argv);
    if (c.quick) {
        if (!cli.given("--hidden")) c.hidden = {512, 512};
        if (!cli.given("--budget")) c.budget = 6.0;
        if (!cli.given("--train-rows")) c.train_rows = 12000;
    }
    std::sort(c.targets.begin(), c.targets.end());
    return c;
}

// ---------------------------------------------------------------------------------------------
// The network model: bench/network_model.hpp.
using ist_bench::kModelText;

enum class Method { Ist, LocalSgd, DataParallel };
const char* method_name(Method m) {
    return m == Method::Ist ? "IST" : m == Method::LocalSgd ? "local SGD" : "data parallel";
}
const char* method_slug(Method m) {
    return m == Method::Ist ? "ist" : m == Method::LocalSgd ? "local-sgd" : "data-parallel";
}

struct Run {
    Method method{};
    std::size_t S = 0, local_steps = 0;  ///< steps per round (a reporting interval for data parallel)
    std::vector<ist::RoundMetrics> history;
    std::vector<double> wall_to_target;                  ///< < 0: not reached
    std::vector<std::vector<double>> model_to_target;    ///< [link][target]
    std::vector<double> model_total;                     ///< [link] modelled time of the whole run
    double final_accuracy = 0.0, best_accuracy = 0.0;
    std::uint64_t bytes_per_round = 0, total_bytes = 0;
    std::string log;
};

const double kLinks[] = {1e9 / 8, 10e9 / 8};  // bytes per second
const char* kLinkNames[] = {"1 Gbit/s", "10 Gbit/s"};

ist_bench::Exchange exchange_of(Method method) {
    return method == Method::DataParallel ? ist_bench::Exchange::RingAllReduce : ist_bench::Exchange::ParameterNode;
}

/// Stops a run when its training-time budget is spent.
struct Budget {
    double seconds;
    bool on_round_end(const ist::RoundMetrics& m) const { return m.seconds >= seconds; }
};

/// One StopAtAccuracy per target, recording when each was reached without stopping the run
/// (every method trains for the same budget, so final accuracies compare).
struct TargetTimes {
    std::vector<ist::StopAtAccuracy> stops;
    bool on_round_end(const ist::RoundMetrics& m) {
        for (auto& s : stops) s.on_round_end(m);
        return false;
    }
};

template <class Trainer>
Run train_one(Trainer& trainer, Method method, std::size_t S, const Config& c, const ist::Dataset& train,
              const ist::Dataset& test) {
    Run run;
    run.method = method;
    run.S = S;
    run.local_steps = trainer.options().local_steps;
    run.log = c.out + "/" + std::string(method_slug(method)) + "-S" + std::to_string(S) + ".csv";
    TargetTimes targets;
    for (double t : c.targets) targets.stops.emplace_back(t);
    ist::MetricsLog log(run.log);
    const ist::TrainResult result = trainer.train(train, test, log, Budget{c.budget}, targets);
    run.history = result.history;
    for (auto& s : targets.stops) run.wall_to_target.push_back(s.reached() ? s.seconds() : -1.0);
    run.final_accuracy = result.final_test ? result.final_test->accuracy : 0.0;
    for (const auto& m : run.history)
        if (m.test) run.best_accuracy = std::max(run.best_accuracy, m.test->accuracy);
    run.bytes_per_round = run.history.front().bytes;
    run.total_bytes = run.history.back().total_bytes;

    const double compute_share = ist_bench::compute_share(S);
    for (double beta : kLinks) {
        std::vector<double> reached(c.targets.size(), -1.0);
        double t = 0.0;
        for (const auto& m : run.history) {
            t += m.round_seconds * compute_share + ist_bench::comm_seconds(exchange_of(method), S, run.local_steps, m.bytes, beta);
            for (std::size_t k = 0; k < c.targets.size(); ++k)
                if (reached[k] < 0 && m.test && m.test->accuracy >= c.targets[k]) reached[k] = t;
        }
        run.model_to_target.push_back(reached);
        run.model_total.push_back(t);
    }
    return run;
}

std::string seconds_cell(double s) {
    char buf[32];
    if (s < 0) return "-";
    std::snprintf(buf, sizeof buf, s < 10 ? "%.2f" : "%.1f", s);
    return buf;
}

std::string bytes_cell(std::uint64_t b) {
    char buf[32];
    const double v = static_cast<double>(b);
    if (v >= 1e9) std::snprintf(buf, sizeof buf, "%.2f GB", v / 1e9);
    else std::snprintf(buf, sizeof buf, "%.1f MB", v / 1e6);
    return buf;
}

/// One table: rows are targets x methods, columns S; `pick` gives the seconds of a run/target.
template <class Pick>
void print_time_table(std::ostream& out, const std::string& title, const Config& c, const std::vector<Run>& runs,
                      Pick&& pick) {
    out << "\n" << title << " (seconds to reach the target; '-' = not reached within the budget)\n";
    char line[256];
    std::snprintf(line, sizeof line, "  %-8s %-14s", "target", "method");
    out << line;
    for (std::size_t S : c.workers) out << "  " << std::string(8 - std::min<std::size_t>(8, std::to_string(S).size() + 2), ' ') << "S=" << S;
    out << '\n';
    for (std::size_t k = 0; k < c.targets.size(); ++k)
        for (Method m : {Method::DataParallel, Method::LocalSgd, Method::Ist}) {
            std::snprintf(line, sizeof line, "  %-8.2f %-14s", c.targets[k], method_name(m));
            out << line;
            for (std::size_t S : c.workers)
                for (const Run& r : runs)
                    if (r.method == m && r.S == S) {
                        std::snprintf(line, sizeof line, "  %8s", seconds_cell(pick(r, k)).c_str());
                        out << line;
                    }
            out << '\n';
        }
}

void print_report(std::ostream& out, const Config& c, const std::vector<Run>& runs, const std::string& setup) {
    out << setup;
    print_time_table(out, "(a) wall time measured here", c, runs, [](const Run& r, std::size_t k) { return r.wall_to_target[k]; });
    for (std::size_t link = 0; link < std::size(kLinks); ++link)
        print_time_table(out, std::string("(b) network model, ") + kLinkNames[link], c, runs,
                         [link](const Run& r, std::size_t k) { return r.model_to_target[link][k]; });
    out << '\n' << kModelText;
    out << "\nfinal test accuracy after the budget, bytes (all workers, sent + received; a data-parallel round is "
        << c.dp_report_steps << " steps)\n";
    char line[256];
    std::snprintf(line, sizeof line, "  %-14s %3s %8s %8s %7s %12s %12s\n", "method", "S", "final", "best", "rounds",
                  "bytes/round", "total bytes");
    out << line;
    for (Method m : {Method::DataParallel, Method::LocalSgd, Method::Ist})
        for (const Run& r : runs)
            if (r.method == m) {
                std::snprintf(line, sizeof line, "  %-14s %3zu %8.4f %8.4f %7zu %12s %12s\n", method_name(m), r.S,
                              r.final_accuracy, r.best_accuracy, r.history.size(), bytes_cell(r.bytes_per_round).c_str(),
                              bytes_cell(r.total_bytes).c_str());
                out << line;
            }
    // The headline ratios at S = 4 (or the middle S given).
    const std::size_t S = c.workers[c.workers.size() / 2];
    const Run *ist = nullptr, *local = nullptr, *dp = nullptr;
    for (const Run& r : runs)
        if (r.S == S) (r.method == Method::Ist ? ist : r.method == Method::LocalSgd ? local : dp) = &r;
    if (ist && local && dp) {
        out << "\nspeed-ups of IST at S = " << S << " (time to target of the baseline / IST's; '-' = one did not reach it)\n";
        for (std::size_t k = 0; k < c.targets.size(); ++k) {
            auto ratio = [](double base, double mine) {
                if (base < 0 || mine <= 0) return std::string("-");
                char b[32];
                std::snprintf(b, sizeof b, "x%.1f", base / mine);
                return std::string(b);
            };
            out << "  target " << c.targets[k] << ":  wall here vs local SGD " << ratio(local->wall_to_target[k], ist->wall_to_target[k])
                << ", vs data parallel " << ratio(dp->wall_to_target[k], ist->wall_to_target[k]);
            for (std::size_t link = 0; link < std::size(kLinks); ++link)
                out << ";  " << kLinkNames[link] << " vs local SGD "
                    << ratio(local->model_to_target[link][k], ist->model_to_target[link][k]) << ", vs data parallel "
                    << ratio(dp->model_to_target[link][k], ist->model_to_target[link][k]);
            out << '\n';
        }
    }
}

void write_summary(const Config& c, const std::vector<Run>& runs) {
    std::ofstream csv(c.out + "/summary.csv");
    csv << "method,S,target,wall_seconds,model_1gbit_seconds,model_10gbit_seconds,final_accuracy,best_accuracy,"
           "rounds,bytes_per_round,total_bytes\n";
    std::ofstream json(c.out + "/summary.json");
    json << "[\n";
    bool first = true;
    for (const Run& r : runs)
        for (std::size_t k = 0; k < c.targets.size(); ++k) {
            csv << method_slug(r.method) << ',' << r.S << ',' << c.targets[k] << ',' << r.wall_to_target[k] << ','
                << r.model_to_target[0][k] << ',' << r.model_to_target[1][k] << ',' << r.final_accuracy << ','
                << r.best_accuracy << ',' << r.history.size() << ',' << r.bytes_per_round << ',' << r.total_bytes << '\n';
            json << (first ? "  " : ",\n  ") << "{\"method\": \"" << method_slug(r.method) << "\", \"S\": " << r.S
                 << ", \"target\": " << c.targets[k] << ", \"wall_seconds\": " << r.wall_to_target[k]
                 << ", \"model_1gbit_seconds\": " << r.model_to_target[0][k]
                 << ", \"model_10gbit_seconds\": " << r.model_to_target[1][k]
                 << ", \"final_accuracy\": " << r.final_accuracy << ", \"best_accuracy\": " << r.best_accuracy
                 << ", \"rounds\": " << r.history.size() << ", \"bytes_per_round\": " << r.bytes_per_round
                 << ", \"total_bytes\": " << r.total_bytes << ", \"log\": \"" << r.log << "\"}";
            first = false;
        }
    json << "\n]\n";
}

/// accuracy.png: test accuracy against training wall time, one panel per S, three methods each.
void plot(const Config& c, const std::vector<Run>& runs) {
    const std::string script = c.out + "/accuracy.gp";
    std::ofstream gp(script);
    gp << "set terminal pngcairo size " << 480 * c.workers.size() << ",420\n"
       << "set output '" << c.out << "/accuracy.png'\n"
       << "set datafile separator ','\nset key bottom right\nset grid\n"
       << "set multiplot layout 1," << c.workers.size() << " title 'Fashion-MNIST, MLP 784";
    for (std::size_t h : c.hidden) gp << '-' << h;
    gp << "-10: test accuracy vs training wall time here'\n";
    for (std::size_t S : c.workers) {
        gp << "set title 'S = " << S << "'\nset xlabel 'seconds'\nset ylabel 'test accuracy'\n";
        gp << "set yrange [" << std::max(0.0, c.targets.front() - 0.15) << ":" << std::min(1.0, c.targets.back() + 0.06) << "]\n";
        gp << "plot ";
        bool first = true;
        for (Method m : {Method::Ist, Method::LocalSgd, Method::DataParallel})
            for (const Run& r : runs)
                if (r.method == m && r.S == S) {
                    gp << (first ? "" : ", ") << "'" << r.log << "' using 7:($4 > 0 ? $4 : 1/0) with linespoints title '"
                       << method_name(m) << "'";
                    first = false;
                }
        for (double t : c.targets) gp << ", " << t << " with lines dashtype 2 lc rgb 'gray' notitle";
        gp << '\n';
    }
    gp << "unset multiplot\n";
    gp.close();
    const std::string cmd = "gnuplot " + script;
    if (std::system(cmd.c_str()) != 0)
        std::cerr << "ist-bench: gnuplot failed or is missing (apt-get install gnuplot-nox); the data is in " << c.out << '\n';
}

int compare(const Config& c) {
    if (std::system(("mkdir -p '" + c.out + "'").c_str()) != 0) throw ist::DataError("cannot create " + c.out);
    auto [train, test] = ist::load_fashion_mnist();
    auto first_rows = [](const ist::Dataset& d, std::size_t n) {
        std::vector<std::uint32_t> rows(std::min(n, d.size()));
        std::iota(rows.begin(), rows.end(), 0u);
        return ist::subset(d, rows);
    };
    if (c.train_rows && c.train_rows < train.size()) train = first_rows(train, c.train_rows);
    if (c.test_rows && c.test_rows < test.size()) test = first_rows(test, c.test_rows);
    ist::standardize(train, test);

    const char* env = std::getenv("OPENBLAS_NUM_THREADS");
    std::ostringstream setup;
    setup << "ist-bench compare" << (c.quick ? " --quick (reduced: narrower net, fewer rows, shorter budget)" : "") << '\n'
          << "  data: Fashion-MNIST, " << train.size() << " training rows, " << test.size() << " test rows (standardised)\n"
          << "  model: MLP 784";
    for (std::size_t h : c.hidden) setup << " -> " << h;
    setup << " -> 10, Dense (no bias) -> BatchNorm -> ReLU, parameter-free BatchNorm on the logits\n"
          << "  training: plain SGD lr " << c.lr << ", batch " << c.batch << " per worker, l = " << c.local_steps
          << " (data parallel: all-reduce every step, evaluated every " << c.dp_report_steps
          << " steps), workers sample disjoint shards; every run trains " << c.budget << " s (evaluation excluded)\n"
          << "  threads: " << std::thread::hardware_concurrency() << " cores; OPENBLAS_NUM_THREADS="
          << (env ? env : "(unset)") << "; workers are threads, each with 1 OpenBLAS thread during a round; "
          << "evaluation uses " << (openblas_get_num_threads ? openblas_get_num_threads() : 0) << " OpenBLAS thread(s)\n";
    std::cout << setup.str() << std::flush;

    const ist::Network initial = ist::make_mlp({train.feature_count(), c.hidden, train.classes, ist::Norm::Batch, c.seed});
    std::vector<Run> runs;
    for (std::size_t S : c.workers)
        for (Method m : {Method::Ist, Method::LocalSgd, Method::DataParallel}) {
            ist::TrainerOptions o;
            o.workers = S;
            o.local_steps = m == Method::DataParallel ? c.dp_report_steps : c.local_steps;
            o.rounds = 1000000;  // the budget stops the run
            o.batch_size = c.batch;
            o.seed = c.seed;
            o.eval_every = 1;
            ist::Network net = initial;
            Run run;
            if (m == Method::Ist) {
                ist::IstTrainer<> t(net, o, ist::NeuronPartition{}, ist::Sgd(c.lr));
                run = train_one(t, m, S, c, train, test);
            } else if (m == Method::LocalSgd) {
                ist::LocalSgdTrainer<> t(net, o, ist::FullModel{}, ist::Sgd(c.lr));
                run = train_one(t, m, S, c, train, test);
            } else {
                ist::DataParallelTrainer<> t(net, o, ist::FullModel{}, ist::Sgd(c.lr));
                run = train_one(t, m, S, c, train, test);
            }
            std::printf("  %-14s S=%zu: %zu rounds, final accuracy %.4f, to targets (s):", method_name(m), S,
                        run.history.size(), run.final_accuracy);
            for (double s : run.wall_to_target) std::printf(" %s", seconds_cell(s).c_str());
            std::printf("\n");
            std::fflush(stdout);
            runs.push_back(std::move(run));
        }
    std::ostringstream report;
    print_report(report, c, runs, setup.str());
    std::cout << report.str().substr(setup.str().size());
    std::ofstream(c.out + "/report.txt") << report.str();
    write_summary(c, runs);
    plot(c, runs);
    std::cout << "\nwrote " << c.out << "/{report.txt,summary.csv,summary.json,accuracy.png} and one per-round CSV per run\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-bench", [&] { return compare(parse(argc, argv)); });
}
