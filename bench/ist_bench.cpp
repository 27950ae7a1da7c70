// ist-bench compare: IST, local SGD and data parallel at S = 2, 4, 8 train the same MLP on the
// same Fashion-MNIST data for the same training-time budget; prints the talk's table (seconds to
// each target accuracy, final accuracy, bytes per round, total bytes), measured here and under a
// network model, and writes CSV, JSON and a PNG plot (gnuplot).
//
//   ist-bench compare            # 784 -> 4096 -> 4096 -> 10 (3-layer: two hidden layers of 4096), all 60,000 rows
//   ist-bench compare --quick    # 784 -> 512 -> 512 -> 10, 12,000 rows: under 2 minutes here
//   ist-bench compare --quick --workers 4 --link 100M,10M --ist-codecs fp32,q8 --code-updates
//   ist-bench compare --help
//   ist-bench talk               # the talk's tables row for row: bench/talk_tables.hpp
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
#include "training_options.hpp"
#include "codec_options.hpp"
#include "network_model.hpp"
#include "talk_presets.hpp"
#include "talk_tables.hpp"
#include "scale_model.hpp"

namespace {

struct Config {
    bool quick = false, whole_set = false;
    std::vector<std::size_t> hidden{4096, 4096};
    std::vector<std::size_t> workers{2, 4, 8};
    std::vector<double> targets{0.80, 0.84};
    std::size_t train_rows = 0, test_rows = 2000, local_steps = 20, dp_report_steps = 5, batch = 128;
    double budget = 60.0;  ///< training seconds per run (evaluation excluded)
    float lr = 0.05f;
    std::uint64_t seed = 42;
    std::string out = "bench-results";
    std::vector<ist_bench::Link> links = ist_bench::parse_links("1G,10G");
    std::vector<std::string> ist_codecs{"fp32"};  ///< one IST row per codec
    ist::cli::CodecOptions coding;                 ///< --code-updates / --error-feedback of the lossy rows
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    PresetArguments args(argc, argv, ist_bench::kReferencePresets, 2);
    Options cli("ist-bench", "Benchmarks of IST against its baselines.");
    cli.subcommand("compare",
                   "IST, local SGD and data parallel at S = 2, 4, 8 train the same MLP on the same Fashion-MNIST\n"
                   "data for the same training-time budget; prints seconds to each target accuracy, final\n"
                   "accuracy and bytes, measured here and under a network model; writes CSV, JSON and a PNG.");
    add_preset_option(cli, ist_bench::kReferencePresets);
    cli.flag("--whole-set", c.whole_set, "every worker samples the whole training set (default: disjoint shards)");
    cli.flag("--quick", c.quick, "784-512-512-10 on 12,000 training rows, 6 s per run: < 2 minutes on 2 cores");
    cli.list("--hidden", c.hidden, kWidth, "W1,W2", "hidden widths (default 4096,4096: the talk's 3-layer net, two hidden layers)");
    TrainingOptions training(cli);
    training.workers(c.workers);
    cli.list("--targets", c.targets, kDouble, "LIST", "target test accuracies (default 0.80,0.84)");
    cli.value("--budget", c.budget, kDouble, "SEC", "training seconds per run, the same for every method (default 60)");
    training.local_steps(c.local_steps, "local steps per round, IST and local SGD");
    cli.value("--dp-report", c.dp_report_steps, kCount, "K",
              "data parallel all-reduces every step; it reports (and is evaluated)\n"
              "every K steps (default 5)");
    training.batch(c.batch);
    training.lr(c.lr, "SGD learning rate, every method");
    cli.value("--train-rows", c.train_rows, kCount, "N", "first N training rows (default all 60,000)");
    cli.value("--test-rows", c.test_rows, kCount, "N", "first N test rows used for evaluation (default 2000)");
    training.seed(c.seed);
    cli.text("--out", c.out, "DIR", "where CSV / JSON / PNG go (default bench-results)");
    std::string links;
    cli.text("--link", links, "LIST",
             "link speeds of the network model, bits per second with a K, M or G suffix\n"
             "(default 1G,10G; e.g. 100M,10M for federated links)");
    cli.list("--ist-codecs", c.ist_codecs, kName, "LIST",
             "one IST row per codec of the exchange: fp32 (default) | fp16 | bf16 |\n"
             "q8 .. q2 (e.g. fp32,q8)");
    cli.flag("--code-updates", c.coding.code_updates, "lossy IST rows send trained minus received weights");
    cli.flag("--error-feedback", c.coding.error_feedback, "lossy IST rows add their last coding residual (needs --code-updates)");
    cli.parse(args.argc(), args.argv());
    if (cli.given("--link")) c.links = ist_bench::parse_links(links);
    for (const std::string& codec : c.ist_codecs) try {
            ist::AnyCodec::parse(codec);  // refuses unknown names before any training
        } catch (const ist::ConfigError& e) {
            throw ist::ConfigError(std::string("--ist-codecs: ") + e.what());
        }
    if (c.coding.error_feedback && !c.coding.code_updates) throw ist::ConfigError("--error-feedback needs --code-updates");
    if (c.quick) {
        if (!cli.given("--hidden")) c.hidden = {512, 512};
        if (!cli.given("--budget")) c.budget = 6.0;
        if (!cli.given("--train-rows")) c.train_rows = 12000;
    }
    std::sort(c.targets.begin(), c.targets.end());
    return c;
}

// ---------------------------------------------------------------------------------------------
// The network model: support/network_model.hpp.
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
    std::string codec = "fp32";          ///< IST's exchange codec
    std::string name() const { return method == Method::Ist && codec != "fp32" ? "IST " + codec : method_name(method); }
    std::string slug() const { return method == Method::Ist && codec != "fp32" ? "ist-" + codec : method_slug(method); }
    std::size_t S = 0, local_steps = 0;  ///< steps per round (a reporting interval for data parallel)
    std::vector<ist::RoundMetrics> history;
    std::vector<double> wall_to_target;                  ///< < 0: not reached
    std::vector<std::vector<double>> model_to_target;    ///< [link][target]
    std::vector<double> model_total;                     ///< [link] modelled time of the whole run
    double final_accuracy = 0.0, best_accuracy = 0.0;
    std::uint64_t bytes_per_round = 0, total_bytes = 0;
    std::string log;
};

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
Run train_one(Trainer& trainer, Run run, const Config& c, const ist::Dataset& train, const ist::Dataset& test) {
    const Method method = run.method;
    const std::size_t S = run.S;
    run.local_steps = trainer.options().local_steps;
    run.log = c.out + "/" + run.slug() + "-S" + std::to_string(S) + ".csv";
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

    for (const ist_bench::Link& link : c.links) {
        const std::vector<double> ends =
            ist_bench::modelled_timeline(run.history, exchange_of(method), S, run.local_steps, link.bytes_per_second);
        std::vector<double> reached(c.targets.size(), -1.0);
        for (std::size_t r = 0; r < run.history.size(); ++r)
            for (std::size_t k = 0; k < c.targets.size(); ++k)
                if (reached[k] < 0 && run.history[r].test && run.history[r].test->accuracy >= c.targets[k]) reached[k] = ends[r];
        run.model_to_target.push_back(reached);
        run.model_total.push_back(ends.back());
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

/// The table rows in print order: data parallel, local SGD, then one IST row per codec.
std::vector<Run> row_kinds(const Config& c) {
    std::vector<Run> rows(2);
    rows[0].method = Method::DataParallel;
    rows[1].method = Method::LocalSgd;
    for (const std::string& codec : c.ist_codecs) {
        rows.emplace_back();
        rows.back().method = Method::Ist;
        rows.back().codec = codec;
    }
    return rows;
}

/// The order runs are trained and plotted in: the IST rows, local SGD, data parallel.
std::vector<Run> run_order(const Config& c) {
    std::vector<Run> kinds = row_kinds(c);
    std::rotate(kinds.begin(), kinds.begin() + 2, kinds.end());
    std::swap(kinds[kinds.size() - 2], kinds.back());
    return kinds;
}

const Run* find_run(const std::vector<Run>& runs, const std::string& name, std::size_t S) {
    for (const Run& r : runs)
        if (r.name() == name && r.S == S) return &r;
    return nullptr;
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
        for (const Run& kind : row_kinds(c)) {
            std::snprintf(line, sizeof line, "  %-8.2f %-14s", c.targets[k], kind.name().c_str());
            out << line;
            for (std::size_t S : c.workers)
                if (const Run* r = find_run(runs, kind.name(), S)) {
                    std::snprintf(line, sizeof line, "  %8s", seconds_cell(pick(*r, k)).c_str());
                    out << line;
                }
            out << '\n';
        }
}

void print_totals(std::ostream& out, const Config& c, const std::vector<Run>& runs) {
    out << "\nfinal test accuracy after the budget, bytes (all workers, sent + received; a data-parallel round is "
        << c.dp_report_steps << " steps)\n";
    char line[256];
    std::snprintf(line, sizeof line, "  %-14s %3s %8s %8s %7s %12s %12s\n", "method", "S", "final", "best", "rounds",
                  "bytes/round", "total bytes");
    out << line;
    for (const Run& kind : row_kinds(c))
        for (const Run& r : runs)
            if (r.name() == kind.name()) {
                std::snprintf(line, sizeof line, "  %-14s %3zu %8.4f %8.4f %7zu %12s %12s\n", r.name().c_str(), r.S,
                              r.final_accuracy, r.best_accuracy, r.history.size(), bytes_cell(r.bytes_per_round).c_str(),
                              bytes_cell(r.total_bytes).c_str());
                out << line;
            }
}

std::string ratio_cell(double base, double mine) {
    if (base < 0 || mine <= 0) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "x%.1f", base / mine);
    return b;
}

/// The headline ratios of one IST row against the baselines at its S.
void print_speedups(std::ostream& out, const Config& c, const Run& ist, const Run& local, const Run& dp) {
    out << "\nspeed-ups of " << ist.name() << " at S = " << ist.S
        << " (time to target of the baseline / IST's; '-' = one did not reach it)\n";
    for (std::size_t k = 0; k < c.targets.size(); ++k) {
        out << "  target " << c.targets[k] << ":  wall here vs local SGD " << ratio_cell(local.wall_to_target[k], ist.wall_to_target[k])
            << ", vs data parallel " << ratio_cell(dp.wall_to_target[k], ist.wall_to_target[k]);
        for (std::size_t link = 0; link < c.links.size(); ++link)
            out << ";  " << c.links[link].name << " vs local SGD "
                << ratio_cell(local.model_to_target[link][k], ist.model_to_target[link][k]) << ", vs data parallel "
                << ratio_cell(dp.model_to_target[link][k], ist.model_to_target[link][k]);
        out << '\n';
    }
}

/// Bytes exchanged until the first evaluation at or above `accuracy` (< 0: never reached).
double bytes_to(const Run& r, double accuracy) {
    for (const auto& m : r.history)
        if (m.test && m.test->accuracy >= accuracy) return static_cast<double>(m.total_bytes);
    return -1.0;
}

/// The byte target: how many bytes each IST row needs to reach local SGD's final accuracy,
/// against what local SGD itself exchanged to get there.
void print_bytes_to_local(std::ostream& out, const std::vector<const Run*>& ist_rows, const Run& local) {
    const double target = local.final_accuracy, base = bytes_to(local, target);
    char line[256];
    std::snprintf(line, sizeof line, "\nbytes to local SGD's final accuracy %.4f at S = %zu (local SGD: %s)\n", target,
                  local.S, base < 0 ? "-" : bytes_cell(static_cast<std::uint64_t>(base)).c_str());
    out << line;
    for (const Run* ist : ist_rows) {
        const double mine = bytes_to(*ist, target);
        std::snprintf(line, sizeof line, "  %-14s %12s  (%s fewer bytes than local SGD)\n", ist->name().c_str(),
                      mine < 0 ? "not reached" : bytes_cell(static_cast<std::uint64_t>(mine)).c_str(),
                      ratio_cell(base, mine).c_str());
        out << line;
    }
}

void print_report(std::ostream& out, const Config& c, const std::vector<Run>& runs, const std::string& setup) {
    out << setup;
    print_time_table(out, "(a) wall time measured here", c, runs, [](const Run& r, std::size_t k) { return r.wall_to_target[k]; });
    for (std::size_t link = 0; link < c.links.size(); ++link)
        print_time_table(out, "(b) network model, " + c.links[link].name, c, runs,
                         [link](const Run& r, std::size_t k) { return r.model_to_target[link][k]; });
    out << '\n' << kModelText;
    print_totals(out, c, runs);
    // The headline ratios at S = 4 (or the middle S given).
    const std::size_t S = c.workers[c.workers.size() / 2];
    const Run* local = find_run(runs, method_name(Method::LocalSgd), S);
    const Run* dp = find_run(runs, method_name(Method::DataParallel), S);
    if (!local || !dp) return;
    std::vector<const Run*> ist_rows;
    for (const Run& kind : row_kinds(c))
        if (kind.method == Method::Ist)
            if (const Run* ist = find_run(runs, kind.name(), S)) ist_rows.push_back(ist);
    for (const Run* ist : ist_rows) print_speedups(out, c, *ist, *local, *dp);
    print_bytes_to_local(out, ist_rows, *local);
}

void write_summary(const Config& c, const std::vector<Run>& runs) {
    std::ofstream csv(c.out + "/summary.csv");
    csv << "method,S,target,wall_seconds,";
    for (const auto& link : c.links) csv << "model_" << link.slug << "_seconds,";
    csv << "final_accuracy,best_accuracy,rounds,bytes_per_round,total_bytes\n";
    std::ofstream json(c.out + "/summary.json");
    json << "[\n";
    bool first = true;
    for (const Run& r : runs)
        for (std::size_t k = 0; k < c.targets.size(); ++k) {
            csv << r.slug() << ',' << r.S << ',' << c.targets[k] << ',' << r.wall_to_target[k] << ',';
            json << (first ? "  " : ",\n  ") << "{\"method\": \"" << r.slug() << "\", \"S\": " << r.S
                 << ", \"target\": " << c.targets[k] << ", \"wall_seconds\": " << r.wall_to_target[k];
            for (std::size_t link = 0; link < c.links.size(); ++link) {
                csv << r.model_to_target[link][k] << ',';
                json << ", \"model_" << c.links[link].slug << "_seconds\": " << r.model_to_target[link][k];
            }
            csv << r.final_accuracy << ',' << r.best_accuracy << ',' << r.history.size() << ',' << r.bytes_per_round
                << ',' << r.total_bytes << '\n';
            json << ", \"final_accuracy\": " << r.final_accuracy << ", \"best_accuracy\": " << r.best_accuracy
                 << ", \"rounds\": " << r.history.size() << ", \"bytes_per_round\": " << r.bytes_per_round
                 << ", \"total_bytes\": " << r.total_bytes << ", \"log\": \"" << r.log << "\"}";
            first = false;
        }
    json << "\n]\n";
}

/// accuracy.png: test accuracy against training wall time, one panel per S, every method each.
void plot(const Config& c, const std::vector<Run>& runs) {
    const std::string script = c.out + "/accuracy.gp";
    std::ofstream gp(script);
    gp << "set terminal pngcairo size " << 480 * c.workers.size() << ",420\n"
       << "set output '" << c.out << "/accuracy.png'\n"
       << "set datafile separator ','\nset key bottom right\nset grid\n"
       << "set multiplot layout 1," << c.workers.size() << " title 'Fashion-MNIST, MLP 784";
    for (std::size_t h : c.hidden) gp << '-' << h;
    gp << "-10: test accuracy vs training wall time here'\n";
    const std::vector<Run> kinds = run_order(c);
    for (std::size_t S : c.workers) {
        gp << "set title 'S = " << S << "'\nset xlabel 'seconds'\nset ylabel 'test accuracy'\n";
        gp << "set yrange [" << std::max(0.0, c.targets.front() - 0.15) << ":" << std::min(1.0, c.targets.back() + 0.06) << "]\n";
        gp << "plot ";
        bool first = true;
        for (const Run& kind : kinds)
            if (const Run* r = find_run(runs, kind.name(), S)) {
                gp << (first ? "" : ", ") << "'" << r->log << "' using 7:($4 > 0 ? $4 : 1/0) with linespoints title '"
                   << r->name() << "'";
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

/// Trains one row's method at S workers from `initial`.
Run run_row(const Config& c, Run row, std::size_t S, const ist::Network& initial, const ist::Dataset& train,
            const ist::Dataset& test) {
    ist::TrainerOptions o;
    o.workers = S;
    o.local_steps = row.method == Method::DataParallel ? c.dp_report_steps : c.local_steps;
    o.rounds = 1000000;  // the budget stops the run
    o.batch_size = c.batch;
    o.seed = c.seed;
    o.eval_every = 1;
    if (c.whole_set) o.sampling = ist::Sampling::WholeSet;
    row.S = S;
    ist::Network net = initial;
    if (row.method == Method::Ist && row.codec != "fp32") {
        ist::cli::CodecOptions coding = c.coding;
        coding.codec = row.codec;
        coding.apply(o);
        ist::IstTrainer t(net, o, ist::NeuronPartition{}, ist::Sgd(c.lr), ist::HolderAverage{}, ist::ThreadsTransport{},
                          coding.make());
        return train_one(t, row, c, train, test);
    }
    if (row.method == Method::Ist) {
        ist::IstTrainer<> t(net, o, ist::NeuronPartition{}, ist::Sgd(c.lr));
        return train_one(t, row, c, train, test);
    }
    if (row.method == Method::LocalSgd) {
        ist::LocalSgdTrainer<> t(net, o, ist::FullModel{}, ist::Sgd(c.lr));
        return train_one(t, row, c, train, test);
    }
    ist::DataParallelTrainer<> t(net, o, ist::FullModel{}, ist::Sgd(c.lr));
    return train_one(t, row, c, train, test);
}

int compare(const Config& c) {
    if (std::system(("mkdir -p '" + c.out + "'").c_str()) != 0) throw ist::DataError("cannot create " + c.out);
    auto [train, test] = ist_bench::fashion_rows(c.train_rows, c.test_rows);

    const char* env = std::getenv("OPENBLAS_NUM_THREADS");
    std::ostringstream setup;
    setup << "ist-bench compare" << (c.quick ? " --quick (reduced: narrower net, fewer rows, shorter budget)" : "") << '\n'
          << "  data: Fashion-MNIST, " << train.size() << " training rows, " << test.size() << " test rows (standardised)\n"
          << "  model: MLP 784";
    for (std::size_t h : c.hidden) setup << " -> " << h;
    setup << " -> 10, Dense (no bias) -> BatchNorm -> ReLU, parameter-free BatchNorm on the logits\n"
          << "  training: plain SGD lr " << c.lr << ", batch " << c.batch << " per worker, l = " << c.local_steps
          << " (data parallel: all-reduce every step, evaluated every " << c.dp_report_steps
          << " steps), workers sample " << (c.whole_set ? "the whole training set" : "disjoint shards") << "; every run trains " << c.budget << " s (evaluation excluded)\n"
          << "  threads: " << std::thread::hardware_concurrency() << " cores; OPENBLAS_NUM_THREADS="
          << (env ? env : "(unset)") << "; workers are threads, each with 1 OpenBLAS thread during a round; "
          << "evaluation uses " << (openblas_get_num_threads ? openblas_get_num_threads() : 0) << " OpenBLAS thread(s)\n";
    if (c.ist_codecs.size() > 1 || c.ist_codecs[0] != "fp32") {
        setup << "  IST rows: codecs";
        for (const std::string& codec : c.ist_codecs) setup << ' ' << codec;
        setup << " (lossy ones code " << (c.coding.code_updates ? "updates" : "weights")
              << (c.coding.error_feedback ? " with error feedback" : "") << ")\n";
    }
    std::cout << setup.str() << std::flush;

    const ist::Network initial = ist::make_mlp({train.feature_count(), c.hidden, train.classes, ist::Norm::Batch, c.seed});
    std::vector<Run> runs;
    const std::vector<Run> kinds = run_order(c);
    for (std::size_t S : c.workers)
        for (const Run& kind : kinds) {
            Run run = run_row(c, kind, S, initial, train, test);
            std::printf("  %-14s S=%zu: %zu rounds, final accuracy %.4f, to targets (s):", run.name().c_str(), S,
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
    if (argc > 1 && std::string(argv[1]) == "talk") return ist_bench::talk_main(argc, argv);  // bench/talk_tables.hpp
    if (argc > 1 && std::string(argv[1]) == "scale") return ist::cli::run_main("ist-bench", [&] { return ist_bench::scale::run(argc, argv); });
    return ist::cli::run_main("ist-bench", [&] { return compare(parse(argc, argv)); });
}
