#pragma once
// ist-bench talk, the runs (bench/talk_tables.hpp prints them): our analogue of the talk's tables (IST: Yuan et al. 2019 / the IST talk), row for
// row. The talk's "2-layer" network has ONE hidden layer and its "3-layer" network two; here both
// are trained on Fashion-MNIST (784 inputs, 10 classes) at S = 2 / 4 / 8 by data parallel, local
// SGD and IST, several seeds each, for the same number of rounds of l local steps (data parallel:
// l all-reduced steps per round, so every method sees the same samples per worker). Printed: the
// seconds to two targets measured here and under the network model (support/network_model.hpp), the
// final accuracies (mean and standard deviation over seeds), and the talk's own numbers and ratios
// beside ours (bench/talk_reference.hpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/detail/gemm.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "training_options.hpp"
#include "network_model.hpp"
#include "preset.hpp"
#include "talk_converge.hpp"
#include "talk_presets.hpp"
#include "talk_reference.hpp"

namespace ist_bench {

/// Fashion-MNIST: its first `train_rows` training and `test_rows` test rows (0: all), standardised
/// by the training rows' statistics (ist-bench compare and talk).
/// Rows [begin, end) of `d`.
inline ist::Dataset row_range(const ist::Dataset& d, std::size_t begin, std::size_t end) {
    std::vector<std::uint32_t> rows(end - begin);
    std::iota(rows.begin(), rows.end(), static_cast<std::uint32_t>(begin));
    return ist::subset(d, rows);
}

inline std::pair<ist::Dataset, ist::Dataset> fashion_rows(std::size_t train_rows, std::size_t test_rows) {
    auto [train, test] = ist::load_fashion_mnist();
    if (train_rows && train_rows < train.size()) train = row_range(train, 0, train_rows);
    if (test_rows && test_rows < test.size()) test = row_range(test, 0, test_rows);
    ist::standardize(train, test);
    return {std::move(train), std::move(test)};
}

}  // namespace ist_bench

namespace ist_bench::talk {

struct TalkConfig {
    std::vector<std::size_t> nets{1, 2};  ///< hidden layers: 1 = the talk's "2-layer", 2 = its "3-layer"
    std::size_t width = 4096;
    std::vector<std::size_t> workers{2, 4, 8};
    std::vector<double> targets{0.80, 0.84};  ///< paired, in order, with the talk's 0.63 and 0.75
    std::size_t seeds = 3, rounds = 40, local_steps = 20, batch = 128, train_rows = 0, test_rows = 2000;
    std::size_t epochs = 0;           ///< > 0: train to convergence, IST_Release's epochs (talk_converge.hpp)
    std::size_t validation_rows = 0;  ///< the last training rows, held out to choose the reported model
    float lr = 0.05f;
    std::uint64_t seed = 42;
    bool whole_set = false, bytes = false, show_config = false;
    std::vector<Link> links = parse_links("1G,10G");
    std::string runs;  ///< the journal of finished runs (bench/talk_journal.hpp); empty: none
    /// Every GEMM of the runs (--gemm); a journal keeps each backend's runs apart, as their sums differ.
    ist::detail::GemmBackend gemm = ist::detail::kConfiguredGemmBackend;
};

inline TalkConfig parse_talk(int argc, char** argv) {
    using namespace ist::cli;
    TalkConfig c;
    PresetArguments args(argc, argv, kReferencePresets, 2);
    Options cli("ist-bench", "Benchmarks of IST against its baselines.");
    cli.subcommand("talk",
                   "The talk's tables row for row on Fashion-MNIST: the 2-layer (one hidden layer) and 3-layer (two\n"
                   "hidden layers) nets at S = 2, 4, 8 for data parallel, local SGD and IST, several seeds; seconds\n"
                   "to two targets here and under a network model, final accuracies, the talk's numbers beside.");
    add_preset_option(cli, kReferencePresets);
    cli.flag("--show-config", c.show_config, "print the resolved settings (presets applied) and exit");
    cli.flag("--bytes", c.bytes, "print the ResNet101 bytes-per-round table (local SGD, ResIST) and exit");
    cli.list("--nets", c.nets, kPositive, "LIST", "hidden layers of each net: 1 = the talk's 2-layer, 2 = its 3-layer (default 1,2)");
    cli.value("--width", c.width, kWidth, "W", "width of every hidden layer (default 4096, the reference code's)");
    TrainingOptions training(cli);
    training.workers(c.workers);
    cli.list("--targets", c.targets, kDouble, "LIST", "two target test accuracies (default 0.80,0.84)");
    cli.value("--seeds", c.seeds, kPositive, "N", "runs per cell, seeds --seed, --seed + 1, ... (default 3)");
    training.rounds(c.rounds, "rounds of every run");
    training.local_steps(c.local_steps, "local steps per round; data parallel's steps per round");
    training.batch(c.batch);
    training.lr(c.lr, "plain SGD learning rate, every method");
    cli.flag("--whole-set", c.whole_set, "every worker samples the whole training set (default: disjoint shards)");
    cli.value("--train-rows", c.train_rows, kCount, "N", "first N training rows (default all 60,000)");
    cli.value("--test-rows", c.test_rows, kCount, "N", "first N test rows used for evaluation (default 2000; all with --epochs)");
    cli.value("--epochs", c.epochs, kPositive, "E",
              "train to convergence: E epochs as IST_Release counts them (2-layer: each worker takes\n"
              "rows / batch / S batches per epoch; 3-layer: E x S such epochs), evaluated every epoch;\n"
              "prints the table at convergence instead of the accuracies after --rounds");
    cli.value("--validation-rows", c.validation_rows, kCount, "N",
              "with --epochs: hold the last N training rows out of training and report the model\n"
              "chosen on them (default 0: the last model)");
    training.seed(c.seed, "first seed");
    std::string links;
    cli.text("--link", links, "LIST", "link speeds of the network model (default 1G,10G)");
    cli.text("--runs", c.runs, "FILE",
             "journal of finished runs (CSV, appended run by run): runs it holds under the same\n"
             "settings are not run again, so a long table can be built in several sittings");
    cli.value("--gemm", c.gemm, kGemmBackendRule, "NAME",
              std::string("GEMM backend of every run: openblas or onednn (default: this build's, ") +
                  ist::detail::gemm_backend_name(c.gemm) + "); part of a\njournal's settings, so each backend's runs stay apart");
    cli.parse(args.argc(), args.argv());
    if (cli.given("--link")) c.links = parse_links(links);
    ist::detail::check_gemm_backend_built(c.gemm, "--gemm: ");
    refuse_ignored(cli, "--rounds", c.epochs > 0, "with --epochs the rounds follow from the epochs");
    refuse_ignored(cli, "--validation-rows", c.epochs == 0, "it chooses among the evaluations of --epochs");
    refuse_ignored(cli, "--epochs", c.bytes, "--bytes trains nothing");
    refuse_ignored(cli, "--gemm", c.bytes, "--bytes trains nothing");
    if (c.epochs && !cli.given("--test-rows")) c.test_rows = 0;  // at convergence: the whole test set
    if (c.targets.size() != 2) throw ist::ConfigError("--targets: give two accuracies (the talk's tables have two)");
    for (std::size_t n : c.nets)
        if (n > 2) throw ist::ConfigError("--nets: " + std::to_string(n) + " hidden layers; the talk's nets have 1 or 2");
    return c;
}

enum class Method { DataParallel, LocalSgd, Ist };
inline constexpr Method kMethods[] = {Method::DataParallel, Method::LocalSgd, Method::Ist};
inline const char* method_name(Method m) {
    return m == Method::Ist ? "IST" : m == Method::LocalSgd ? "local SGD" : "data parallel";
}

/// The honest name of a net: "2-layer (one hidden layer of 4096)".
inline std::string net_name(std::size_t hidden_layers, std::size_t width) {
    return std::to_string(hidden_layers + 1) + "-layer (" + (hidden_layers == 1 ? "one hidden layer" : "two hidden layers") +
           " of " + std::to_string(width) + ")";
}

/// What one run reached: seconds to each target (< 0: not reached), on each clock.
struct Outcome {
    std::vector<std::vector<double>> to_target;  ///< [clock][target]; clock 0 = here, then one per link
    double final_accuracy = 0.0;
    double load_at_start = -1.0;  ///< the machine's 1-minute load average when the run began
    std::optional<Convergence> convergence;  ///< --epochs runs only
};

/// The rows of the runs: training rows (the validation rows cut off their end), validation rows,
/// test rows, and the training sample on which the training loss and accuracy are measured; all
/// standardised by the training rows' statistics.
struct TalkData {
    ist::Dataset train, validation, test, train_sample;
};

inline TalkData talk_data(const TalkConfig& c) {
    auto [train, test] = ist::load_fashion_mnist();
    const std::size_t available = c.train_rows ? std::min(c.train_rows, train.size()) : train.size();
    if (c.validation_rows >= available)
        throw ist::ConfigError("--validation-rows " + std::to_string(c.validation_rows) + " leaves none of the " +
                               std::to_string(available) + " training rows to train on");
    const std::size_t trained = available - c.validation_rows;
    if (c.epochs) {
        for (std::size_t S : c.workers)
            if (trained / c.batch / S == 0)
                throw ist::ConfigError("--epochs: " + std::to_string(trained) + " training rows give no batch of " +
                                       std::to_string(c.batch) + " per worker per epoch at S = " + std::to_string(S));
    }
    TalkData d{row_range(train, 0, trained), row_range(train, trained, available),
               row_range(test, 0, c.test_rows ? std::min(c.test_rows, test.size()) : test.size()), {}};
    const ist::Standardization by_training_rows(d.train);
    for (ist::Dataset* part : {&d.train, &d.validation, &d.test}) by_training_rows.apply(*part);
    d.train_sample = row_range(d.train, 0, std::min(kTrainSampleRows, d.train.size()));
    return d;
}

inline EpochPlan epoch_plan(const TalkConfig& c, std::size_t hidden_layers, std::size_t S, std::size_t train_rows) {
    return epoch_plan(hidden_layers, S, c.epochs, train_rows, c.batch, c.local_steps);
}

/// Seconds from the start to the end of each round of `history`, on every clock.
inline std::vector<std::vector<double>> clocks(const TalkConfig& c, const std::vector<ist::RoundMetrics>& history,
                                               Method m, std::size_t S) {
    std::vector<std::vector<double>> out(1);
    for (const auto& r : history) out[0].push_back(r.seconds);
    const Exchange exchange = m == Method::DataParallel ? Exchange::RingAllReduce : Exchange::ParameterNode;
    for (const Link& link : c.links)
        out.push_back(modelled_timeline(history, exchange, S, c.local_steps, link.bytes_per_second));
    return out;
}

template <class Trainer>
Outcome outcome_of(const TalkConfig& c, Trainer& trainer, Method m, std::size_t S, const TalkData& data,
                   const std::string& label) {
    EpochLog log(data.train_sample, data.validation, label);
    const ist::TrainResult r = c.epochs ? trainer.train(data.train, data.test, log) : trainer.train(data.train, data.test);
    Outcome o;
    if (c.epochs) o.convergence = converge(log.points());
    o.final_accuracy = r.final_test ? r.final_test->accuracy : 0.0;
    for (const std::vector<double>& ends : clocks(c, r.history, m, S)) {
        std::vector<double> reached(c.targets.size(), -1.0);
        for (std::size_t i = 0; i < r.history.size(); ++i)
            for (std::size_t k = 0; k < reached.size(); ++k)
                if (reached[k] < 0 && r.history[i].test && r.history[i].test->accuracy >= c.targets[k]) reached[k] = ends[i];
        o.to_target.push_back(reached);
    }
    return o;
}

inline Outcome run_once(const TalkConfig& c, std::size_t hidden_layers, Method m, std::size_t S, std::uint64_t seed,
                        const TalkData& data) {
    const ist::Dataset& train = data.train;
    ist::TrainerOptions o{.workers = S, .local_steps = c.local_steps, .rounds = c.rounds, .batch_size = c.batch, .seed = seed};
    if (c.whole_set) o.sampling = ist::Sampling::WholeSet;
    if (c.epochs) {
        const EpochPlan plan = epoch_plan(c, hidden_layers, S, train.size());
        o.rounds = plan.rounds();
        o.eval_every = plan.rounds_per_epoch;
    }
    const std::string label = "net " + std::to_string(hidden_layers) + " S " + std::to_string(S) + " method " +
                              std::to_string(static_cast<int>(m)) + " seed " + std::to_string(seed);
    ist::Network net = ist::make_mlp(
        {train.feature_count(), std::vector<std::size_t>(hidden_layers, c.width), train.classes, ist::Norm::Batch, seed});
    if (m == Method::Ist) {
        ist::IstTrainer<> t(net, o, ist::NeuronPartition{}, ist::Sgd(c.lr));
        return outcome_of(c, t, m, S, data, label);
    }
    if (m == Method::LocalSgd) {
        ist::LocalSgdTrainer<> t(net, o, ist::FullModel{}, ist::Sgd(c.lr));
        return outcome_of(c, t, m, S, data, label);
    }
    ist::DataParallelTrainer<> t(net, o, ist::FullModel{}, ist::Sgd(c.lr));
    return outcome_of(c, t, m, S, data, label);
}

/// Mean and sample standard deviation; `reached` counts the values >= 0 (the others are misses).
struct Stats {
    double mean = 0.0, sd = 0.0;
    std::size_t reached = 0, runs = 0;
};

/// Mean and sample standard deviation of every value, whatever its sign (a difference).
inline Stats signed_stats(const std::vector<double>& values) {
    Stats s;
    s.runs = s.reached = values.size();
    if (values.empty()) return s;
    s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
    for (double v : values) s.sd += (v - s.mean) * (v - s.mean);
    s.sd = values.size() > 1 ? std::sqrt(s.sd / static_cast<double>(values.size() - 1)) : 0.0;
    return s;
}

/// The same over the values >= 0 only (times; a negative one is a target missed).
inline Stats stats(const std::vector<double>& values) {
    std::vector<double> hit;
    for (double v : values)
        if (v >= 0) hit.push_back(v);
    Stats s = signed_stats(hit);
    s.runs = values.size();
    return s;
}

inline std::string number(double x, const char* format) {
    char b[48];
    std::snprintf(b, sizeof b, format, x);
    return b;
}

/// "12.3±0.4"; "12.3±0.4 (2/3)" when some seeds missed; "-" when none reached.
inline std::string time_cell(const Stats& s) {
    if (!s.reached) return "-";
    const char* f = s.mean < 10 ? "%.2f" : "%.1f";
    std::string cell = number(s.mean, f) + "±" + number(s.sd, f);
    if (s.reached < s.runs) cell += " (" + std::to_string(s.reached) + "/" + std::to_string(s.runs) + ")";
    return cell;
}

/// "x3.1": how many times sooner IST reached the target (mean times; every seed must have reached).
inline std::string ratio_cell(const Stats& baseline, const Stats& ist) {
    if (baseline.reached < baseline.runs || ist.reached < ist.runs || ist.mean <= 0) return "-";
    return "x" + number(baseline.mean / ist.mean, "%.1f");
}

}  // namespace ist_bench::talk
