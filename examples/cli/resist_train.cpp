// resist-train: ResIST on a small pre-activation ResNet, side by side with local SGD.
//
//   resist-train                                # digits (embedded), S = 4, ResIST then local SGD
//   resist-train --data fashion --train-rows 12000 --rounds 30
//   resist-train --ablation                     # the talk's ablation ladder at small scale
//   resist-train --preset reference --show-config   # the ResIST reference's settings, resolved
//   resist-train --help
//
// Both methods train the same network from the same initial weights on the same data shards,
// with the same transport, momentum SGD (state reset every round, as the reference), the same
// number of rounds and local steps; only the partitioner differs (ResistPartition vs FullModel).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "training_options.hpp"
#include "codec_options.hpp"
#include "preset.hpp"

namespace {

struct Config {
    std::string data = "digits";
    std::vector<std::size_t> stages{8, 16, 32}, blocks{1, 4, 1};
    std::vector<std::string> sections;
    float lr = 0.05f, momentum = 0.9f, weight_decay = 5e-4f;
    std::size_t min_depth = 1, train_rows = 0, test_rows = 0, threads = 0;
    bool share_projecting = true, all_sections = false, scale = true, constant_lr = false;
    bool quiet = false, progress = false, ablation = false, skip_baseline = false, whole_set = false, show_config = false;
    bool post_activation = false, final_norm = true;
    std::vector<std::size_t> ablation_workers{2, 4};
    std::size_t ablation_l = 0;  // 0: twice --local-steps
    std::size_t seeds = 1;       // ablation: runs per cell, seeds seed, seed + 1, ...
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 40, .batch_size = 32, .eval_every = 0};
    ist::cli::CodecOptions coding;
};

/// The ResIST reference (Dun et al. 2022; dunchen/ResIST_release, cifar*_local_iteration_test.py and
/// data.py): momentum SGD 0.9, weight decay 5e-4, lr 0.1 divided by 10 at 50 % and 75 %, the
/// optimizer rebuilt at every repartition, l = 50, batch 128, S = 4, every worker shuffling the whole
/// training set; its network has no BN -> ReLU before the pool. Its depth and widths
/// (PreActResNet101) are the experiment's: give them as options.
const std::vector<ist::cli::Preset> kPresets{
    {"reference",
     {"--lr", "0.1", "--momentum", "0.9", "--weight-decay", "5e-4", "--local-steps", "50", "--batch", "128",
      "--workers", "4", "--whole-set", "--no-final-norm"},
     "dunchen/ResIST_release, cifar100_local_iteration_test.py and data.py"},
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    auto& o = c.options;
    PresetArguments args(argc, argv, kPresets);
    Options cli("resist-train",
                "Trains a pre-activation ResNet with ResIST and, with the same model, data, transport, rounds and\n"
                "local steps, with local SGD; prints test accuracy, training time and bytes for both.");
    add_preset_option(cli, kPresets);
    cli.flag("--show-config", c.show_config, "print the resolved settings (presets applied) and exit");
    cli.choice("--data", c.data, {"digits", "fashion"}, "NAME",
               "digits (embedded 8x8, default) | fashion (Debian's dataset-fashion-mnist)");
    TrainingOptions training(cli);
    training.schedule(o);
    training.lr(c.lr, "learning rate, divided by 10 at 50% and 75% of the rounds");
    cli.flag("--constant-lr", c.constant_lr, "no learning-rate decay");
    training.momentum(c.momentum, "momentum, state reset every round");
    training.weight_decay(c.weight_decay, "L2 weight decay (the reference's 5e-4)");
    cli.flag("--whole-set", c.whole_set, "every worker samples the whole training set (default: disjoint shards)");
    cli.list("--stages", c.stages, kCount, "C1,C2,...", "channels per stage (default 8,16,32)");
    cli.list("--blocks", c.blocks, kCount, "N1,N2,...",
             "residual blocks per stage (default 1,4,1); stages after the first\n"
             "start with a stride-2 projecting block; each stage is a section");
    bool no_final_norm = false;
    cli.flag("--post-activation", c.post_activation,
             "post-activation blocks (the original ResNet, the ablation's first rungs)\n"
             "instead of pre-activation ones");
    cli.flag("--no-final-norm", no_final_norm,
             "pre-activation: no BN -> ReLU before the pool (the ResIST reference's\n"
             "network has none)");
    cli.group("ResIST rules (ist::ResistOptions)");
    cli.value("--min-depth", c.min_depth, kCount, "D", "each subnet gets at least D blocks of a dealt section (default 1)");
    bool deal_projecting = false, no_scale = false;
    cli.flag("--no-share-projecting", deal_projecting, "deal the projecting (strided) blocks too");
    cli.flag("--all-sections", c.all_sections, "deal every section (default: only the longest)");
    cli.list("--sections", c.sections, kName, "N1,N2",
             "deal these sections by name (section<k>, see the printed table)");
    cli.flag("--no-scale", no_scale, "evaluate without scaling dealt branches by max(1/S, min_depth/n)");
    cli.group("Run");
    cli.flag("--ablation", c.ablation,
             "the ablation ladder instead (one line per rule, ResIST only); unless\n"
             "given, --blocks 2,8,2 (a long middle section, like ResNet101's) and\n"
             "--rounds 20");
    cli.list("--ablation-workers", c.ablation_workers, kCount, "L", "S values of the ablation (default 2,4)");
    cli.value("--ablation-l", c.ablation_l, kCount, "L", "l of the ladder's last rule (default 2 x --local-steps)");
    cli.value("--seeds", c.seeds, kCount, "N", "ablation: mean (and standard deviation) over N seeds (default 1)");
    cli.flag("--resist-only", c.skip_baseline, "skip the local SGD baseline");
    cli.value("--train-rows", c.train_rows, kCount, "N", "use only the first N training rows");
    cli.value("--test-rows", c.test_rows, kCount, "N", "evaluate on the first N test rows only");
    training.eval_every(o.eval_every);
    cli.value("--threads", c.threads, kCount, "N", "workers computing at once (default: the number of cores)");
    training.seed(o.seed);
    training.precision(o.precision);
    cli.flag("--progress", c.progress, "progress bar instead of one line per evaluation");
    cli.flag("--quiet", c.quiet, "print only the summary");
    c.coding.add_to(cli);
    cli.parse(args.argc(), args.argv());
    c.coding.apply(o);
    if (c.whole_set) o.sampling = ist::Sampling::WholeSet;
    c.final_norm = !no_final_norm;
    if (c.post_activation && no_final_norm)
        throw ist::ConfigError("--no-final-norm is for pre-activation blocks: a post-activation net has no final BN -> ReLU");
    if (c.ablation && c.post_activation)
        throw ist::ConfigError("--ablation chooses the block order of each rung: drop --post-activation");
    c.share_projecting = !deal_projecting;
    c.scale = !no_scale;
    c.seeds = std::max<std::size_t>(1, c.seeds);
    if (c.ablation && !cli.given("--blocks")) c.blocks = {2, 8, 2};
    if (c.ablation && !cli.given("--rounds")) o.rounds = 20;
    if (c.stages.size() != c.blocks.size())
        throw ist::ConfigError("--stages has " + std::to_string(c.stages.size()) + " entries, --blocks " +
                               std::to_string(c.blocks.size()) + "; give one of each per stage");
    return c;
}

std::vector<std::uint32_t> first_rows(std::size_t n) {
    std::vector<std::uint32_t> rows(n);
    std::iota(rows.begin(), rows.end(), 0u);
    return rows;
}

struct Data {
    ist::Dataset train, test;
    std::size_t side = 0;  // square images of side x side, one channel
};

Data load(const Config& c) {
    Data d;
    if (c.data == "digits") {
        std::tie(d.train, d.test) = ist::train_test_split(ist::load_digits(), 0.25, c.options.seed);
        d.side = 8;
    } else {
        std::tie(d.train, d.test) = ist::load_fashion_mnist();
        d.side = 28;
    }
    if (c.train_rows && c.train_rows < d.train.size()) d.train = ist::subset(d.train, first_rows(c.train_rows));
    if (c.test_rows && c.test_rows < d.test.size()) d.test = ist::subset(d.test, first_rows(c.test_rows));
    ist::standardize(d.train, d.test);
    return d;
}

ist::Network make_model(const Config& c, const Data& d) {
    return ist::make_resnet({.channels = 1, .height = d.side, .width = d.side, .classes = d.train.classes,
                             .stage_channels = c.stages, .stage_blocks = c.blocks, .seed = c.options.seed,
                             .order = c.post_activation ? ist::BlockOrder::PostActivation : ist::BlockOrder::PreActivation,
                             .final_norm = c.final_norm});
}

const char* network_name(const Config& c) {
    if (c.post_activation) return "post-activation ResNet";
    return c.final_norm ? "pre-activation ResNet" : "pre-activation ResNet (no final BN -> ReLU)";
}

std::string joined(const std::vector<std::size_t>& v, const char* sep) {
    std::string out;
    for (std::size_t x : v) out += (out.empty() ? "" : sep) + std::to_string(x);
    return out;
}

ist::ResistOptions resist_options(const Config& c) {
    return {.sections = c.sections, .all_sections = c.all_sections, .share_projecting = c.share_projecting,
            .min_depth = c.min_depth, .scale_branches = c.scale};
}

struct Outcome {
    double accuracy = 0.0, seconds = 0.0;
    std::uint64_t total_bytes = 0;
    std::size_t rounds = 0;
    std::string checksum;  ///< of the final weights (ist::weights_checksum)
    double bytes_per_round() const { return rounds ? static_cast<double>(total_bytes) / static_cast<double>(rounds) : 0.0; }
};

/// Trains a copy of `initial` with `partitioner` (+ HolderAverage) and returns what it reached.
template <class Partitioner>
Outcome train_one(const Config& c, const ist::Network& initial, const Data& d, Partitioner partitioner, bool verbose) {
    ist::Network net = initial;
    const std::size_t cores = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
    ist::ThreadsTransport transport({.concurrency = cores});
    ist::IstTrainer trainer(net, c.options, std::move(partitioner), ist::MomentumSgd(c.lr, c.momentum, c.weight_decay),
                            ist::HolderAverage(), std::move(transport), c.coding.make());
    if (!c.constant_lr) trainer.set_schedule(ist::step_decay(c.options.rounds));  // /10 at 50% and 75%
    ist::TrainResult r;
    if (!verbose) r = trainer.train(d.train, d.test);
    else if (c.progress) r = trainer.train(d.train, d.test, ist::ProgressBar());
    else r = trainer.train(d.train, d.test, ist::PrintMetrics());
    const auto& last = r.history.back();
    return {r.final_test->accuracy, last.seconds, last.total_bytes, last.round, ist::weights_checksum_hex(net)};
}

void print_outcome(const char* name, const Outcome& o) {
    std::printf("%-9s  final test accuracy %.4f, %.2f s training, %.3f MB/round, %.2f MB total (%zu rounds), weights %s\n",
                name, o.accuracy, o.seconds, o.bytes_per_round() / 1e6, static_cast<double>(o.total_bytes) / 1e6, o.rounds,
                o.checksum.c_str());
}

/// The sections (Units dimensions) of the network and what the partitioner does with them.
void describe(const Config& c, const ist::Network& net) {
    const auto& dims = net.dimensions();
    ist::ResistPartition resist(resist_options(c));
    ist::PartitionRng rng(c.options.seed);
    resist.validate(dims, c.options.workers);  // plan() assumes a validated configuration
    const ist::Plan plan = resist.plan(dims, c.options.workers, rng);
    for (std::size_t d = 0; d < dims.size(); ++d) {
        if (dims[d].kind != ist::DimKind::Units) continue;
        const bool dealt = plan[0].dims[d].has_value();
        std::printf("  section %-8s %zu block(s), projecting %s: %s", dims[d].name.c_str(), dims[d].size,
                    dims[d].projecting.empty() ? "none" : "block 0", dealt ? "dealt" : "shared by every subnet");
        if (dealt) {
            std::string held;
            for (const auto& wp : plan) held += (held.empty() ? "" : " / ") + std::to_string(wp.dims[d]->size());
            float scale = 1.0f;  // the smallest, i.e. that of the dealt (not shared) blocks
            for (std::uint32_t b = 0; b < dims[d].size; ++b)
                scale = std::min(scale, resist.unit_scale(dims, {static_cast<ist::DimId>(d), b}, c.options.workers));
            std::printf(", blocks per subnet (shared ones included) %s, evaluation scale %.3g", held.c_str(), scale);
        }
        std::printf("\n");
    }
}

/// --sections names must be sections of this network; the error lists the ones it has.
void check_sections(const Config& c, const ist::Network& net) {
    std::string have;
    for (const auto& dim : net.dimensions())
        if (dim.kind == ist::DimKind::Units)
            have += (have.empty() ? "" : ", ") + dim.name + " (" + std::to_string(dim.size) +
                    (dim.size == 1 ? " block)" : " blocks)");
    const auto& dims = net.dimensions();
    for (const auto& name : c.sections)
        if (std::none_of(dims.begin(), dims.end(),
                         [&](const ist::Dimension& d) { return d.kind == ist::DimKind::Units && d.name == name; }))
            throw ist::ConfigError("--sections: this network has no section '" + name + "'; its sections are " + have);
}

int run_comparison(const Config& c, const Data& d) {
    const ist::Network initial = make_model(c, d);
    check_sections(c, initial);
    if (!c.quiet) {
        std::printf("resist-train: %s (%zu train / %zu test rows), %s 1x%zux%zu, stages %s channels, "
                    "%s blocks, %zu parameters\n",
                    d.train.name.c_str(), d.train.size(), d.test.size(), network_name(c), d.side, d.side, joined(c.stages, "-").c_str(),
                    joined(c.blocks, "-").c_str(), initial.parameter_elements());
        std::printf("  S = %zu, l = %zu, %zu rounds, batch %zu per worker, momentum SGD lr %g (%s) momentum %g "
                    "weight decay %g, state reset every round%s\n",
                    c.options.workers, c.options.local_steps, c.options.rounds, c.options.batch_size, c.lr,
                    c.constant_lr ? "constant" : "/10 at 50% and 75%", c.momentum, c.weight_decay,
                    c.whole_set ? ", every worker samples the whole training set" : "");
        describe(c, initial);
        std::printf("== ResIST ==\n");
    }
    std::fflush(stdout);
    const Outcome resist = train_one(c, initial, d, ist::ResistPartition(resist_options(c)), !c.quiet);
    Outcome local;
    if (!c.skip_baseline) {
        if (!c.quiet) std::printf("== local SGD ==\n");
        std::fflush(stdout);
        local = train_one(c, initial, d, ist::FullModel(), !c.quiet);
    }
    print_outcome("ResIST", resist);
    if (!c.skip_baseline) {
        print_outcome("local SGD", local);
        std::printf("ResIST / local SGD: accuracy %+.4f, time x%.2f, bytes per round x%.2f\n",
                    resist.accuracy - local.accuracy, resist.seconds / local.seconds,
                    resist.bytes_per_round() / local.bytes_per_round());
    }
    return 0;
}

/// The talk's ablation (ResNet101 on CIFAR10) re-run at this scale, one rule added per line.
int run_ablation(const Config& c, const Data& d) {
    struct Rule {
        const char* name;
        ist::ResistOptions options;
        std::size_t local_steps;
        bool post_activation;  // the talk's first four rungs train the original ResNet
    };
    const std::size_t l = c.options.local_steps, l2 = c.ablation_l ? c.ablation_l : 2 * l;
    const std::size_t depth = std::max<std::size_t>(2, c.min_depth);
    const ist::ResistOptions scaled{.sections = {}, .all_sections = false, .share_projecting = true, .min_depth = 1,
                                    .scale_branches = true};
    ist::ResistOptions deep = scaled;
    deep.min_depth = depth;
    const std::vector<Rule> rules{
        {"naive: post-activation, all sections, projecting dealt, no scaling",
         {.sections = {}, .all_sections = true, .share_projecting = false, .min_depth = 1, .scale_branches = false}, l, true},
        {"+ share strided (projecting) blocks",
         {.sections = {}, .all_sections = true, .share_projecting = true, .min_depth = 1, .scale_branches = false}, l, true},
        {"+ deal only the longest section",
         {.sections = {}, .all_sections = false, .share_projecting = true, .min_depth = 1, .scale_branches = false}, l, true},
        {"+ scale branches at evaluation", scaled, l, true},
        {"+ pre-activation blocks", scaled, l, false},
        {"+ minimum depth", deep, l, false},
        {"+ different l", deep, l2, false},
    };
    std::printf("resist-train --ablation: %s (%zu train / %zu test rows), ResNet stages %s channels, "
                "%s blocks%s; %zu rounds, batch %zu, lr %g%s; ResIST test accuracy",
                d.train.name.c_str(), d.train.size(), d.test.size(), joined(c.stages, "-").c_str(),
                joined(c.blocks, "-").c_str(), c.final_norm ? "" : " (pre-activation: no final BN -> ReLU)",
                c.options.rounds, c.options.batch_size, c.lr, c.constant_lr ? "" : " (/10 at 50% and 75%)");
    if (c.seeds > 1)
        std::printf(", mean (sd) over seeds %zu..%zu", static_cast<std::size_t>(c.options.seed),
                    static_cast<std::size_t>(c.options.seed + c.seeds - 1));
    std::printf("\n%-66s %4s %4s", "rule", "l", "D");
    for (std::size_t s : c.ablation_workers) std::printf(c.seeds > 1 ? "   S = %-10zu" : "   S = %-3zu", s);
    std::printf("\n");
    std::fflush(stdout);
    for (const Rule& rule : rules) {
        std::printf("%-66s %4zu %4zu", rule.name, rule.local_steps, rule.options.min_depth);
        std::fflush(stdout);
        for (std::size_t s : c.ablation_workers) {
            std::vector<double> acc;
            for (std::size_t k = 0; k < c.seeds; ++k) {
                Config rc = c;
                rc.options.seed = c.options.seed + k;  // initial weights, partitions and sampling
                rc.options.workers = s;
                rc.options.local_steps = rule.local_steps;
                rc.post_activation = rule.post_activation;
                // The same number of local steps in total: a longer l means fewer rounds.
                rc.options.rounds = std::max<std::size_t>(1, c.options.rounds * l / rule.local_steps);
                acc.push_back(train_one(rc, make_model(rc, d), d, ist::ResistPartition(rule.options), false).accuracy);
            }
            const double mean = std::accumulate(acc.begin(), acc.end(), 0.0) / static_cast<double>(acc.size());
            double var = 0.0;
            for (double a : acc) var += (a - mean) * (a - mean);
            if (c.seeds > 1) std::printf("   %.4f (%.4f)", mean, std::sqrt(var / static_cast<double>(acc.size() - 1)));
            else std::printf("   %.4f", mean);
            std::fflush(stdout);
        }
        std::printf("\n");
    }
    return 0;
}

/// --show-config: the settings that training would use, one "name value" per line.
int show_config(const Config& c) {
    const auto& o = c.options;
    std::printf("workers %zu\nlocal-steps %zu\nrounds %zu\nbatch %zu\nlr %g\nlr-schedule %s\nmomentum %g\n"
                "weight-decay %g\noptimizer-state reset\nsampling %s\nnetwork %s\nstages %s\nblocks %s\nmin-depth %zu\n"
                "seed %zu\n",
                o.workers, o.local_steps, o.rounds, o.batch_size, c.lr, c.constant_lr ? "constant" : "/10 at 50% and 75%",
                c.momentum, c.weight_decay, c.whole_set ? "whole-set" : "shards", network_name(c),
                joined(c.stages, ",").c_str(), joined(c.blocks, ",").c_str(), c.min_depth, static_cast<std::size_t>(o.seed));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("resist-train", [&] {
        const Config c = parse(argc, argv);
        if (c.show_config) return show_config(c);
        const Data d = load(c);
        return c.ablation ? run_ablation(c, d) : run_comparison(c, d);
    });
}
