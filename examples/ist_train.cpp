// ist-train: train an MLP with IST (or a baseline) from the command line.
//
//   ist-train                                  # IST, S = 4 threads, embedded digits data set
//   ist-train --data fashion-mnist --hidden 4096,4096 --workers 8
//   ist-train --method local-sgd | data-parallel
//   ist-train --help
#include <charconv>
#include <filesystem>
#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>
#ifdef IST_WITH_MPI
#include <ist/transport/mpi.hpp>
#endif

namespace {

struct Config {
    std::string data = "digits", method = "ist", partition = "neuron", optimizer = "sgd", transport = "threads";
    std::string norm = "batch", log, checkpoint, save_model;
    std::size_t checkpoint_every = 1;
    std::vector<std::size_t> hidden{256, 256};
    float lr = 0.05f, momentum = 0.9f, weight_decay = 0.0f, keep = 0.5f;
    double test_fraction = 0.25, target = 0.0;
    bool quiet = false, progress = false, whole_set = false, carry_state = false, scale_activations = false;
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 60, .batch_size = 64};
    std::size_t train_rows = 0;
};

const char* kUsage = R"(usage: ist-train [options]
  --data NAME          digits (embedded, default) | fashion-mnist | csv:PATH (label in last column)
  --method NAME        ist (default) | local-sgd | data-parallel
  --partition NAME     neuron (default, disjoint) | bernoulli | categorical   (ist only)
  --keep XI            keep probability of --partition bernoulli (default 0.5)
  --workers S          workers = subnets (default 4)
  --local-steps L      local SGD steps per round (default 10)
  --rounds T           synchronisation rounds (default 60)
  --batch B            mini-batch per worker (default 64)
  --hidden W1,W2,...   hidden widths (default 256,256)
  --norm NAME          batch (default, reference IST MLP) | layer | none
  --scale-activations  multiply subnet pre-activations by full/held width
  --optimizer NAME     sgd (default) | momentum | adam
  --lr X               learning rate (default 0.05)
  --momentum X         momentum of --optimizer momentum (default 0.9)
  --weight-decay X     L2 weight decay (default 0)
  --carry-state        carry optimizer state across rounds (default: reset each round)
  --whole-set          every worker samples the whole training set (default: disjoint shards)
  --transport NAME     threads (default) | serial | mpi (under mpirun -np S: one worker per rank,
                       rank 0 prints; IST_MPI_TIMEOUT=seconds bounds every wait, default 300)
  --seed N             seed of partitions, initialisation and sampling (default 42)
  --eval-every K       evaluate every K rounds (default 1)
  --train-rows N       use only the first N training rows (quick runs)
  --target ACC         stop at the first evaluation reaching this test accuracy
  --log PATH           write per-round metrics (CSV, or JSON if PATH ends in .json)
  --checkpoint PATH    save a checkpoint every --checkpoint-every rounds; if PATH exists,
                       resume from it (bit-identical to an unbroken run)
  --checkpoint-every K rounds between checkpoints (default 1)
  --save-model PATH    write the final parameters as .npz (param_0, param_1, ...)
  --progress           progress bar instead of one line per evaluation
  --quiet              print only the final summary
)";

std::vector<std::size_t> parse_widths(const std::string& s) {
    std::vector<std::size_t> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoul(item));
    return out;
}

Config parse(int argc, char** argv) {
    Config c;
    std::map<std::string, std::string*> strings{{"--data", &c.data},       {"--method", &c.method},
                                                {"--partition", &c.partition}, {"--optimizer", &c.optimizer},
                                                {"--transport", &c.transport}, {"--norm", &c.norm},
                                                {"--log", &c.log}, {"--checkpoint", &c.checkpoint},
                                                {"--save-model", &c.save_model}};
    std::map<std::string, bool*> flags{{"--quiet", &c.quiet}, {"--progress", &c.progress},
                                       {"--whole-set", &c.whole_set}, {"--carry-state", &c.carry_state},
                                       {"--scale-activations", &c.scale_activations}};
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") { std::cout << kUsage; std::exit(0); }
        if (flags.count(arg)) { *flags[arg] = true; continue; }
        if (i + 1 >= argc) throw ist::ConfigError("ist-train: " + arg + " needs a value (see --help)");
        const std::string v = argv[++i];
        if (strings.count(arg)) *strings[arg] = v;
        else if (arg == "--workers") c.options.workers = std::stoul(v);
        else if (arg == "--local-steps") c.options.local_steps = std::stoul(v);
        else if (arg == "--rounds") c.options.rounds = std::stoul(v);
        else if (arg == "--batch") c.options.batch_size = std::stoul(v);
        else if (arg == "--seed") c.options.seed = std::stoull(v);
        else if (arg == "--eval-every") c.options.eval_every = std::stoul(v);
        else if (arg == "--hidden") c.hidden = parse_widths(v);
        else if (arg == "--lr") c.lr = std::stof(v);
        else if (arg == "--momentum") c.momentum = std::stof(v);
        else if (arg == "--weight-decay") c.weight_decay = std::stof(v);
        else if (arg == "--keep") c.keep = std::stof(v);
        else if (arg == "--target") c.target = std::stod(v);
        else if (arg == "--train-rows") c.train_rows = std::stoul(v);
        else if (arg == "--checkpoint-every") c.checkpoint_every = std::stoul(v);
        else throw ist::ConfigError("ist-train: unknown option " + arg + " (see --help)");
    }
    c.options.sampling = c.whole_set ? ist::Sampling::WholeSet : ist::Sampling::Shards;
    c.options.optimizer_state = c.carry_state ? ist::OptimizerState::Carry : ist::OptimizerState::Reset;
    c.options.scale_activations = c.scale_activations;
    return c;
}

std::pair<ist::Dataset, ist::Dataset> load(const Config& c) {
    std::pair<ist::Dataset, ist::Dataset> sets;
    if (c.data == "digits") {
        sets = ist::train_test_split(ist::load_digits(), c.test_fraction, c.options.seed);
    } else if (c.data == "fashion-mnist") {
        sets = ist::load_fashion_mnist();
    } else if (c.data.rfind("csv:", 0) == 0) {
        sets = ist::train_test_split(ist::load_csv(c.data.substr(4)), c.test_fraction, c.options.seed);
    } else {
        throw ist::ConfigError("ist-train: unknown --data " + c.data + " (digits | fashion-mnist | csv:PATH)");
    }
    if (c.train_rows && c.train_rows < sets.first.size()) {
        std::vector<std::uint32_t> rows(c.train_rows);
        std::iota(rows.begin(), rows.end(), 0u);
        sets.first = ist::subset(sets.first, rows);
    }
    ist::standardize(sets.first, sets.second);
    return sets;
}

std::string widths(const std::vector<std::size_t>& hidden) {
    std::string out;
    for (std::size_t w : hidden) out += (out.empty() ? "" : "-") + std::to_string(w);
    return out;
}

ist::Norm parse_norm(const std::string& n) {
    if (n == "batch") return ist::Norm::Batch;
    if (n == "layer") return ist::Norm::Layer;
    if (n == "none") return ist::Norm::None;
    throw ist::ConfigError("ist-train: unknown --norm " + n + " (batch | layer | none)");
}

/// Calls f with the optimizer the configuration names.
template <class F>
void with_optimizer(const Config& c, F&& f) {
    if (c.optimizer == "sgd") f(ist::Sgd(c.lr, c.weight_decay));
    else if (c.optimizer == "momentum") f(ist::MomentumSgd(c.lr, c.momentum, c.weight_decay));
    else if (c.optimizer == "adam") f(ist::Adam(c.lr, 0.9f, 0.999f, 1e-8f, c.weight_decay));
    else throw ist::ConfigError("ist-train: unknown --optimizer " + c.optimizer + " (sgd | momentum | adam)");
}

template <class F>
void with_transport(const Config& c, F&& f) {
    if (c.transport == "threads") f(ist::ThreadsTransport());
    else if (c.transport == "serial") f(ist::SerialTransport());
#ifdef IST_WITH_MPI
    else if (c.transport == "mpi") f(ist::MpiTransport());
#endif
    else throw ist::ConfigError("ist-train: unknown --transport " + c.transport + " (threads | serial)");
}

/// Calls f with the (partitioner, aggregator) pair of the method.
template <class F>
void with_method(const Config& c, F&& f) {
    if (c.method == "local-sgd") return f(ist::FullModel(), ist::HolderAverage());
    if (c.method == "data-parallel") return f(ist::FullModel(), ist::GradientAllReduce());
    if (c.method != "ist") throw ist::ConfigError("ist-train: unknown --method " + c.method);
    if (c.partition == "neuron") return f(ist::NeuronPartition(), ist::HolderAverage());
    if (c.partition == "bernoulli") return f(ist::BernoulliMasks(c.keep), ist::HolderAverage());
    if (c.partition == "categorical") return f(ist::CategoricalMasks(), ist::HolderAverage());
    throw ist::ConfigError("ist-train: unknown --partition " + c.partition + " (neuron | bernoulli | categorical)");
}

int run(const Config& c) {
    auto [train, test] = load(c);
    ist::Network net = ist::make_mlp({train.feature_count(), c.hidden, train.classes, parse_norm(c.norm), c.options.seed});
    bool primary = true;  // prints the output (rank 0 under MPI)
#ifdef IST_WITH_MPI
    if (c.transport == "mpi") primary = ist::MpiEnvironment::rank() == 0;
#endif
    if (!c.quiet && primary)
        std::cout << "ist-train: " << c.method << " on " << train.name << " (" << train.size() << " train / "
                  << test.size() << " test rows), MLP " << train.feature_count() << " -> " << widths(c.hidden) << " -> "
                  << train.classes << ", S = " << c.options.workers << ", l = " << c.options.local_steps
                  << ", " << c.optimizer << " lr " << c.lr << ", " << c.transport << " transport\n";
    ist::TrainResult result;
    ist::StopAtAccuracy stop_at(c.target > 0 ? c.target : 2.0);
    with_optimizer(c, [&](auto optimizer) {
        with_transport(c, [&](auto transport) {
            with_method(c, [&](auto partitioner, auto aggregator) {
                ist::IstTrainer trainer(net, c.options, partitioner, optimizer, aggregator, transport);
                ist::MetricsLog log(c.log.empty() ? "/dev/null" : c.log);
                ist::Checkpoint checkpoint(c.checkpoint, c.checkpoint_every);  // empty path: off
                if (!c.checkpoint.empty() && std::filesystem::exists(c.checkpoint)) {
                    trainer.load_checkpoint(c.checkpoint);
                    if (!c.quiet) std::cout << "resuming from " << c.checkpoint << " after round " << trainer.rounds_done() << '\n';
                }
                if (c.quiet) result = trainer.train(train, test, stop_at, log, checkpoint);
                else if (c.progress) result = trainer.train(train, test, stop_at, log, checkpoint, ist::ProgressBar());
                else result = trainer.train(train, test, stop_at, log, checkpoint, ist::PrintMetrics());
            });
        });
    });
    if (!primary) return 0;
    if (!c.save_model.empty()) {
        ist::NpzWriter npz;
        for (std::size_t i = 0; i < net.parameter_count(); ++i) npz.add("param_" + std::to_string(i), net.parameter(i).value);
        npz.write_atomically(c.save_model);
    }
    const auto& last = result.history.back();
    std::cout << "final test accuracy " << result.final_test->accuracy << " after " << last.round << " rounds, "
              << last.seconds << " s training, " << static_cast<double>(last.total_bytes) / 1e6 << " MB exchanged\n"
              << "weights checksum " << ist::weights_checksum_hex(net) << '\n';
    if (c.target > 0)
        std::cout << (stop_at.reached() ? "target reached after " + std::to_string(stop_at.seconds()) + " s"
                                        : std::string("target not reached"))
                  << '\n';
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const Config config = parse(argc, argv);
#ifdef IST_WITH_MPI
        if (config.transport == "mpi") {
            ist::MpiEnvironment mpi(argc, argv);
            try {
                return run(config);
            } catch (const std::exception& e) {  // the other ranks may wait for this one: end the job
                ist::MpiEnvironment::abort(std::string("ist-train: error: ") + e.what(), 2);
            }
        }
#endif
        return run(config);
    } catch (const std::exception& e) {
        std::cerr << "ist-train: error: " << e.what() << '\n';
        return 2;
    }
}
