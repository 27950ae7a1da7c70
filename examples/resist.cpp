// resist-train: ResIST on a small pre-activation ResNet, side by side with local SGD.
//
//   resist-train                                # digits (embedded), S = 4, ResIST then local SGD
//   resist-train --data fashion --train-rows 12000 --rounds 30
//   resist-train --ablation                     # the talk's ablation ladder at small scale
//   resist-train --help
//
// Both methods train the same network from the same initial weights on the same data shards,
// with the same transport, momentum SGD (state reset every round, as the reference), the same
// number of rounds and local steps; only the partitioner differs (ResistPartition vs FullModel).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

namespace {

struct Config {
    std::string data = "digits";
    std::vector<std::size_t> stages{8, 16, 32}, blocks{1, 4, 1};
    std::vector<std::string> sections;
    float lr = 0.05f, momentum = 0.9f, weight_decay = 5e-4f;
    std::size_t min_depth = 1, train_rows = 0, test_rows = 0, threads = 0;
    bool share_projecting = true, all_sections = false, scale = true, constant_lr = false;
    bool quiet = false, progress = false, ablation = false, skip_baseline = false;
    std::vector<std::size_t> ablation_workers{2, 4};
    std::size_t ablation_l = 0;  // 0: twice --local-steps
    std::size_t seeds = 1;       // ablation: runs per cell, seeds seed, seed + 1, ...
    bool blocks_given = false, rounds_given = false;
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 40, .batch_size = 32, .eval_every = 0};
};

const char* kUsage = R"(usage: resist-train [options]
Trains a pre-activation ResNet with ResIST and, with the same model, data, transport, rounds and
local steps, with local SGD; prints test accuracy, training time and bytes for both.
  --data NAME            digits (embedded 8x8, default) | fashion (Debian's dataset-fashion-mnist)
  --workers S            workers = subnets (default 4)
  --local-steps L        local steps per round (default 10)
  --rounds T             synchronisation rounds (default 40)
  --lr X                 learning rate (default 0.05), divided by 10 at 50% and 75% of the rounds
  --constant-lr          no learning-rate decay
  --momentum X           momentum, state reset every round (default 0.9)
  --weight-decay X       L2 weight decay (default 5e-4, the reference)
  --batch B              mini-batch per worker (default 32)
  --stages C1,C2,...     channels per stage (default 8,16,32)
  --blocks N1,N2,...     residual blocks per stage (default 1,4,1); stages after the first
                         start with a stride-2 projecting block; each stage is a section
ResIST rules (ist::ResistOptions):
  --min-depth D          each subnet gets at least D blocks of a dealt section (default 1)
  --no-share-projecting  deal the projecting (strided) blocks too
  --all-sections         deal every section (default: only the longest)
  --sections N1,N2       deal these sections by name (blocks<k>, see the printed table)
  --no-scale             evaluate without scaling dealt branches by max(1/S, min_depth/n)
Run:
  --ablation             the ablation ladder instead (one line per rule, ResIST only); unless
                         given, --blocks 2,8,2 (a long middle section, like ResNet101's) and
                         --rounds 20
  --ablation-workers L   S values of the ablation (default 2,4)
  --ablation-l L         l of the ladder's last rule (default 2 x --local-steps)
  --seeds N              ablation: mean (and standard deviation) over N seeds (default 1)
  --resist-only          skip the local SGD baseline
  --train-rows N         use only the first N training rows
  --test-rows N          evaluate on the first N test rows only
  --eval-every K         evaluate every K rounds (default 0: at the end only)
  --threads N            workers computing at once (default: the number of cores)
  --seed N               seed of initialisation, partitions and sampling (default 42)
  --progress             progress bar instead of one line per evaluation
  --quiet                print only the summary
  --help
)";

std::size_t parse_count(const std::string& option, const std::string& v) {
    std::size_t pos = 0;
    unsigned long long n = 0;
    try {
        n = std::stoull(v, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (pos != v.size() || v.empty() || v[0] == '-')
        throw ist::ConfigError(option + " needs a non-negative integer, got '" + v + "'");
    return static_cast<std::size_t>(n);
}

float parse_float(const std::string& option, const std::string& v) {
    std::size_t pos = 0;
    float x = 0.0f;
    try {
        x = std::stof(v, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    if (pos != v.size() || v.empty()) throw ist::ConfigError(option + " needs a number, got '" + v + "'");
    return x;
}

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream in(s);
    for (std::string item; std::getline(in, item, ',');) out.push_back(item);
    return out;
}

std::vector<std::size_t> parse_counts(const std::string& option, const std::string& s) {
    std::vector<std::size_t> out;
    for (const auto& item : split(s)) out.push_back(parse_count(option, item));
    if (out.empty()) throw ist::ConfigError(option + " needs a comma-separated list");
    return out;
}

Config parse(int argc, char** argv) {
    Config c;
    std::map<std::string, bool*> flags{{"--quiet", &c.quiet},           {"--progress", &c.progress},
                                       {"--ablation", &c.ablation},     {"--all-sections", &c.all_sections},
                                       {"--constant-lr", &c.constant_lr}, {"--resist-only", &c.skip_baseline}};
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--help" || arg == "-h") {
            std::cout << kUsage;
            std::exit(0);
        }
        if (flags.count(arg)) {
            *flags[arg] = true;
            continue;
        }
        if (arg == "--no-share-projecting") { c.share_projecting = false; continue; }
        if (arg == "--no-scale") { c.scale = false; continue; }
        const bool known = arg == "--data" || arg == "--workers" || arg == "--local-steps" || arg == "--rounds" ||
                           arg == "--lr" || arg == "--momentum" || arg == "--weight-decay" || arg == "--batch" ||
                           arg == "--stages" || arg == "--blocks" || arg == "--min-depth" || arg == "--sections" ||
                           arg == "--ablation-workers" || arg == "--ablation-l" || arg == "--train-rows" ||
                           arg == "--test-rows" || arg == "--eval-every" || arg == "--threads" || arg == "--seed" ||
                           arg == "--seeds";
        if (!known) throw ist::ConfigError("unknown option " + arg + " (see --help)");
        if (i + 1 >= argc) throw ist::ConfigError(arg + " needs a value (see --help)");
        const std::string v = argv[++i];
        if (arg == "--data") c.data = v;
        else if (arg == "--workers") c.options.workers = parse_count(arg, v);
        else if (arg == "--local-steps") c.options.local_steps = parse_count(arg, v);
        else if (arg == "--rounds") c.options.rounds = parse_count(arg, v), c.rounds_given = true;
        else if (arg == "--batch") c.options.batch_size = parse_count(arg, v);
        else if (arg == "--seed") c.options.seed = parse_count(arg, v);
        else if (arg == "--eval-every") c.options.eval_every = parse_count(arg, v);
        else if (arg == "--lr") c.lr = parse_float(arg, v);
        else if (arg == "--momentum") c.momentum = parse_float(arg, v);
        else if (arg == "--weight-decay") c.weight_decay = parse_float(arg, v);
        else if (arg == "--stages") c.stages = parse_counts(arg, v);
        else if (arg == "--blocks") c.blocks = parse_counts(arg, v), c.blocks_given = true;
        else if (arg == "--min-depth") c.min_depth = parse_count(arg, v);
        else if (arg == "--sections") c.sections = split(v);
        else if (arg == "--ablation-workers") c.ablation_workers = parse_counts(arg, v);
        else if (arg == "--ablation-l") c.ablation_l = parse_count(arg, v);
        else if (arg == "--train-rows") c.train_rows = parse_count(arg, v);
        else if (arg == "--test-rows") c.test_rows = parse_count(arg, v);
        else if (arg == "--threads") c.threads = parse_count(arg, v);
        else if (arg == "--seeds") c.seeds = std::max<std::size_t>(1, parse_count(arg, v));
    }
    if (c.ablation && !c.blocks_given) c.blocks = {2, 8, 2};
    if (c.ablation && !c.rounds_given) c.options.rounds = 20;
    if (c.stages.size() != c.blocks.size())
        throw ist::ConfigError("--stages has " + std::to_string(c.stages.size()) + " entries, --blocks " +
                               std::to_string(c.blocks.size()) + "; give one of each per stage");
    if (c.data != "digits" && c.data != "fashion")
        throw ist::ConfigError("unknown --data " + c.data + " (digits | fashion)");
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
    return ist::make_preact_resnet({.channels = 1, .height = d.side, .width = d.side, .classes = d.train.classes,
                                    .stage_channels = c.stages, .stage_blocks = c.blocks, .seed = c.options.seed});
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
                            ist::HolderAverage(), std::move(transport));
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
        std::printf("resist-train: %s (%zu train / %zu test rows), pre-activation ResNet 1x%zux%zu, stages %s channels, "
                    "%s blocks, %zu parameters\n",
                    d.train.name.c_str(), d.train.size(), d.test.size(), d.side, d.side, joined(c.stages, "-").c_str(),
                    joined(c.blocks, "-").c_str(), initial.parameter_elements());
        std::printf("  S = %zu, l = %zu, %zu rounds, batch %zu per worker, momentum SGD lr %g (%s) momentum %g "
                    "weight decay %g, state reset every round\n",
                    c.options.workers, c.options.local_steps, c.options.rounds, c.options.batch_size, c.lr,
                    c.constant_lr ? "constant" : "/10 at 50% and 75%", c.momentum, c.weight_decay);
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
    };
    const std::size_t l = c.options.local_steps, l2 = c.ablation_l ? c.ablation_l : 2 * l;
    const std::size_t depth = std::max<std::size_t>(2, c.min_depth);
    const std::vector<Rule> rules{
        {"naive: all sections, projecting dealt, no scaling",
         {.sections = {}, .all_sections = true, .share_projecting = false, .min_depth = 1, .scale_branches = false}, l},
        {"+ share strided (projecting) blocks",
         {.sections = {}, .all_sections = true, .share_projecting = true, .min_depth = 1, .scale_branches = false}, l},
        {"+ deal only the longest section",
         {.sections = {}, .all_sections = false, .share_projecting = true, .min_depth = 1, .scale_branches = false}, l},
        {"+ scale branches at evaluation",
         {.sections = {}, .all_sections = false, .share_projecting = true, .min_depth = 1, .scale_branches = true}, l},
        {"+ minimum depth", {.sections = {}, .all_sections = false, .share_projecting = true, .min_depth = depth, .scale_branches = true}, l},
        {"+ different l", {.sections = {}, .all_sections = false, .share_projecting = true, .min_depth = depth, .scale_branches = true}, l2},
    };
    std::printf("resist-train --ablation: %s (%zu train / %zu test rows), pre-activation ResNet stages %s channels, "
                "%s blocks; %zu rounds, batch %zu, lr %g%s; ResIST test accuracy",
                d.train.name.c_str(), d.train.size(), d.test.size(), joined(c.stages, "-").c_str(),
                joined(c.blocks, "-").c_str(), c.options.rounds, c.options.batch_size, c.lr,
                c.constant_lr ? "" : " (/10 at 50% and 75%)");
    if (c.seeds > 1)
        std::printf(", mean (sd) over seeds %zu..%zu", static_cast<std::size_t>(c.options.seed),
                    static_cast<std::size_t>(c.options.seed + c.seeds - 1));
    std::printf("\n%-52s %4s %4s", "rule", "l", "D");
    for (std::size_t s : c.ablation_workers) std::printf(c.seeds > 1 ? "   S = %-10zu" : "   S = %-3zu", s);
    std::printf("\n");
    std::fflush(stdout);
    for (const Rule& rule : rules) {
        std::printf("%-52s %4zu %4zu", rule.name, rule.local_steps, rule.options.min_depth);
        std::fflush(stdout);
        for (std::size_t s : c.ablation_workers) {
            std::vector<double> acc;
            for (std::size_t k = 0; k < c.seeds; ++k) {
                Config rc = c;
                rc.options.seed = c.options.seed + k;  // initial weights, partitions and sampling
                rc.options.workers = s;
                rc.options.local_steps = rule.local_steps;
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

}  // namespace

int main(int argc, char** argv) {
    try {
        const Config c = parse(argc, argv);
        const Data d = load(c);
        return c.ablation ? run_ablation(c, d) : run_comparison(c, d);
    } catch (const std::exception& e) {
        std::cerr << "resist-train: error: " << e.what() << '\n';
        return 2;
    }
}
