// transformer-train: IST on a small transformer (cut by attention heads, feed-forward neurons, both,
// or whole blocks) side by side with local SGD, data parallel and single-worker training, on WordNet's
// lexicographer-file task (a gloss -> one of 45 files such as noun.animal; Debian's wordnet-base).
//
//   transformer-train                                   # every method, S = 4, the defaults below
//   transformer-train --methods heads,local-sgd --workers 2 --seeds 3 --target 0.4
//   transformer-train --help
//
// Every method trains the same model from the same initial weights on the same data with the same
// optimizer, rounds and local steps; only the partitioner (and for data parallel the aggregator)
// differs. The single worker runs the same rounds and local steps alone. Times are also given under
// ist-bench's network model (support/network_model.hpp): each worker on a machine of its own, joined by
// 1 and 10 Gbit/s links (--link).
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <ist/data/gloss_sequences.hpp>
#include <ist/partition/any_partition.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "training_options.hpp"
#include "network_model.hpp"

namespace {

const std::vector<std::string> kMethods{"heads", "ffn", "both", "blocks", "local-sgd", "data-parallel", "single"};

struct Config {
    std::string methods = "heads,ffn,both,blocks,local-sgd,data-parallel,single";
    ist::TransformerShape shape{.width = 64, .heads = 4, .ffn = 256, .blocks = 2};
    ist::wordnet::GlossTaskOptions data{.sequence_length = 24, .max_words = 4000, .min_count = 2};
    std::string wordnet_dir = std::string(ist::wordnet::kDefaultDirectory);
    float lr = 1e-3f;
    bool no_scale = false, carry_state = false, quiet = false, embedding_rows = false, vocabulary_cut = false;
    std::size_t seeds = 1, train_rows = 0, test_rows = 0, threads = 0;
    double target = 0.0;
    std::string curve;  // CSV of every evaluation
    std::vector<ist_bench::Link> links = ist_bench::parse_links("1G,10G");
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 30, .batch_size = 64, .sampling = ist::Sampling::Shards,
                                .eval_every = 5, .eval_batch = 250};
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    auto& o = c.options;
    Options cli("transformer-train",
                "Trains a transformer classifier of WordNet glosses (45 lexicographer files) with IST (heads, FFN\n"
                "neurons, both, or whole blocks), local SGD, data parallel and a single worker, from the same\n"
                "initial weights; prints accuracy, time to a target accuracy, CPU per worker and bytes per round.");
    cli.choices("--methods", c.methods, kMethods, "M1,M2", "heads | ffn | both | blocks | local-sgd | data-parallel | single\n(default: all)");
    TrainingOptions training(cli);
    training.schedule(o);
    training.lr(c.lr, "Adam's learning rate");
    training.carry_state(c.carry_state, "carry Adam's moments with their parameters (default: reset every round)");
    cli.flag("--vocabulary-cut", c.vocabulary_cut, "a worker holds only the embedding rows its round's batches use, each row\n"
                                                   "averaged over the workers that held it (not with data-parallel)");
    cli.flag("--no-scale", c.no_scale, "no activation scaling: a subnet with 1/S of the heads (or neurons) is not\n"
                                       "scaled by S; blocks: no 1/S branch scale in evaluation");
    cli.group("Model");
    cli.value("--width", c.shape.width, kWidth, "D", "model width (default 64)");
    cli.value("--heads", c.shape.heads, kWidth, "H", "attention heads per block (default 4), must divide the width");
    cli.value("--ffn", c.shape.ffn, kWidth, "F", "feed-forward neurons per block (default 256)");
    cli.value("--blocks", c.shape.blocks, kWidth, "N", "transformer blocks (default 2)");
    cli.value("--length", c.data.sequence_length, kWidth, "T", "tokens per gloss, longer ones cut (default 24)");
    cli.value("--vocabulary", c.data.max_words, kCount, "V", "words kept besides padding and unknown (default 4000)");
    cli.group("Run");
    cli.value("--wordnet", c.wordnet_dir, kName, "DIR", "WordNet's database directory (default /usr/share/wordnet)");
    cli.value("--train-rows", c.train_rows, kCount, "N", "train on N rows drawn at random (default: all)");
    cli.value("--test-rows", c.test_rows, kCount, "N", "evaluate on N rows drawn at random (default: all)");
    training.eval_every(o.eval_every, "evaluate every K rounds (0: at the end only)");
    cli.value("--target", c.target, kDouble, "A", "report the training seconds to reach test accuracy A");
    cli.value("--seeds", c.seeds, kPositive, "N", "runs per method, seeds seed .. seed + N - 1 (default 1)");
    training.seed(o.seed);
    training.precision(o.precision);
    cli.value("--threads", c.threads, kCount, "N", "workers computing at once (default: the number of cores)");
    cli.text("--curve", c.curve, "FILE", "write every evaluation as CSV (method,seed,round,seconds,accuracy,bytes,\n"
                                         "then seconds under the network model per link)");
    std::string links;
    cli.text("--link", links, "LIST", "link speeds of the network model, bits per second with a K, M or G suffix\n"
                                      "(default 1G,10G)");
    cli.flag("--quiet", c.quiet, "print only the summary");
    cli.flag("--embedding-rows", c.embedding_rows, "print how many embedding rows each worker's batches touch per round\n"
                                                   "(--rounds rounds, the trainer's streams) and exit: the vocabulary cut's bytes");
    cli.parse(argc, argv);
    if (cli.given("--link")) c.links = ist_bench::parse_links(links);
    const std::vector<std::string> methods = ist::cli::split(c.methods);
    if (c.vocabulary_cut && std::find(methods.begin(), methods.end(), "data-parallel") != methods.end())
        throw ist::ConfigError("--vocabulary-cut does not apply to data-parallel (it averages gradients every step)");
    o.optimizer_state = c.carry_state ? ist::OptimizerState::Carry : ist::OptimizerState::Reset;
    o.scale_activations = !c.no_scale;
    return c;
}

/// `n` rows of `data` drawn without replacement by a fixed seed (all of them when n is 0 or too many).
ist::Dataset sample_rows(const ist::Dataset& data, std::size_t n, std::uint64_t seed) {
    if (n == 0 || n >= data.size()) return data;
    ist::detail::RandomEngine rng(seed);
    std::vector<std::uint32_t> rows = ist::detail::sample_without_replacement(data.size(), n, rng);
    std::sort(rows.begin(), rows.end());
    return ist::subset(data, rows);
}

struct Data {
    ist::Dataset train, test;
    std::size_t vocabulary = 0;
};

Data load(const Config& c) {
    const ist::wordnet::GlossTask task = ist::wordnet::gloss_task(ist::wordnet::read_synsets(c.wordnet_dir), c.data);
    return {sample_rows(task.train, c.train_rows, 1), sample_rows(task.test, c.test_rows, 2), task.vocabulary.size()};
}

struct Outcome {
    double accuracy = 0.0, best = 0.0, seconds = 0.0, cpu_per_worker = 0.0;
    double to_target = -1.0;  // training seconds to the first evaluation at the target; -1: never
    double bytes_per_round = 0.0;
    std::vector<double> modelled, modelled_to_target;  // per link: all rounds, to the target (-1: never)
};

/// Per link, the modelled seconds at the end of each round (ist-bench's network model).
std::vector<std::vector<double>> modelled_timelines(const Config& c, const std::string& method, const ist::TrainResult& r) {
    const ist_bench::Exchange exchange =
        method == "data-parallel" ? ist_bench::Exchange::RingAllReduce : ist_bench::Exchange::ParameterNode;
    const std::size_t workers = method == "single" ? 1 : c.options.workers;
    std::vector<std::vector<double>> timelines;
    for (const ist_bench::Link& link : c.links)
        timelines.push_back(ist_bench::modelled_timeline(r.history, exchange, workers, c.options.local_steps, link.bytes_per_second));
    return timelines;
}

Outcome summarise(const Config& c, const std::string& method, std::uint64_t seed, const ist::TrainResult& r,
                  std::ofstream* curve) {
    Outcome out;
    const std::vector<std::vector<double>> timelines = modelled_timelines(c, method, r);
    out.modelled_to_target.assign(c.links.size(), -1.0);
    double worker_seconds = 0.0;
    std::size_t workers = 1;
    for (std::size_t i = 0; i < r.history.size(); ++i) {
        const ist::RoundMetrics& m = r.history[i];
        for (double s : m.worker_seconds) worker_seconds += s;
        workers = std::max<std::size_t>(workers, m.worker_seconds.size());
        if (!m.test) continue;
        out.best = std::max(out.best, m.test->accuracy);
        if (c.target > 0.0 && out.to_target < 0.0 && m.test->accuracy >= c.target) {
            out.to_target = m.seconds;
            for (std::size_t k = 0; k < c.links.size(); ++k) out.modelled_to_target[k] = timelines[k][i];
        }
        if (!curve) continue;
        *curve << method << ',' << seed << ',' << m.round << ',' << m.seconds << ',' << m.test->accuracy << ',' << m.total_bytes;
        for (const std::vector<double>& t : timelines) *curve << ',' << t[i];
        *curve << '\n';
    }
    for (const std::vector<double>& t : timelines) out.modelled.push_back(t.back());
    const ist::RoundMetrics& last = r.history.back();
    out.accuracy = r.final_test->accuracy;
    out.seconds = last.seconds;
    out.cpu_per_worker = worker_seconds / static_cast<double>(workers);
    out.bytes_per_round = static_cast<double>(last.total_bytes) / static_cast<double>(last.round);
    return out;
}

ist::AnyPartition partition_of(const std::string& method, bool scale) {
    if (method == "heads") return ist::TransformerPartition(ist::TransformerCut::Heads);
    if (method == "ffn") return ist::TransformerPartition(ist::TransformerCut::Ffn);
    if (method == "both") return ist::TransformerPartition(ist::TransformerCut::Both);
    if (method == "blocks") {
        ist::ResistOptions options;
        options.scale_branches = scale;
        return ist::ResistPartition(options);
    }
    return ist::FullModel();
}

/// IST's loop over `partition` (local SGD and one worker: the full model), with Adam.
template <ist::Partitioner P>
ist::TrainResult train_ist(const Config& c, const Data& d, ist::Transformer& model, const ist::TrainerOptions& o, P partition,
                           ist::ThreadsTransport transport) {
    ist::IstTrainer<ist::Transformer, P, ist::Adam> trainer(model, o, std::move(partition), ist::Adam(c.lr), {}, std::move(transport));
    return c.quiet ? trainer.train(d.train, d.test) : trainer.train(d.train, d.test, ist::PrintMetrics());
}

/// Trains a fresh model of `seed` with `method`; prints each evaluation unless quiet.
Outcome train_one(const Config& c, const Data& d, const std::string& method, std::uint64_t seed, std::ofstream* curve) {
    ist::TransformerShape shape = c.shape;
    shape.vocabulary = d.vocabulary;
    shape.sequence_length = c.data.sequence_length;
    shape.classes = d.train.classes;
    shape.seed = seed;
    ist::Transformer model(shape);
    model.check_tokens(d.train);
    model.check_tokens(d.test);
    ist::TrainerOptions o = c.options;
    o.seed = seed;
    if (method == "single") o.workers = 1;
    const std::size_t cores = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
    ist::ThreadsTransport transport({.concurrency = cores});
    ist::TrainResult r;
    if (method == "data-parallel") {
        ist::DataParallelTrainer<ist::Transformer, ist::Adam> trainer(model, o, {}, ist::Adam(c.lr), {}, std::move(transport));
        r = c.quiet ? trainer.train(d.train, d.test) : trainer.train(d.train, d.test, ist::PrintMetrics());
    } else if (c.vocabulary_cut) {
        r = train_ist(c, d, model, o, ist::VocabularyCut<ist::AnyPartition>(partition_of(method, !c.no_scale)), std::move(transport));
    } else {
        r = train_ist(c, d, model, o, partition_of(method, !c.no_scale), std::move(transport));
    }
    return summarise(c, method, seed, r, curve);
}

/// Each seed's seconds to the target, "12.5 / never / 9.75".
template <class Field>
std::string per_seed(const std::vector<Outcome>& runs, Field seconds) {
    std::string times;
    for (const Outcome& o : runs) {
        const double s = seconds(o);
        times += (times.empty() ? "" : " / ") + (s < 0 ? std::string("never") : std::to_string(s).substr(0, 6));
    }
    return times;
}

void print_summary(const Config& c, const std::string& method, const std::vector<Outcome>& runs) {
    auto mean = [&](auto field) {
        double sum = 0.0;
        for (const Outcome& o : runs) sum += field(o);
        return sum / static_cast<double>(runs.size());
    };
    const bool with_target = c.target > 0.0;
    std::printf("%-13s accuracy %.4f (best %.4f), %.1f s training, %.1f s CPU per worker, %.3f MB per round",
                method.c_str(), mean([](const Outcome& o) { return o.accuracy; }), mean([](const Outcome& o) { return o.best; }),
                mean([](const Outcome& o) { return o.seconds; }), mean([](const Outcome& o) { return o.cpu_per_worker; }),
                mean([](const Outcome& o) { return o.bytes_per_round; }) / 1e6);
    if (with_target) std::printf(", to target %s s", per_seed(runs, [](const Outcome& o) { return o.to_target; }).c_str());
    for (std::size_t k = 0; k < c.links.size(); ++k) {
        std::printf("; at %s %.1f s", c.links[k].name.c_str(), mean([k](const Outcome& o) { return o.modelled[k]; }));
        if (with_target)
            std::printf(", to target %s s", per_seed(runs, [k](const Outcome& o) { return o.modelled_to_target[k]; }).c_str());
    }
    std::printf("\n");
}

/// How many distinct token ids `rows` of `data` hold (`seen` is scratch of the vocabulary's size).
std::size_t distinct_ids(const ist::Dataset& data, const std::vector<std::uint32_t>& rows, std::vector<char>& seen) {
    std::fill(seen.begin(), seen.end(), 0);
    std::size_t distinct = 0;
    for (std::uint32_t r : rows)
        for (std::size_t t = 0; t < data.feature_count(); ++t) {
            char& mark = seen[static_cast<std::size_t>(data.features(r, t))];
            distinct += mark == 0;
            mark = 1;
        }
    return distinct;
}

/// The vocabulary cut, measured without training: per round, the distinct token ids in the l batches
/// each worker draws (peeked from the trainer's own streams, as the cut's plan is), and what sending
/// only those embedding rows (with their ids) would weigh against the whole table.
void report_embedding_rows(const Config& c, const Data& d) {
    const ist::TrainerOptions& o = c.options;
    ist::WorkerStreams streams(o);
    streams.prepare(d.train);
    std::vector<char> seen(d.vocabulary);
    std::size_t worker_round = 0, touched = 0, most = 0;
    std::vector<std::size_t> every_worker(o.workers);
    std::iota(every_worker.begin(), every_worker.end(), std::size_t{0});
    for (std::size_t round = 1; round <= o.rounds; ++round) {
        const ist::RoundStreams r = streams.begin_round(round);
        for (const ist::BatchSampler& sampler : r.sampler) {
            const std::size_t rows = distinct_ids(d.train, streams.peek_round_rows(sampler), seen);
            ++worker_round;
            touched += rows;
            most = std::max(most, rows);
        }
        streams.end_round(r, every_worker);  // every worker's stream moves past its round's batches
    }
    const double mean = static_cast<double>(touched) / static_cast<double>(worker_round), row_bytes = 4.0 * static_cast<double>(c.shape.width);
    std::printf("embedding rows a worker's round touches (l = %zu batches of %zu glosses, %zu rounds x %zu workers): "
                "mean %.0f of %zu (%.1f%%), at most %zu\n",
                o.local_steps, o.batch_size, o.rounds, o.workers, mean, d.vocabulary, 100.0 * mean / static_cast<double>(d.vocabulary), most);
    std::printf("embedding bytes per worker and direction: %.3f MB as the whole table, %.3f MB as those rows with their ids\n",
                row_bytes * static_cast<double>(d.vocabulary) / 1e6, mean * (row_bytes + 4.0) / 1e6);
}

int run(const Config& c) {
    const Data d = load(c);
    if (c.embedding_rows) {
        report_embedding_rows(c, d);
        return 0;
    }
    std::printf("WordNet glosses: %zu train / %zu test rows, %zu token ids, %zu tokens each; model width %zu, %zu heads, "
                "FFN %zu, %zu blocks; S = %zu, l = %zu, %zu rounds, batch %zu\n",
                d.train.size(), d.test.size(), d.vocabulary, c.data.sequence_length, c.shape.width, c.shape.heads,
                c.shape.ffn, c.shape.blocks, c.options.workers, c.options.local_steps, c.options.rounds, c.options.batch_size);
    std::ofstream curve_file;
    if (!c.curve.empty()) {
        curve_file.open(c.curve);
        ist::detail::require<ist::DataError>(curve_file.good(), "--curve: cannot write " + c.curve);
        curve_file << "method,seed,round,seconds,accuracy,total_bytes";
        for (const ist_bench::Link& link : c.links) curve_file << ",seconds_" << link.slug;
        curve_file << '\n';
    }
    std::vector<std::pair<std::string, std::vector<Outcome>>> results;
    for (const std::string& method : ist::cli::split(c.methods)) {
        std::vector<Outcome> runs;
        for (std::size_t s = 0; s < c.seeds; ++s) {
            if (!c.quiet) std::printf("-- %s, seed %zu\n", method.c_str(), static_cast<std::size_t>(c.options.seed + s));
            runs.push_back(train_one(c, d, method, c.options.seed + s, curve_file.is_open() ? &curve_file : nullptr));
        }
        results.emplace_back(method, runs);
    }
    std::printf("summary (mean over %zu seed(s); load: see uptime; \"at <link>\": seconds under ist-bench's network model)\n",
                c.seeds);
    for (const auto& [method, runs] : results) print_summary(c, method, runs);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("transformer-train", [&] { return run(parse(argc, argv)); });
}
