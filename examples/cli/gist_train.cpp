// gist-train: node classification with a GCN trained by GIST (graph independent subnet
// training), beside full training (one worker) and local SGD, on the same graph and split.
//
//   gist-train                                  # digits kNN graph (1,797 nodes), S = 4
//   gist-train --data fashion --graph-cache fashion-knn10.edgelist
//   gist-train --data karate                    # Zachary's karate club: a smoke test
//   gist-train --clusters 20 --clusters-per-batch 4   # Cluster-GCN mini-batches
//   gist-train --preset reference --show-config       # the GIST reference's settings, resolved
//   gist-train --help
//
// Every method trains the same network (GraphConv -> LayerNorm -> ReLU -> ... -> GraphConv, from
// the same initial weights) with Adam rebuilt every round, for the same rounds x local steps,
// each local step on the whole graph (or on a Cluster-GCN batch). They differ only in the
// partitioner and S: GistPartition with S workers, FullModel with 1, FullModel with S.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <ist/ist.hpp>

#include <ist/model/graph/footprint.hpp>

#include "cli.hpp"
#include "training_options.hpp"
#include "codec_options.hpp"
#include "heap_counter.hpp"
#include "preset.hpp"

namespace {

struct Config {
    std::string data = "digits", graph_cache, methods = "gist,full,local-sgd";
    std::vector<std::size_t> hidden{256, 256};
    std::size_t layers = 0;  // 0: hidden.size() + 1
    std::size_t workers = 4, rounds = 30, local_steps = 5, k = 10, clusters = 0, clusters_per_batch = 1;
    std::size_t eval_every = 10, blas_threads = 1;
    std::uint64_t seed = 42;
    float lr = 0.01f, dropout = 0.0f, weight_decay = 0.0f;
    bool split_input = false, keep_last_hidden = false, scale_activations = false, quiet = false;
    ist::Precision precision = ist::Precision::Fp32;
    bool step_decay = false, show_config = false;
    ist::cli::CodecOptions coding;
};

/// The GIST reference's small-graph script (Wolfe et al. 2021; wolfecameron/GIST, gcn/train_ist.py):
/// Adam at lr 0.01 with weight decay 5e-4, rebuilt every round, divided by 10 at 50 % and 75 % of
/// training, dropout 0.5, 5 local steps per round, the input features split among the subnets and
/// the last hidden layer kept whole. Its width (16), S (2) and length (200 steps) are the
/// experiment's: give them as options. (Its random projection of the input features has no option.)
const std::vector<ist::cli::Preset> kPresets{
    {"reference",
     {"--lr", "0.01", "--weight-decay", "5e-4", "--step-decay", "--dropout", "0.5", "--local-steps", "5",
      "--split-input", "--keep-last-hidden"},
     "wolfecameron/GIST, gcn/train_ist.py"},
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    PresetArguments args(argc, argv, kPresets);
    Options cli("gist-train",
                "Node classification with a GCN (GraphConv -> LayerNorm -> ReLU -> ... -> GraphConv, Adam rebuilt\n"
                "every round) trained by GIST, full training (S = 1) and local SGD (S full models averaged), on\n"
                "the same graph, split and initial weights. Prints test accuracy, training time, bytes exchanged\n"
                "and peak memory per worker for each.");
    add_preset_option(cli, kPresets);
    cli.flag("--show-config", c.show_config, "print the resolved settings (presets applied) and exit");
    cli.choice("--data", c.data, {"digits", "fashion", "fashion-mnist", "karate"}, "NAME",
               "digits (default: 1,797 nodes, kNN graph over the 64 pixels, 25% test)\n"
               "| fashion (Fashion-MNIST: 70,000 nodes, kNN graph over the 784 pixels,\n"
               "  official 60,000 / 10,000 split; Debian's dataset-fashion-mnist)\n"
               "| karate (Zachary's club: 34 nodes, one-hot features, trained on the\n"
               "  two leaders' labels, tested on the other 32)");
    cli.value("--k", c.k, kPositive, "K", "neighbours of the kNN graph (default 10)");
    cli.text("--graph-cache", c.graph_cache, "PATH",
             "load the graph from PATH if it exists, else build the kNN graph and\n"
             "write it there: a \"u v\" edge list, or scipy CSR (indptr, indices) if\n"
             "PATH ends in .npz (the kNN graph of Fashion-MNIST takes minutes)");
    cli.choices("--methods", c.methods, {"gist", "full", "local-sgd"}, "LIST",
                "which to run, comma-separated: gist,full,local-sgd (default all three)");
    TrainingOptions training(cli);
    training.workers(c.workers, "GIST subnets and local-SGD replicas");
    cli.list("--hidden", c.hidden, kWidth, "W1,W2,...", "hidden widths (default 256,256)");
    cli.value("--layers", c.layers, kPositive, "L", "GraphConv layers; with one --hidden width, L - 1 hidden layers of it");
    training.rounds(c.rounds);
    training.local_steps(c.local_steps, "local Adam steps per round");
    training.lr(c.lr, "Adam learning rate");
    training.weight_decay(c.weight_decay, "Adam's L2 weight decay");
    cli.flag("--step-decay", c.step_decay, "divide the learning rate by 10 at 50% and 75% of the rounds");
    cli.value("--dropout", c.dropout, kRate, "P",
              "dropout rate after every hidden ReLU (default 0: none; the GIST\n"
              "reference uses 0.5 on whole graphs, 0.2 with Cluster-GCN)");
    cli.flag("--split-input", c.split_input, "GIST: also cut the input features among the workers");
    cli.flag("--keep-last-hidden", c.keep_last_hidden, "GIST: leave the last hidden layer whole (output layer shared, averaged)");
    cli.flag("--scale-activations", c.scale_activations,
             "GIST: subnets multiply each GraphConv's output by full / held input\n"
             "width, so their logits have the full model's scale (LayerNorm already\n"
             "absorbs it in the hidden layers)");
    cli.value("--clusters", c.clusters, kPositive, "K",
              "Cluster-GCN: cut the graph into K clusters (cluster_nodes) and train\n"
              "each local step on --clusters-per-batch of them (default: whole graph)");
    cli.value("--clusters-per-batch", c.clusters_per_batch, kPositive, "Q", "clusters per Cluster-GCN batch (default 1)");
    training.eval_every(c.eval_every, "evaluate every K rounds, and after the last");
    cli.value("--blas-threads", c.blas_threads, kPositive, "N",
              "OpenBLAS threads of every worker while it trains (default 1: with\n"
              "S workers on few cores, more threads only wait for each other)");
    training.seed(c.seed, "seed of the split, graph clusters, weights and partitions");
    training.precision(c.precision);
    cli.flag("--quiet", c.quiet, "print only the per-method summary lines");
    c.coding.add_to(cli);
    cli.parse(args.argc(), args.argv());
    if (c.layers) {
        if (c.layers < 2) throw ist::ConfigError("--layers must be at least 2 (one hidden layer)");
        if (c.hidden.size() == 1) c.hidden.assign(c.layers - 1, c.hidden.front());
        else if (c.hidden.size() != c.layers - 1)
            throw ist::ConfigError("--layers " + std::to_string(c.layers) + " needs " +
                                   std::to_string(c.layers - 1) + " hidden widths, --hidden gives " +
                                   std::to_string(c.hidden.size()));
    }
    return c;
}

/// A graph, its node data and the train / test node sets.
struct Problem {
    std::string name;
    ist::Graph graph;
    ist::Dataset all;  // every node, in graph order
    std::vector<std::uint32_t> train_rows, test_rows;
    double graph_seconds = 0.0;
    std::string graph_source;
};

void write_edge_list(const ist::Graph& g, const std::string& path) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp);
        out << "# " << g.nodes() << " nodes, " << g.edges() << " undirected edges, one per line (0-based ids)\n";
        const auto& off = g.row_offsets();
        const auto& cols = g.columns();
        for (std::size_t i = 0; i < g.nodes(); ++i)
            for (std::size_t e = off[i]; e < off[i + 1]; ++e)
                if (cols[e] > i) out << i << ' ' << cols[e] << '\n';
        if (!out.flush()) throw ist::DataError(tmp + ": cannot write the edge list");
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw ist::DataError(path + ": cannot rename " + tmp);
}

/// The plain graph as a scipy-style CSR .npz (indptr, indices): what load_csr_graph reads.
void write_csr(const ist::Graph& g, const std::string& path) {
    ist::NpzWriter npz;
    const std::vector<std::uint64_t> indptr(g.row_offsets().begin(), g.row_offsets().end());
    npz.add("indptr", indptr.data(), {indptr.size()});
    npz.add("indices", g.columns().data(), {g.columns().size()});
    npz.write_atomically(path);
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

/// The kNN graph over the raw features, or the cached one.
ist::Graph knn_or_cache(const Config& c, const ist::Matrix& points, Problem& p) {
    const auto start = std::chrono::steady_clock::now();
    ist::Graph g;
    if (!c.graph_cache.empty() && std::ifstream(c.graph_cache).good()) {
        g = ends_with(c.graph_cache, ".npz") ? ist::load_csr_graph(c.graph_cache)
                                             : ist::load_edge_list(c.graph_cache, {points.shape()[0], false, false});
        if (g.nodes() != points.shape()[0])
            throw ist::DataError(c.graph_cache + ": " + std::to_string(g.nodes()) + " nodes, the data set has " +
                                 std::to_string(points.shape()[0]));
        p.graph_source = "loaded from " + c.graph_cache;
    } else {
        g = ist::knn_graph(points, c.k);
        p.graph_source = std::to_string(c.k) + "-NN graph over the raw features";
        if (!c.graph_cache.empty()) {
            if (ends_with(c.graph_cache, ".npz")) write_csr(g, c.graph_cache);
            else write_edge_list(g, c.graph_cache);
            p.graph_source += ", written to " + c.graph_cache;
        }
    }
    p.graph_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return g;
}

/// Every column to zero mean and unit variance over all nodes (transductive: the features of
/// every node are known, only labels are split).
void standardize_columns(ist::Matrix& x) {
    const std::size_t n = x.shape()[0], f = x.shape()[1];
    for (std::size_t j = 0; j < f; ++j) {
        double s = 0.0, s2 = 0.0;
        for (std::size_t i = 0; i < n; ++i) s += x(i, j);
        const double mean = s / static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) s2 += (x(i, j) - mean) * (x(i, j) - mean);
        const double sd = std::sqrt(s2 / static_cast<double>(n));
        const float scale = sd > 1e-6 ? static_cast<float>(1.0 / sd) : 1.0f;
        for (std::size_t i = 0; i < n; ++i) x(i, j) = static_cast<float>((x(i, j) - mean)) * scale;
    }
}

Problem load(const Config& c) {
    Problem p;
    if (c.data == "karate") {
        ist::GraphDataset club = ist::karate_club();
        p.name = "karate club";
        p.graph = std::move(club.graph);
        p.all = std::move(club.data);
        p.graph_source = "data/karate.edgelist";
        p.train_rows = {0, 33};  // the instructor and the administrator
        for (std::uint32_t i = 1; i < 33; ++i) p.test_rows.push_back(i);
        return p;
    }
    if (c.data == "digits") {
        p.all = ist::load_digits();
        p.name = "digits";
        p.graph = knn_or_cache(c, p.all.features, p);
        // The library's portable shuffle: the same split with every standard library.
        ist::detail::RandomEngine rng(c.seed);
        const std::vector<std::uint32_t> order = ist::detail::random_permutation(p.all.size(), rng);
        const std::size_t test = order.size() / 4;
        p.test_rows.assign(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(test));
        p.train_rows.assign(order.begin() + static_cast<std::ptrdiff_t>(test), order.end());
        std::sort(p.test_rows.begin(), p.test_rows.end());
        std::sort(p.train_rows.begin(), p.train_rows.end());
    } else if (c.data == "fashion" || c.data == "fashion-mnist") {
        auto [train, test] = ist::load_fashion_mnist();
        const std::size_t n1 = train.size(), n2 = test.size(), f = train.feature_count();
        p.name = "Fashion-MNIST";
        p.all.name = "fashion-mnist";
        p.all.classes = train.classes;
        p.all.features = ist::Matrix::from_shape({n1 + n2, f});
        std::copy(train.features.data(), train.features.data() + n1 * f, p.all.features.data());
        std::copy(test.features.data(), test.features.data() + n2 * f, p.all.features.data() + n1 * f);
        p.all.labels = train.labels;
        p.all.labels.insert(p.all.labels.end(), test.labels.begin(), test.labels.end());
        p.graph = knn_or_cache(c, p.all.features, p);
        p.train_rows.resize(n1);
        std::iota(p.train_rows.begin(), p.train_rows.end(), 0u);
        p.test_rows.resize(n2);
        std::iota(p.test_rows.begin(), p.test_rows.end(), static_cast<std::uint32_t>(n1));
    } else {
        throw ist::ConfigError("unknown --data " + c.data + " (digits | fashion | karate)");
    }
    standardize_columns(p.all.features);
    return p;
}

std::string widths_text(std::size_t in, const std::vector<std::size_t>& hidden, std::size_t out) {
    std::string s = std::to_string(in);
    for (std::size_t w : hidden) s += " -> " + std::to_string(w);
    return s + " -> " + std::to_string(out);
}

ist::Network build_gcn(const ist::GcnGraph& g, std::size_t in, const std::vector<std::size_t>& hidden,
                       std::size_t classes, std::uint64_t seed, float dropout) {
    ist::Network net;
    std::size_t prev = in;
    for (std::size_t l = 0; l <= hidden.size(); ++l) {
        const std::size_t out = l < hidden.size() ? hidden[l] : classes;
        net.add(ist::GraphConv(g, prev, out, {.bias = true, .self_weight = false, .seed = seed * 1000 + l}));
        if (l < hidden.size()) net.add(ist::LayerNorm()).add(ist::ReLU());
        if (l < hidden.size() && dropout > 0) net.add(ist::Dropout(dropout, seed * 1000 + 500 + l));
        prev = out;
    }
    return net;
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}
std::string percent(double fraction) { return fixed(100.0 * fraction, 1) + "%"; }

/// CPU time of the whole process so far (every thread, user + system).
double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

/// CPU time of the calling thread (the coordinator: extraction waits, merges, evaluation).
double thread_cpu_seconds() {
    timespec t{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct MethodResult {
    std::string method;
    std::size_t workers = 0;
    double accuracy = 0.0, seconds = 0.0, cpu = 0.0, worker_cpu = 0.0;
    std::uint64_t bytes = 0;
    std::size_t rounds = 0;
    long long measured = 0;   // peak heap bytes of the busiest worker thread (counted)
    double formula = 0.0;     // ist::gist_worker_footprint of worker 0 (the widest)
    std::size_t worker_params = 0;
};

/// The training set and options every method shares, with Cluster-GCN's batches when asked for.
struct Setup {
    ist::Dataset train_set;
    ist::TrainerOptions options;
    std::size_t batch_rows = 0, batch_entries = 0;  // the largest batch (the memory formula's B, nnz)
    std::string cluster_text;
};

/// Cluster-GCN: clusters of the plain graph, the largest batch of `clusters_per_batch` of them
/// (rows and matrix entries: the memory formula's inputs) and a line describing them.
void add_clusters(const Config& c, const ist::GcnGraph& gcn, Setup& s) {
    s.options.batches = ist::Batches::Clusters;
    s.options.clusters_per_batch = c.clusters_per_batch;
    if (c.clusters_per_batch > c.clusters)
        throw ist::ConfigError("--clusters-per-batch " + std::to_string(c.clusters_per_batch) + " exceeds --clusters " +
                               std::to_string(c.clusters));
    const ist::Graph& plain = *gcn.plain();
    const std::size_t N = plain.nodes();
    s.train_set.clusters = ist::cluster_nodes(plain, c.clusters, c.seed);
    const auto largest_sum = [&](std::vector<std::size_t> v) {
        std::sort(v.rbegin(), v.rend());
        return std::accumulate(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(c.clusters_per_batch), std::size_t{0});
    };
    std::vector<std::size_t> sizes;
    for (const auto& m : ist::cluster_members(s.train_set.clusters, c.clusters)) sizes.push_back(m.size());
    std::sort(sizes.rbegin(), sizes.rend());
    s.batch_rows = largest_sum(sizes);
    // Entries of a batch's matrix: at most its nodes' self-loops plus their degrees (edges
    // leaving the batch are dropped), bounded by the q clusters with the largest degree sums.
    std::vector<std::size_t> degree_sums(c.clusters, 0);
    std::size_t inside = 0;
    for (std::size_t i = 0; i < N; ++i) {
        degree_sums[s.train_set.clusters[i]] += plain.degree(i);
        for (std::size_t e = plain.row_offsets()[i]; e < plain.row_offsets()[i + 1]; ++e)
            inside += s.train_set.clusters[i] == s.train_set.clusters[plain.columns()[e]];
    }
    s.batch_entries = s.batch_rows + largest_sum(degree_sums);
    s.cluster_text = "clusters: " + std::to_string(c.clusters) + " (sizes " + std::to_string(sizes.back()) + ".." +
                     std::to_string(sizes.front()) + "), " +
                     percent(static_cast<double>(inside) / static_cast<double>(plain.entries())) +
                     " of the edges inside one; batches of " + std::to_string(c.clusters_per_batch) + " (up to " +
                     std::to_string(s.batch_rows) + " nodes)\n";
}

Setup make_setup(const Config& c, const ist::GcnGraph& gcn, const ist::Dataset& train) {
    Setup s;
    s.train_set = train;
    s.batch_rows = train.size();
    s.options = {.workers = c.workers, .local_steps = c.local_steps, .rounds = c.rounds};
    s.options.seed = c.seed;
    s.options.sampling = ist::Sampling::WholeSet;  // every worker's batches come from the whole graph
    s.options.batches = ist::Batches::FullSet;
    s.options.eval_every = c.eval_every;
    s.options.precision = c.precision;
    s.options.scale_activations = c.scale_activations;  // a no-op for FullModel (held = full)
    if (c.clusters) add_clusters(c, gcn, s);
    return s;
}

void print_header(const Config& c, const Problem& p, const ist::Graph& a_hat, const Setup& s) {
    const std::size_t F = p.all.feature_count(), C = p.all.classes;
    std::cout << "gist-train: " << p.name << ", " << p.all.size() << " nodes, " << a_hat.edges() << " edges ("
              << p.graph_source;
    if (p.graph_seconds > 0) std::cout << ", " << fixed(p.graph_seconds, 1) << " s";
    std::cout << "), " << p.train_rows.size() << " train / " << p.test_rows.size() << " test nodes\n"
              << "GCN " << widths_text(F, c.hidden, C) << " (GraphConv -> LayerNorm -> ReLU"
              << (c.dropout > 0 ? " -> Dropout " + fixed(c.dropout, 2) : std::string()) << "), Adam lr " << c.lr
              << " rebuilt every round, " << c.rounds << " rounds x " << c.local_steps << " local steps on "
              << (c.clusters ? "Cluster-GCN batches" : "the whole graph") << "; " << c.blas_threads
              << " OpenBLAS thread(s) per worker, " << std::max(1u, std::thread::hardware_concurrency()) << " cores\n"
              << s.cluster_text;
}

/// Trains one method (GIST, full, local SGD) from the same initial weights and reports it.
template <class Partitioner>
MethodResult run_method(const Config& c, const ist::GcnGraph& gcn, const Setup& s, const ist::Dataset& test,
                        const std::string& name, std::size_t S, Partitioner partitioner, const std::vector<std::size_t>& held) {
    const std::size_t N = s.train_set.size(), F = s.train_set.feature_count(), C = s.train_set.classes;
    ist::Network net = build_gcn(gcn, F, c.hidden, C, c.seed, c.dropout);
    ist::TrainerOptions o = s.options;
    o.workers = S;
    c.coding.apply(o);
    ist::ThreadsTransport::Options t;
    t.blas_threads = static_cast<int>(c.blas_threads);
    ist::IstTrainer trainer(net, o, partitioner, ist::Adam(c.lr, 0.9f, 0.999f, 1e-8f, c.weight_decay), ist::HolderAverage(),
                            ist::ThreadsTransport(t), c.coding.make());
    if (c.step_decay) trainer.set_schedule(ist::step_decay(o.rounds));  // /10 at 50% and 75%
    if (!c.quiet) std::cout << "-- " << name << ", S = " << S << '\n';
    const std::uint64_t generation = heap_counter::new_generation();
    const double cpu_before = cpu_seconds(), coordinator_before = thread_cpu_seconds();
    ist::TrainResult r = c.quiet ? trainer.train(s.train_set, test) : trainer.train(s.train_set, test, ist::PrintMetrics());
    MethodResult m;
    m.method = name;
    m.workers = S;
    m.accuracy = r.final_test->accuracy;
    m.seconds = trainer.seconds();
    m.cpu = cpu_seconds() - cpu_before;
    m.worker_cpu = (m.cpu - (thread_cpu_seconds() - coordinator_before)) / static_cast<double>(S);
    m.bytes = trainer.total_bytes();
    m.rounds = trainer.rounds_done();
    m.measured = heap_counter::worker_peak(generation);
    ist::GistWorkerShape shape{held, s.batch_rows, N, F, held.front() != F, c.clusters > 0, s.batch_entries};
    m.formula = ist::gist_worker_footprint(shape).total();
    for (std::size_t l = 1; l < held.size(); ++l) m.worker_params += held[l - 1] * held[l] + held[l];
    char line[320];
    std::snprintf(line, sizeof line,
                  "%-9s S = %zu: test accuracy %.4f, %.2f s training (%.2f s CPU per worker), %.2f MB exchanged (%.3f MB/round), "
                  "worker peak %s measured / %s formula, weights %s\n",
                  name.c_str(), S, m.accuracy, m.seconds, m.worker_cpu, static_cast<double>(m.bytes) / 1e6,
                  static_cast<double>(m.bytes) / 1e6 / static_cast<double>(m.rounds),
                  heap_counter::human(static_cast<double>(m.measured)).c_str(), heap_counter::human(m.formula).c_str(),
                  ist::weights_checksum_hex(trainer.model()).c_str());
    std::cout << line << std::flush;
    return m;
}

void print_summary(const std::vector<MethodResult>& results, const Problem& p, const ist::Graph& a_hat) {
    std::cout << "\nmethod     S  test acc  train s  CPU s  worker CPU s  MB total  MB/round  worker params  worker peak: measured    formula\n";
    for (const auto& m : results) {
        char line[256];
        std::snprintf(line, sizeof line, "%-9s %2zu  %8.4f %8.2f %6.2f %13.2f %9.2f %9.3f %14zu  %20s %10s\n",
                      m.method.c_str(), m.workers, m.accuracy, m.seconds, m.cpu, m.worker_cpu, static_cast<double>(m.bytes) / 1e6,
                      static_cast<double>(m.bytes) / 1e6 / static_cast<double>(m.rounds), m.worker_params,
                      heap_counter::human(static_cast<double>(m.measured)).c_str(), heap_counter::human(m.formula).c_str());
        std::cout << line;
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::cout << "shared by every worker of this process (graph, features, labels): "
              << heap_counter::human(ist::gist_shared_bytes(p.all.size(), p.all.feature_count(), a_hat.entries()))
              << "; process peak RSS " << heap_counter::human(static_cast<double>(usage.ru_maxrss) * 1024.0) << "\n"
              << "worker peak = heap bytes live at once in the worker's thread (counted by a replaced operator "
                 "new; OpenBLAS buffers and stacks excluded); formula = ist::gist_worker_footprint from the subnet's "
                 "shapes. train s = wall time of the rounds (evaluation excluded); CPU s = the process's CPU time over "
                 "train(), evaluations included; worker CPU s = the workers' share of it (the coordinator thread's "
                 "subtracted) / S: one worker's compute, its round time on a core of its own. Bytes = what the transport counts (each worker receives and returns its subnet, "
                 "S = 1 included).\n";
}

/// --show-config: the settings that training would use, one "name value" per line.
int show_config(const Config& c) {
    std::string hidden;
    for (std::size_t w : c.hidden) hidden += (hidden.empty() ? "" : ",") + std::to_string(w);
    std::cout << "methods " << c.methods << "\nworkers " << c.workers << "\nlocal-steps " << c.local_steps << "\nrounds "
              << c.rounds << "\nhidden " << hidden << "\noptimizer adam, rebuilt every round\nlr " << c.lr
              << "\nlr-schedule " << (c.step_decay ? "/10 at 50% and 75%" : "constant") << "\nweight-decay "
              << c.weight_decay << "\ndropout " << c.dropout << "\nsplit-input " << (c.split_input ? "yes" : "no")
              << "\nkeep-last-hidden " << (c.keep_last_hidden ? "yes" : "no") << "\nseed " << c.seed << '\n';
    return 0;
}

int run(const Config& c) {
    if (c.show_config) return show_config(c);
    heap_counter::mark_coordinator();
    // The coordinator's evaluations too: the CPU time of OpenBLAS helper threads would be
    // charged to the workers.
    ist::detail::BlasThreadsGuard blas(static_cast<int>(c.blas_threads));
    Problem p = load(c);
    const std::size_t F = p.all.feature_count(), C = p.all.classes;
    const ist::Dataset train = ist::keep_labels(p.all, p.train_rows);
    ist::Dataset test = ist::keep_labels(p.all, p.test_rows);
    ist::GcnGraph gcn(std::move(p.graph));
    const ist::Graph& a_hat = *gcn.a_hat();
    const Setup setup = make_setup(c, gcn, train);
    if (!c.quiet) print_header(c, p, a_hat, setup);

    std::vector<MethodResult> results;
    const auto wanted = [&](const std::string& m) { return ("," + c.methods + ",").find("," + m + ",") != std::string::npos; };
    std::vector<std::size_t> full_widths{F};
    full_widths.insert(full_widths.end(), c.hidden.begin(), c.hidden.end());
    full_widths.push_back(C);
    if (wanted("gist")) {
        std::vector<std::size_t> held = full_widths;
        if (c.split_input) held[0] = ist::gist_widest_share(F, c.workers);
        for (std::size_t l = 1; l + 1 < held.size(); ++l)
            if (!(c.keep_last_hidden && l + 2 == held.size())) held[l] = ist::gist_widest_share(held[l], c.workers);
        results.push_back(run_method(c, gcn, setup, test, "GIST", c.workers,
                                     ist::GistPartition({c.split_input, c.keep_last_hidden}), held));
    }
    if (wanted("full")) results.push_back(run_method(c, gcn, setup, test, "full", 1, ist::FullModel(), full_widths));
    if (wanted("local-sgd"))
        results.push_back(run_method(c, gcn, setup, test, "local SGD", c.workers, ist::FullModel(), full_widths));
    if (!c.quiet) print_summary(results, p, a_hat);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("gist-train", [&] { return run(parse(argc, argv)); });
}
