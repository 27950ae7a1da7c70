// ist-loft: LOFT, IST as cheap pre-training for pruning. Pre-train (IST or data parallel),
// magnitude-prune the full model, rewind (or keep, or randomly re-initialise) the surviving
// weights and fine-tune under the mask; print the accuracies and the pre-training cost.
//
//   ist-loft                                            # digits, MLP, IST vs data parallel pre-training
//   ist-loft --data fashion-mnist --hidden 2048,2048 --seeds 1,2,3
//   ist-loft --model resnet --pretrain ist --init rewind,keep,random
//   ist-loft --model resnet --pretrain ist-channels,data-parallel --iterative 3   # LOFT by filters vs IMP
//   ist-loft --model resnet-post --pretrain ist-block-channels,data-parallel --sparsity 0.9   # streams whole
//   ist-loft --help
#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/detail/seed.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "training_options.hpp"
#include "cli_data.hpp"

namespace {

struct Config {
    ist::cli::DataChoice data;
    std::string model = "mlp", pretrain = "ist,data-parallel", init = "rewind,random", fine_tune = "data-parallel";
    std::string scope = "global", save_model;
    std::vector<std::size_t> hidden{256, 256}, seeds{1};
    std::vector<double> sparsities{0.5, 0.8, 0.9, 0.95, 0.98};
    std::size_t fine_tune_rounds = 30, rewind_round = 0, iterative = 1;
    float lr = 0.05f;
    bool quiet = false;
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 30, .batch_size = 64, .eval_every = 0};
};

Config parse(int argc, char** argv) {
    Config c;
    auto& o = c.options;
    ist::cli::Options cli("ist-loft", "LOFT: pre-trains (IST or data parallel), magnitude-prunes, rewinds and fine-tunes\n"
                                      "under the mask; prints accuracies and the pre-training cost.");
    cli.text("--data", c.data.data, "NAME", ist::cli::kDataHelp);
    cli.value("--train-rows", c.data.train_rows, ist::cli::kCount, "N", "use only the first N training rows (quick runs)");
    cli.choice("--model", c.model, {"mlp", "resnet", "resnet-post"}, "NAME",
               "mlp (default; --hidden) | resnet (pre-activation ResNet of square images;\n"
               "IST pre-training is then ResIST) | resnet-post (the same with\n"
               "post-activation blocks: every convolution followed by its BatchNorm)");
    cli.list("--hidden", c.hidden, ist::cli::kWidth, "W1,W2,...", "hidden widths of the MLP (default 256,256)");
    cli.choices("--pretrain", c.pretrain, {"ist", "ist-channels", "ist-block-channels", "data-parallel", "local-sgd"},
                "M1,M2,...",
                "pre-training methods to compare (default ist,data-parallel): ist cuts an\n"
                "MLP's neurons, a ResNet's residual blocks (ResIST); ist-channels cuts\n"
                "every convolution of a ResNet by output channel (filter-wise: LOFT),\n"
                "the residual streams too; ist-block-channels cuts the channels inside\n"
                "the blocks and keeps the streams whole (what trains: docs/loft.md)");
    ist::cli::TrainingOptions training(cli);
    training.rounds(o.rounds, "pre-training rounds");
    cli.value("--rewind-round", c.rewind_round, ist::cli::kCount, "K",
              "rewind to the weights after K pre-training rounds (default 0: the initial ones)");
    cli.list("--sparsity", c.sparsities, ist::cli::kDouble, "S1,S2,...",
             "fractions of the prunable weights to prune, each in [0, 1)\n(default 0.5,0.8,0.9,0.95,0.98)");
    cli.choice("--scope", c.scope, {"global", "per-layer"}, "NAME", "global (default) | per-layer magnitude pruning");
    cli.choices("--init", c.init, {"rewind", "keep", "random"}, "I1,I2,...",
                "what the kept weights start fine-tuning from: rewind (to the\n"
                "initial weights), keep (the pre-trained ones), random (a fresh\n"
                "seed, same mask: the control) (default rewind,random)");
    cli.choice("--fine-tune", c.fine_tune, {"ist", "data-parallel", "local-sgd"}, "NAME",
               "how the pruned network is fine-tuned (default data-parallel)");
    cli.value("--fine-tune-rounds", c.fine_tune_rounds, ist::cli::kPositive, "F", "fine-tuning rounds (default 30)");
    cli.value("--iterative", c.iterative, ist::cli::kPositive, "K",
              "reach each sparsity s in K pruning steps (iterative magnitude pruning,\n"
              "IMP): each step keeps (1-s)^(1/K) of what is left, then rewinds the\n"
              "survivors and retrains them with the pre-training method for --rounds\n"
              "rounds (default 1: prune once)");
    training.workers(o.workers);
    training.local_steps(o.local_steps, "local SGD steps per round");
    training.batch(o.batch_size);
    training.lr(c.lr, "SGD learning rate");
    training.precision(o.precision, "GEMM arithmetic of pre-training and fine-tuning: fp32, or bf16 (bfloat16 inputs, "
                                    "fp32 accumulation; needs the oneDNN backend)");
    cli.list("--seeds", c.seeds, ist::cli::kCount, "N1,N2,...", "seeds of initialisation, partitions and sampling (default 1)");
    cli.text("--save-model", c.save_model, "PATH",
             "write the last cell's pruned, fine-tuned model as .npz (the last seed,\n"
             "pre-training, sparsity and --init; sparse tensors as CSR), a model that\n"
             "reads raw rows (ist-predict)");
    cli.flag("--quiet", c.quiet, "print only the summary tables");
    cli.parse(argc, argv);
    for (double s : c.sparsities) ist::detail::check_sparsity(s, "--sparsity");
    ist::cli::check_writable("--save-model", c.save_model);
    for (const std::string channels : {"ist-channels", "ist-block-channels"})
        if (c.model == "mlp" && std::ranges::count(ist::cli::split(c.pretrain), channels) > 0)
            throw ist::ConfigError("--pretrain " + channels + " cuts convolutions by output channel: it needs --model "
                                   "resnet or resnet-post (an MLP's neurons are what --pretrain ist cuts)");
    if (c.rewind_round >= o.rounds)
        throw ist::ConfigError("--rewind-round: " + std::to_string(c.rewind_round) + " is not below --rounds " +
                               std::to_string(o.rounds));
    return c;
}

struct Data {
    ist::Dataset train, test;
};

/// The network to prune, initialised from `seed`.
ist::Network build(const Config& c, const Data& d, std::uint64_t seed) {
    if (c.model == "mlp")
        return ist::make_mlp({d.train.feature_count(), c.hidden, d.train.classes, ist::Norm::Batch, seed});
    const auto side = static_cast<std::size_t>(std::lround(std::sqrt(static_cast<double>(d.train.feature_count()))));
    if (side * side != d.train.feature_count())
        throw ist::ConfigError("--model " + c.model + ": " + std::to_string(d.train.feature_count()) +
                               " features are not a square image");
    return ist::make_resnet({.channels = 1, .height = side, .width = side, .classes = d.train.classes,
                                    .stage_channels = {16, 32}, .stage_blocks = {4, 1}, .seed = seed,
                                    .order = c.model == "resnet" ? ist::BlockOrder::PreActivation
                                                                 : ist::BlockOrder::PostActivation});
}

/// Calls f(partitioner, aggregator) for `method` and `model`: IST cuts neurons of an MLP, blocks of a
/// ResNet; IST by channels cuts every hidden dimension NeuronPartition finds, a ResNet's convolution
/// filters, and IST by block channels those inside the residual blocks only.
template <class M, class F>
void with_method(const Config& c, const std::string& method, const M& model, F&& f) {
    if (method == "data-parallel") return f(ist::FullModel(), ist::GradientAllReduce());
    if (method == "local-sgd") return f(ist::FullModel(), ist::HolderAverage());
    if (method == "ist" && c.model != "mlp") return f(ist::ResistPartition(), ist::HolderAverage());
    if (method == "ist-block-channels") return f(ist::BlockChannelPartition(model), ist::HolderAverage());
    return f(ist::NeuronPartition(), ist::HolderAverage());
}

/// What training by one method cost and gave.
struct Trained {
    double accuracy = 0.0;
    std::uint64_t bytes = 0;
};

/// Trains `model` (a Network or a Masked one) with `method` for `rounds` rounds.
template <class M>
Trained train_with(const Config& c, const std::string& method, M& model, const Data& d, std::uint64_t seed,
                   std::size_t rounds) {
    ist::TrainerOptions o = c.options;
    o.seed = seed;
    o.rounds = rounds;
    Trained out;
    with_method(c, method, model, [&](auto partitioner, auto aggregator) {
        ist::IstTrainer trainer(model, o, partitioner, ist::Sgd(c.lr), aggregator);
        out.accuracy = trainer.train(d.train, d.test).final_test->accuracy;
        out.bytes = trainer.total_bytes();
    });
    return out;
}

/// Pre-training: the weights to rewind to, the trained ones, and what training cost.
struct PreTrained {
    ist::Network rewind_point, trained;
    double accuracy = 0.0, cpu_seconds = 0.0;
    std::uint64_t bytes = 0;
};

/// The CPU seconds `work` takes, of every thread of the process: the workers' compute.
template <class Work>
double cpu_seconds_of(Work&& work) {
    const std::clock_t start = std::clock();
    work();
    return static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
}

PreTrained pretrain(const Config& c, const std::string& method, const Data& d, std::uint64_t seed) {
    PreTrained out{build(c, d, seed), {}};
    ist::Network net = out.rewind_point;
    ist::TrainerOptions o = c.options;
    o.seed = seed;
    const auto train = [&](auto partitioner, auto aggregator) {
        ist::IstTrainer trainer(net, o, partitioner, ist::Sgd(c.lr), aggregator);
        if (c.rewind_round > 0) {  // one trainer across the rewind point: its rounds continue, not restart
            trainer.set_rounds(c.rewind_round);
            trainer.train(d.train, d.test);
            out.rewind_point = net;
            trainer.set_rounds(o.rounds);
        }
        out.accuracy = trainer.train(d.train, d.test).final_test->accuracy;
        out.bytes = trainer.total_bytes();
    };
    out.cpu_seconds = cpu_seconds_of([&] { with_method(c, method, net, train); });
    out.trained = std::move(net);
    return out;
}

/// The pre-trained model pruned to sparsity `s`: at once, or (--iterative K) in K steps, each keeping
/// (1-s)^(1/K) of the surviving weights and followed, but for the last, by a rewind and a retraining
/// with the pre-training method (IMP). The retrainings' cost is added to `pre`'s.
ist::Masked<ist::Network> find_mask(const Config& c, const Data& d, const std::string& method, PreTrained& pre,
                                    double s, std::uint64_t seed) {
    const auto scope = c.scope == "global" ? ist::PruneScope::Global : ist::PruneScope::PerLayer;
    ist::Masked<ist::Network> pruned(pre.trained);
    for (std::size_t step = 1; step <= c.iterative; ++step) {
        const double keep = std::pow(1.0 - s, static_cast<double>(step) / static_cast<double>(c.iterative));
        ist::prune(pruned, step == c.iterative ? s : 1.0 - keep, scope);
        if (step == c.iterative) break;
        ist::rewind(pruned, pre.rewind_point);
        pre.cpu_seconds += cpu_seconds_of([&] { pre.bytes += train_with(c, method, pruned, d, seed, c.options.rounds).bytes; });
    }
    return pruned;
}

/// The pruned network's starting weights for fine-tuning, as `init` says.
ist::Masked<ist::Network> starting_point(const Config& c, const Data& d, const PreTrained& pre,
                                         const ist::Masked<ist::Network>& pruned, const std::string& init,
                                         std::uint64_t seed) {
    ist::Masked<ist::Network> model = pruned;
    if (init == "rewind") ist::rewind(model, pre.rewind_point);
    if (init == "random") ist::rewind(model, build(c, d, ist::detail::derive_seed(seed, 0x5EED)));
    return model;
}

/// Accuracies per (pre-training, init) column and sparsity, one per seed; pre-training costs.
struct Results {
    std::map<std::string, std::map<double, std::vector<double>>> accuracy;
    std::map<std::string, std::vector<PreTrained>> pretrained;
    std::vector<std::string> columns;
    ist::Network saved;      ///< the last fine-tuned model (--save-model)
    std::string saved_cell;  ///< which: "seed 1, data-parallel + random, sparsity 0.95"
};

std::string fixed(double x, int digits) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(digits) << x;
    return out.str();
}

/// Mean and (over more than one value) sample standard deviation, as "0.953 ± 0.004".
std::string mean_sd(const std::vector<double>& v) {
    double mean = 0.0, ss = 0.0;
    for (double x : v) mean += x / static_cast<double>(v.size());
    for (double x : v) ss += (x - mean) * (x - mean);
    if (v.size() < 2) return fixed(mean, 4);
    return fixed(mean, 4) + " ± " + fixed(std::sqrt(ss / static_cast<double>(v.size() - 1)), 4);
}

/// The sparsity of each pruned tensor, " 0.910 0.880 0.998" (global pruning is uneven; a tensor
/// pruned whole disconnects the network).
std::string tensor_sparsities(const ist::Masked<ist::Network>& model) {
    std::string out;
    for (const ist::Tensor& mask : model.masks())
        if (ist::is_mask_set(mask))
            out += " " + fixed(static_cast<double>(ist::pruned_count(mask)) / static_cast<double>(mask.size()), 3);
    return out;
}

void run_seed(const Config& c, const Data& d, std::uint64_t seed, Results& r) {
    for (const std::string& method : ist::cli::split(c.pretrain)) {
        PreTrained pre = pretrain(c, method, d, seed);
        if (!c.quiet)
            std::cout << "seed " << seed << ", " << method << " pre-training: test accuracy " << fixed(pre.accuracy, 4)
                      << ", " << fixed(pre.cpu_seconds, 2) << " s CPU, " << fixed(static_cast<double>(pre.bytes) / 1e6, 2)
                      << " MB exchanged\n";
        for (double s : c.sparsities) {
            const ist::Masked<ist::Network> pruned = find_mask(c, d, method, pre, s, seed);
            if (!c.quiet) std::cout << "  sparsity " << fixed(s, 2) << ", per weight tensor:" << tensor_sparsities(pruned) << '\n';
            for (const std::string& init : ist::cli::split(c.init)) {
                ist::Masked<ist::Network> model = starting_point(c, d, pre, pruned, init, seed);
                const double accuracy = train_with(c, c.fine_tune, model, d, seed, c.fine_tune_rounds).accuracy;
                const std::string column = method + " + " + init;
                if (r.accuracy[column].empty()) r.columns.push_back(column);
                r.accuracy[column][s].push_back(accuracy);
                if (!c.quiet)
                    std::cout << "    " << init << ": fine-tuned test accuracy "
                              << fixed(accuracy, 4) << '\n';
                if (!c.save_model.empty()) {
                    r.saved = model.model();
                    r.saved_cell = "seed " + std::to_string(seed) + ", " + column + ", sparsity " + fixed(s, 2);
                }
            }
        }
        r.pretrained[method].push_back(std::move(pre));
    }
}

void print_summary(const Config& c, const Results& r) {
    std::cout << (c.quiet ? "" : "\n") << "fine-tuned test accuracy (" << c.fine_tune << ", " << c.fine_tune_rounds
              << " rounds; mean ± sd over " << c.seeds.size() << " seed" << (c.seeds.size() > 1 ? "s" : "")
              << ")\n| sparsity |";
    for (const auto& column : r.columns) std::cout << ' ' << column << " |";
    std::cout << "\n|---|";
    for (std::size_t k = 0; k < r.columns.size(); ++k) std::cout << "---|";
    for (double s : c.sparsities) {
        std::cout << "\n| " << fixed(100.0 * s, 0) << " % |";
        for (const auto& column : r.columns) std::cout << ' ' << mean_sd(r.accuracy.at(column).at(s)) << " |";
    }
    std::cout << "\n\npre-training (" << c.options.rounds << " rounds";
    if (c.iterative > 1)
        std::cout << ", and " << c.iterative - 1 << " IMP retraining" << (c.iterative > 2 ? "s" : "") << " of "
                  << c.options.rounds << " rounds per sparsity";
    std::cout << "; mean over seeds)\n"
              << "| method | test accuracy | CPU time | MB exchanged |\n|---|---|---|---|\n";
    std::map<std::string, double> cpu, megabytes;
    for (const auto& [method, runs] : r.pretrained) {
        std::vector<double> acc;
        double mb = 0.0;
        for (const PreTrained& p : runs) {
            acc.push_back(p.accuracy);
            cpu[method] += p.cpu_seconds / static_cast<double>(runs.size());
            mb += static_cast<double>(p.bytes) / 1e6 / static_cast<double>(runs.size());
        }
        megabytes[method] = mb;
        std::cout << "| " << method << " | " << mean_sd(acc) << " | " << fixed(cpu[method], 2) << " s | " << fixed(mb, 2) << " |\n";
    }
    if (!cpu.count("data-parallel")) return;
    for (const std::string ist_method : {"ist", "ist-channels", "ist-block-channels"})  // each IST variant against data parallel
        if (cpu.count(ist_method))
            std::cout << "CPU seconds of " << ist_method << " / data parallel pre-training: "
                      << fixed(cpu[ist_method] / cpu["data-parallel"], 2) << "; bytes "
                      << fixed(megabytes[ist_method] / megabytes["data-parallel"], 3) << '\n';
}

int run(const Config& c) {
    ist::cli::RawData raw;  // --save-model: the statistics and raw test rows of the model it saves
    auto [train, test] = ist::cli::load_data(c.data, "ist-loft", &std::cerr, c.save_model.empty() ? nullptr : &raw);
    const Data d{std::move(train), std::move(test)};
    if (!c.quiet)
        std::cout << "ist-loft: " << d.train.name << " (" << d.train.size() << " train / " << d.test.size()
                  << " test rows), " << c.model << ", S = " << c.options.workers << ", l = " << c.options.local_steps
                  << ", " << c.options.rounds << " pre-training + " << c.fine_tune_rounds << " fine-tuning rounds, "
                  << c.scope << " magnitude pruning\n";
    Results r;
    for (std::size_t seed : c.seeds) run_seed(c, d, seed, r);
    print_summary(c, r);
    if (!c.save_model.empty()) {
        const ist::cli::SavedModel saved = ist::cli::save_self_contained(c.save_model, r.saved, d.train, raw, c.data, true,
                                                                         c.options.eval_batch);
        std::cout << "\nmodel " << c.save_model << ": the last cell fine-tuned (" << r.saved_cell << "), weight sparsity "
                  << fixed(ist::weight_sparsity(r.saved), 3) << ", test accuracy " << fixed(saved.test.accuracy, 4)
                  << " read back from the file\n" << std::filesystem::file_size(c.save_model) << " bytes on disk; its "
                  << r.saved.parameter_elements() << " parameters are " << 4 * r.saved.parameter_elements()
                  << " bytes as dense float32\n";
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-loft", [&] { return run(parse(argc, argv)); });
}
