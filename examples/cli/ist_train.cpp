// ist-train: train an MLP with IST (or a baseline) from the command line.
//
//   ist-train                                  # IST, S = 4 threads, embedded digits data set
//   ist-train --data fashion-mnist --hidden 4096,4096 --workers 8
//   ist-train --method local-sgd | data-parallel
//   ist-train --preset reference --show-config  # the reference code's settings, resolved
//   ist-train --save-model m.npz; ist-train --load-model m.npz --rounds 20   # continue from a saved model
//   ist-train --help
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>
#include <ist/partition/any_partition.hpp>
#ifdef IST_WITH_MPI
#include <ist/transport/mpi/mpi_transport.hpp>
#endif

#include "cli.hpp"
#include "codec_options.hpp"
#include "cli_data.hpp"
#include "preset.hpp"
#include "checkpoint_resume.hpp"
#include "training_options.hpp"
#ifdef IST_WITH_MPI
#include "cli_data_mpi.hpp"
#endif

namespace {

struct Config {
    ist::cli::DataChoice data;
    std::string method = "ist", partition = "neuron", optimizer = "sgd", transport = "threads";
    std::string norm = "batch", log, checkpoint, save_model, load_model;
    std::string bn_statistics = "population";  // what the saved model's batch norms evaluate with
    std::size_t checkpoint_every = 1;
    std::size_t round_timeout_ms = 0, quorum = 0;  // stragglers (threads and mpi transports)
    bool drop_failed_workers = false;
    std::string parameter_node = "central";  // mpi transport: who holds and merges the model
    std::vector<std::size_t> hidden{256, 256};
    float lr = 0.05f, momentum = 0.9f, weight_decay = 0.0f, keep = 0.5f, dropout = 0.0f;
    double target = 0.0;
    double time_budget = 0.0;  // seconds of training; 0 = off
    bool quiet = false, progress = false, whole_set = false, carry_state = false, scale_activations = false;
    bool show_config = false;
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 60, .batch_size = 64};
    ist::cli::CodecOptions coding;
    std::size_t clients = 0, classes_per_client = 0;  // federated: clients own the training rows
    double dirichlet = 0.0;
    std::string client_selection = "uniform";
    std::vector<double> shares, slowdown;  // heterogeneous workers: capacity, simulated slow devices
    bool nested = false, fedavg_weights = false;
};

#ifdef IST_WITH_MPI
const std::vector<std::string> kTransports{"threads", "serial", "mpi"};
#else
const std::vector<std::string> kTransports{"threads", "serial"};
#endif

/// The heterogeneity options' combinations.
void check_heterogeneity(const Config& c) {
    if (c.nested && c.shares.empty()) throw ist::ConfigError("--nested needs --shares (each worker's fraction of every layer)");
    if (!c.shares.empty() && (c.method != "ist" || c.partition != "neuron"))
        throw ist::ConfigError("--shares cuts neurons by capacity: it needs --method ist --partition neuron");
    if (!c.slowdown.empty() && c.transport != "threads")
        throw ist::ConfigError("--slowdown simulates slow devices in the threads transport: it needs --transport threads");
    if (c.fedavg_weights && c.method == "data-parallel")
        throw ist::ConfigError("--fedavg-weights weights the merge of subnets: data-parallel averages gradients instead");
}

/// The reference IST code (Yuan et al. 2019; BinhangYuan/IST_Release, the 2-layer and 3-layer
/// Google Speech scripts): plain SGD at lr 0.01 without weight decay, batch 128, a repartition every
/// 20 steps, every worker shuffling the whole training set. The width (4096 there), S and the run
/// length are the experiment's, not the method's: give them as options.
const std::vector<ist::cli::Preset> kPresets{
    {"reference",
     {"--optimizer", "sgd", "--lr", "0.01", "--weight-decay", "0", "--batch", "128", "--local-steps", "20", "--norm",
      "batch", "--whole-set"},
     "BinhangYuan/IST_Release, distributed_{2,3}layer_subnet_*.py"},
};

void add_model_options(ist::cli::Options& cli, Config& c) {
    cli.choice("--method", c.method, {"ist", "local-sgd", "data-parallel"}, "NAME", "ist (default) | local-sgd | data-parallel");
    cli.choice("--partition", c.partition, {"neuron", "bernoulli", "categorical"}, "NAME",
               "neuron (default, disjoint) | bernoulli | categorical   (ist only)");
    cli.value("--keep", c.keep, ist::cli::kFloat, "XI", "keep probability of --partition bernoulli (default 0.5)");
    cli.list("--hidden", c.hidden, ist::cli::kWidth, "W1,W2,...", "hidden widths (default 256,256)");
    cli.choice("--norm", c.norm, {"batch", "layer", "none"}, "NAME", "batch (default, reference IST MLP) | layer | none");
    cli.value("--dropout", c.dropout, ist::cli::kRate, "P", "dropout rate after every hidden activation (default 0: none)");
    cli.flag("--scale-activations", c.scale_activations, "multiply subnet pre-activations by full/held width (ist only)");
}

void add_training_options(ist::cli::Options& cli, Config& c) {
    ist::cli::TrainingOptions training(cli);
    training.schedule(c.options);
    cli.choice("--optimizer", c.optimizer, {"sgd", "momentum", "adam"}, "NAME", "sgd (default) | momentum | adam");
    training.lr(c.lr);
    training.momentum(c.momentum, "momentum of --optimizer momentum");
    training.weight_decay(c.weight_decay);
    training.carry_state(c.carry_state);
    training.precision(c.options.precision);
    cli.flag("--whole-set", c.whole_set, "every worker samples the whole training set (default: disjoint shards)");
    training.seed(c.options.seed);
    training.eval_every(c.options.eval_every);
    cli.value("--train-rows", c.data.train_rows, ist::cli::kCount, "N", "use only the first N training rows (quick runs)");
    cli.value("--target", c.target, ist::cli::kDouble, "ACC", "stop at the first evaluation reaching this test accuracy");
    cli.value("--time-budget", c.time_budget, ist::cli::kPositiveDouble, "S",
              "stop after the first round that ends S seconds of training in (evaluation excluded)");
}

void add_transport_options(ist::cli::Options& cli, Config& c) {
    cli.choice("--transport", c.transport, kTransports, "NAME",
               "threads (default) | serial | mpi (under mpirun -np S: one worker per rank,\n"
               "rank 0 prints; IST_MPI_TIMEOUT=seconds bounds every wait, default 300)");
    cli.choice("--parameter-node", c.parameter_node, {"central", "sharded"}, "NAME",
               "with --transport mpi: central (default: rank 0 holds and merges the model)\n"
               "| sharded (each rank holds and merges its shard; same weights)");
    cli.value("--round-timeout", c.round_timeout_ms, ist::cli::kCount, "MS",
              "drop workers not back MS ms after they have their subnets (default 0 = wait)");
    cli.value("--quorum", c.quorum, ist::cli::kCount, "K", "end a round once K of the S workers are back (default 0 = all)");
    cli.flag("--drop-failed-workers", c.drop_failed_workers, "drop a worker that throws for its round instead of stopping");
}

void add_output_options(ist::cli::Options& cli, Config& c) {
    cli.text("--log", c.log, "PATH", "write per-round metrics (CSV, or JSON if PATH ends in .json)");
    ist::cli::TrainingOptions(cli).checkpoint(c.checkpoint, c.checkpoint_every);
    cli.text("--save-model", c.save_model, "PATH",
             "write the final model as .npz (architecture.json + named tensors;\n"
             "ist-predict and --load-model read it)");
    cli.choice("--bn-statistics", c.bn_statistics, {"population", "batch"}, "NAME",
               "what the --save-model file's batch norms evaluate with: population\n"
               "(default: the statistics of all training rows, so a row's prediction\n"
               "does not depend on the rows scored with it) | batch (each batch's own,\n"
               "as the reference network and training do)");
    cli.text("--load-model", c.load_model, "PATH",
             "start from a saved model (its architecture and weights) instead of a\n"
             "new MLP; a checkpoint resumes a run, a model starts a new one");
    cli.flag("--progress", c.progress, "progress bar instead of one line per evaluation");
    cli.flag("--quiet", c.quiet, "print only the final summary");
}

void add_federated_options(ist::cli::Options& cli, Config& c) {
    cli.group("Federated and heterogeneous workers");
    cli.value("--clients", c.clients, ist::cli::kCount, "N",
              "federated: N clients own the training rows (IID unless skewed below);\n"
              "each round S of them train the S subnets (default 0: off)");
    cli.value("--dirichlet", c.dirichlet, ist::cli::kPositiveDouble, "ALPHA",
              "with --clients: Dirichlet label skew (0.1 strong, 100 close to IID)");
    cli.value("--classes-per-client", c.classes_per_client, ist::cli::kPositive, "K",
              "with --clients: every client holds exactly K classes");
    cli.choice("--client-selection", c.client_selection, {"uniform", "by-size"}, "NAME",
               "with --clients: uniform (default) | by-size (in proportion to rows)");
    cli.list("--shares", c.shares, ist::cli::kPositiveDouble, "P1,...,PS",
             "heterogeneous workers: worker s trains a share P_s of every hidden layer\n"
             "(IST's disjoint cut; the shares sum to 1 within 0.001, renormalised;\n"
             "S = their number unless --workers says it)");
    cli.flag("--nested", c.nested,
             "with --shares: HeteroFL nested subnets instead, worker s holding the first\n"
             "P_s / max(P) of every hidden layer (overlaps averaged)");
    cli.list("--slowdown", c.slowdown, ist::cli::kPositiveDouble, "F1,...,FS",
             "simulation: worker s takes F_s (>= 1) times its compute time (threads transport)");
    cli.flag("--fedavg-weights", c.fedavg_weights, "merge weighting each worker's subnet by its rows (FedAvg)");
}

void check_federated(const ist::cli::Options& cli, const Config& c) {
    if (!c.clients && (c.dirichlet > 0 || c.classes_per_client || cli.given("--client-selection")))
        throw ist::ConfigError("--dirichlet, --classes-per-client and --client-selection need --clients");
    if (c.dirichlet > 0 && c.classes_per_client)
        throw ist::ConfigError("--dirichlet and --classes-per-client are two skews: choose one");
    if (c.clients && c.whole_set) throw ist::ConfigError("--clients and --whole-set: a client samples only its own rows");
}

void check_transport(const Config& c) {
    const bool stragglers = c.round_timeout_ms || c.quorum || c.drop_failed_workers;
    if (c.transport == "serial" && stragglers)
        throw ist::ConfigError("--round-timeout, --quorum and --drop-failed-workers need --transport threads or mpi "
                               "(serial runs one worker at a time)");
    if (c.parameter_node == "sharded" && c.transport != "mpi")
        throw ist::ConfigError("--parameter-node sharded needs --transport mpi");
    if (c.parameter_node == "sharded" && stragglers)
        throw ist::ConfigError("--parameter-node sharded does not drop stragglers: drop --round-timeout, --quorum and "
                               "--drop-failed-workers");
    if (c.parameter_node == "sharded" && c.method == "data-parallel")
        throw ist::ConfigError("--parameter-node sharded holds subnets: --method data-parallel keeps a replica on "
                               "every rank (use --parameter-node central)");
    if (c.parameter_node == "sharded" && c.coding.codec != "fp32")
        throw ist::ConfigError("--parameter-node sharded moves exact floats: it does not take --codec");
}

/// Options that this run would ignore (each ran with the checksum of the run without it), and a
/// quorum it could not reach.
void refuse_ignored_options(const ist::cli::Options& cli, const Config& c) {
    using ist::cli::refuse_ignored;
    const std::string full_models = "--method " + c.method + " trains full models";
    refuse_ignored(cli, "--partition", c.method != "ist", full_models + ": it does not partition");
    refuse_ignored(cli, "--keep", c.partition != "bernoulli",
                   "only --partition bernoulli keeps each neuron with a probability (this run: --partition " +
                       c.partition + ")");
    refuse_ignored(cli, "--scale-activations", c.method != "ist", full_models + ": no subnet activations to scale");
    refuse_ignored(cli, "--bn-statistics", c.save_model.empty(), "it sets how the --save-model file evaluates: give --save-model");
    refuse_ignored(cli, "--momentum", c.optimizer != "momentum",
                   "--optimizer " + c.optimizer + " has no momentum term (it is --optimizer momentum's)");
    if (c.quorum > c.options.workers)
        throw ist::ConfigError("--quorum: " + std::to_string(c.quorum) + " is more than the " +
                               std::to_string(c.options.workers) + " workers of a round (--workers)");
}

/// The disjoint cut's shares summing to 1 within 0.001 (0.3333,0.3333,0.3333), divided by their sum.
/// Shares within the library's own 1e-6 are kept as given, so a run that passed before gives the
/// same weights.
void renormalise_shares(std::vector<double>& shares) {
    double sum = 0.0;
    for (double p : shares) sum += p;
    if (std::abs(sum - 1.0) > 1e-3)
        throw ist::ConfigError("--shares: they sum to " + ist::cli::default_text(sum) +
                               ", not 1 (within 0.001): each is worker s's fraction of every hidden layer");
    if (std::abs(sum - 1.0) > 1e-6)
        for (double& p : shares) p /= sum;
}

/// --shares: a disjoint cut's renormalised; S = their number unless --workers says otherwise.
void resolve_shares(const ist::cli::Options& cli, Config& c) {
    if (c.shares.empty()) return;
    if (!c.nested) renormalise_shares(c.shares);
    if (!cli.given("--workers")) c.options.workers = c.shares.size();
    else if (c.options.workers != c.shares.size())
        throw ist::ConfigError("--shares: " + std::to_string(c.shares.size()) + " shares for --workers " +
                               std::to_string(c.options.workers) + " (one per worker; --shares alone sets S)");
}

/// --load-model takes the architecture from the file: the options that would set it are refused.
void check_load_model(const ist::cli::Options& cli, const Config& c) {
    if (c.load_model.empty()) return;
    for (const char* option : {"--hidden", "--norm", "--dropout"})
        if (cli.given(option))
            throw ist::ConfigError(std::string("--load-model: the architecture comes from the model file; drop ") + option);
}

/// The trainer's options that follow from the parsed ones.
void set_trainer_options(Config& c) {
    auto& o = c.options;
    c.coding.apply(o, c.method == "data-parallel");
    c.data.seed = o.seed;
    o.sampling = c.clients ? ist::Sampling::Clients : c.whole_set ? ist::Sampling::WholeSet : ist::Sampling::Shards;
    o.client_selection = c.client_selection == "by-size" ? ist::ClientSelection::BySize : ist::ClientSelection::Uniform;
    o.optimizer_state = c.carry_state ? ist::OptimizerState::Carry : ist::OptimizerState::Reset;
    o.scale_activations = c.scale_activations;
}

Config parse(int argc, char** argv) {
    Config c;
    ist::cli::PresetArguments args(argc, argv, kPresets);
    ist::cli::Options cli("ist-train", "Trains an MLP with IST (or a baseline) and prints its test accuracy.");
    ist::cli::add_preset_option(cli, kPresets);
    cli.flag("--show-config", c.show_config, "print the resolved settings (presets applied) and exit");
    c.data.add_to(cli);
    add_model_options(cli, c);
    add_training_options(cli, c);
    add_transport_options(cli, c);
    add_output_options(cli, c);
    c.coding.add_to(cli);
    add_federated_options(cli, c);
    cli.parse(args.argc(), args.argv());
    resolve_shares(cli, c);
    check_heterogeneity(c);
    check_federated(cli, c);
    check_transport(c);
    refuse_ignored_options(cli, c);
    check_load_model(cli, c);
    for (const auto& [option, path] : {std::pair{"--log", c.log}, {"--checkpoint", c.checkpoint}, {"--save-model", c.save_model}})
        ist::cli::check_writable(option, path);
    set_trainer_options(c);
    return c;
}

/// --clients: the training rows dealt to the clients as the options say (seeded like the run).
ist::ClientShards deal_clients(const Config& c, const ist::Dataset& train) {
    const std::uint64_t seed = c.options.seed;
    if (c.dirichlet > 0) return ist::dirichlet_clients(train, c.clients, c.dirichlet, seed);
    if (c.classes_per_client) return ist::classes_per_client(train, c.clients, c.classes_per_client, seed);
    return ist::iid_clients(train, c.clients, seed);
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

/// The straggler options (the same fields in every transport that has them) set from the command line.
template <class Options>
Options with_stragglers(const Config& c, Options o) {
    o.drop_failed_workers = c.drop_failed_workers;
    o.round_timeout = std::chrono::milliseconds(c.round_timeout_ms);
    o.quorum = c.quorum;
    return o;
}

/// Calls f with the transport the configuration names.
template <class F>
void with_transport(const Config& c, F&& f) {
    if (c.transport == "threads") {
        auto options = with_stragglers(c, ist::ThreadsTransport::Options{});
        options.slowdown = c.slowdown;
        f(ist::ThreadsTransport(options));
    }
    else if (c.transport == "serial") f(ist::SerialTransport());
#ifdef IST_WITH_MPI
    else if (c.transport == "mpi") {
        auto options = with_stragglers(c, ist::MpiTransport::Options{});
        if (c.parameter_node == "sharded") options.parameter_node = ist::ParameterNode::Sharded;
        f(ist::MpiTransport(options));
    }
#endif
    else throw ist::ConfigError("ist-train: unknown --transport " + c.transport + " (threads | serial)");
}

/// The partitioner of a method that merges subnets (a run-time choice: one trainer compiled for all).
ist::AnyPartition partition_of(const Config& c) {
    if (c.method == "local-sgd") return ist::FullModel();
    if (c.method != "ist") throw ist::ConfigError("ist-train: unknown --method " + c.method);
    if (c.nested) {
        const double largest = *std::max_element(c.shares.begin(), c.shares.end());
        std::vector<double> fractions;
        for (double p : c.shares) fractions.push_back(p / largest);
        return ist::NestedPartition(fractions);
    }
    if (!c.shares.empty()) return ist::CapacityPartition(c.shares);
    if (c.partition == "neuron") return ist::NeuronPartition();
    if (c.partition == "bernoulli") return ist::BernoulliMasks(c.keep);
    if (c.partition == "categorical") return ist::CategoricalMasks();
    throw ist::ConfigError("ist-train: unknown --partition " + c.partition + " (neuron | bernoulli | categorical)");
}

/// Calls f with the (partitioner, aggregator) pair of the method.
template <class F>
void with_method(const Config& c, F&& f) {
    if (c.method == "data-parallel") return f(ist::FullModel(), ist::GradientAllReduce());
    f(partition_of(c), ist::HolderAverage(c.fedavg_weights ? ist::HolderAverage::Weighting::BySamples
                                                           : ist::HolderAverage::Weighting::Equal));
}

/// The network to train: the saved model as it trains (without the Standardize layer the program
/// puts in front when it saves, its batch norms back on batch statistics if it gave them population
/// ones), or a new MLP for the data.
ist::Network initial_network(const Config& c, const ist::Dataset& train) {
    if (!c.load_model.empty()) {
        const ist::LoadedModel saved = ist::load_model_file(c.load_model);
        const ist::Network net = ist::without_standardization(saved.network);
        return saved.metadata.population_rows ? ist::with_batch_statistics(net) : net;
    }
    return ist::make_mlp({train.feature_count(), c.hidden, train.classes, parse_norm(c.norm), c.options.seed, c.dropout});
}

std::string number_text(float x) {
    std::ostringstream out;
    out << x;
    return out.str();
}

std::string describe_network(const Config& c, const ist::Dataset& train, const ist::Network& net) {
    if (!c.load_model.empty())
        return "model " + c.load_model + " (" + std::to_string(net.layer_count()) + " layers, " +
               std::to_string(net.parameter_elements()) + " weights)";
    return "MLP " + std::to_string(train.feature_count()) + " -> " + widths(c.hidden) + " -> " + std::to_string(train.classes) +
           (c.dropout > 0 ? ", dropout " + number_text(c.dropout) : std::string());
}

const char* sampling_name(ist::Sampling s) {
    return s == ist::Sampling::WholeSet ? "whole-set" : s == ist::Sampling::Clients ? "clients" : "shards";
}

/// --show-config: the settings that training would use, one "name value" per line.
int show_config(const Config& c) {
    const auto& o = c.options;
    std::cout << "method " << c.method << "\npartition " << c.partition << "\nworkers " << o.workers << "\nlocal-steps "
              << o.local_steps << "\nrounds " << o.rounds << "\nbatch " << o.batch_size << "\nhidden " << widths(c.hidden)
              << "\nnorm " << c.norm << "\noptimizer " << c.optimizer << "\nlr " << c.lr << "\nmomentum " << c.momentum
              << "\nweight-decay " << c.weight_decay << "\noptimizer-state " << (c.carry_state ? "carry" : "reset")
              << "\nsampling " << sampling_name(o.sampling) << "\nseed " << o.seed << '\n';
    return 0;
}

/// --save-model: the model that reads raw rows (cli_data.hpp), and how it scores the raw test rows:
/// what `ist-predict --model FILE --input <the test rows>` prints.
void save_model_file(const Config& c, const ist::Network& net, const ist::Dataset& train, const ist::cli::RawData& raw) {
    const ist::cli::SavedModel saved = ist::cli::save_self_contained(c.save_model, net, train, raw, c.data,
                                                                     c.bn_statistics == "population", c.options.eval_batch);
    std::cout << "saved " << c.save_model << " (input standardisation"
              << (saved.population_rows ? ", batch norm statistics of " + std::to_string(saved.population_rows) + " training rows" : "")
              << "): test accuracy " << saved.test.accuracy << ", loss " << saved.test.loss << '\n';
}

int run(const Config& c) {
    if (c.show_config) return show_config(c);
    bool primary = true;  // prints the output (rank 0 under MPI)
#ifdef IST_WITH_MPI
    if (c.transport == "mpi") primary = ist::MpiEnvironment::rank() == 0;
#endif
    std::ostream* notes = primary ? &std::cerr : nullptr;
    ist::cli::RawData raw;  // --save-model: the statistics and raw test rows its model is scored on
    ist::cli::RawData* keep = c.save_model.empty() ? nullptr : &raw;
#ifdef IST_WITH_MPI
    // Under MPI an npy: source is read in shards: each rank holds only its worker's rows.
    auto [train, test] = c.transport == "mpi" ? ist::cli::load_data_mpi(c.data, c.options, "ist-train", notes, keep)
                                              : ist::cli::load_data(c.data, "ist-train", notes, keep);
#else
    auto [train, test] = ist::cli::load_data(c.data, "ist-train", notes, keep);
#endif
    ist::Network net = initial_network(c, train);
    if (!c.quiet && primary)
        std::cout << "ist-train: " << c.method << " on " << train.name << " (" << train.size() << " train / "
                  << test.size() << " test rows), " << describe_network(c, train, net) << ", S = " << c.options.workers
                  << ", l = " << c.options.local_steps
                  << ", " << c.optimizer << " lr " << c.lr << ", " << c.transport << " transport" << c.coding.describe()
                  << (c.options.precision == ist::Precision::Bf16 ? ", bf16 GEMMs" : "") << '\n';
    ist::TrainResult result;
    ist::StopAtAccuracy stop_at(c.target > 0 ? c.target : 2.0);
    ist::StopAfterSeconds time_budget(c.time_budget > 0 ? c.time_budget : std::numeric_limits<double>::infinity());
    with_optimizer(c, [&](auto optimizer) {
        with_transport(c, [&](auto transport) {
            with_method(c, [&](auto partitioner, auto aggregator) {
                ist::TrainerOptions options = c.options;
                options.final_model_everywhere = false;  // only rank 0 prints and saves: no final broadcast
                ist::IstTrainer trainer(net, options, partitioner, optimizer, aggregator, transport, c.coding.make());
                ist::MetricsLog log(c.log.empty() ? "/dev/null" : c.log);
                ist::Checkpoint checkpoint(c.checkpoint, c.checkpoint_every);  // empty path: off
                if (c.clients) trainer.set_clients(deal_clients(c, train));
                ist::cli::resume_from_checkpoint(trainer, c.checkpoint, c.quiet);
                if (c.quiet) result = trainer.train(train, test, stop_at, time_budget, log, checkpoint);
                else if (c.progress) result = trainer.train(train, test, stop_at, time_budget, log, checkpoint, ist::ProgressBar());
                else result = trainer.train(train, test, stop_at, time_budget, log, checkpoint, ist::PrintMetrics());
            });
        });
    });
    if (!primary) return 0;
    const auto& last = result.history.back();
    std::cout << "final test accuracy " << result.final_test->accuracy << " after " << last.round << " rounds, "
              << last.seconds << " s training, " << static_cast<double>(last.total_bytes) / 1e6 << " MB exchanged\n"
              << "weights checksum " << ist::weights_checksum_hex(net) << '\n';
    if (c.target > 0)
        std::cout << (stop_at.reached() ? "target reached after " + std::to_string(stop_at.seconds()) + " s"
                                        : std::string("target not reached"))
                  << '\n';
    if (!c.save_model.empty()) save_model_file(c, net, train, raw);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-train", [&] {
        const Config config = parse(argc, argv);
#ifdef IST_WITH_MPI
        if (config.transport == "mpi") {
            ist::MpiEnvironment mpi(argc, argv);
            try {
                return run(config);
            } catch (const std::exception& e) {  // the other ranks may wait for this one: end the job
                ist::MpiEnvironment::abort(ist::cli::error_line("ist-train", e), 2);
            }
        }
#endif
        return run(config);
    });
}
