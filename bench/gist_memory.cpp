// gist-memory: how wide a GCN fits one worker's memory, full training against GIST.
//
//   gist-memory                      # 1 GiB per worker, Fashion-MNIST kNN graph size, with verification
//   gist-memory --budget 4           # GiB
//   gist-memory --no-verify          # only the tables (instant)
//   gist-memory --help
//
// The tables come from ist::gist_worker_footprint (<ist/model/graph/footprint.hpp>): the bytes one worker
// holds while it trains its sub-GCN (parameters, gradients, Adam's m and v, every activation and
// input gradient ist keeps, scratch, batch copies), plus what every worker machine holds anyway
// (node features, labels, the graph). The verification trains real sub-GCNs on a graph of the
// same size at widths that run here and compares the formula with two measurements:
//   counted  peak heap bytes of a transport worker thread in a real IstTrainer round (a replaced
//            operator new charges every allocation to the thread that made it);
//   RSS      peak resident set growth (VmHWM after /proc/self/clear_refs) of a forked process
//            that runs worker 0's local steps alone, after an OpenBLAS warm-up.
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <ist/model/graph/footprint.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "training_options.hpp"
#include "heap_counter.hpp"

extern "C" void openblas_set_num_threads(int) __attribute__((weak));

namespace {

struct Config {
    double budget_gib = 1.0;
    std::size_t nodes = 70000, features = 784, classes = 10, degree = 16, batch = 2000;
    bool verify = true;
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    bool skip_verify = false;
    Options cli("gist-memory",
                "The widest hidden layer (every hidden layer of width H) whose per-worker footprint fits a memory\n"
                "budget, for full training (S = 1; local SGD's workers are the same) and GIST with S = 2, 4, 8; and\n"
                "the footprint of a GCN 32,768 wide. Default sizes are the Fashion-MNIST kNN graph's.");
    cli.value("--budget", c.budget_gib, kPositiveDouble, "GIB",
              "memory per worker in GiB, graph and features included (default 1)");
    cli.value("--nodes", c.nodes, kPositive, "N", "graph nodes (default 70000)");
    cli.value("--features", c.features, kPositive, "F", "input features per node (default 784)");
    cli.value("--classes", c.classes, kPositive, "C", "classes (default 10)");
    cli.value("--degree", c.degree, kPositive, "D",
              "average degree of the graph (default 16: Fashion-MNIST's 10-NN graph has 16.3)");
    TrainingOptions(cli).batch(c.batch, "nodes in a Cluster-GCN batch (e.g. 35 clusters, or 350 x 10)");
    cli.flag("--no-verify", skip_verify, "skip the measured check of the formula (minutes at N = 70,000)");
    cli.parse(argc, argv);
    c.verify = !skip_verify;
    if (c.batch > c.nodes) throw ist::ConfigError("--batch exceeds --nodes");
    return c;
}

/// One row of the tables: a GCN shape and how each worker trains it.
struct Variant {
    std::string name;
    std::size_t hidden_layers;
    bool split_input = false, keep_last_hidden = false, clusters = false;
};

/// Worker 0's shape (the widest share) for hidden width H on S workers.
ist::GistWorkerShape worker_shape(const Config& c, const Variant& v, std::size_t H, std::size_t S, std::size_t batch_entries) {
    ist::GistWorkerShape w;
    w.widths.push_back(v.split_input ? ist::gist_widest_share(c.features, S) : c.features);
    for (std::size_t l = 0; l < v.hidden_layers; ++l)
        w.widths.push_back(v.keep_last_hidden && l + 1 == v.hidden_layers ? H : ist::gist_widest_share(H, S));
    w.widths.push_back(c.classes);
    w.nodes = c.nodes;
    w.input_features = c.features;
    w.split_input = v.split_input && S > 1;
    w.clusters = v.clusters;
    w.rows = v.clusters ? c.batch : c.nodes;
    w.batch_entries = batch_entries;
    return w;
}

double machine_bytes(const Config& c) { return ist::gist_shared_bytes(c.nodes, c.features, c.nodes * (c.degree + 1)); }

double worker_bytes(const Config& c, const Variant& v, std::size_t H, std::size_t S) {
    // A batch's matrix: at most its nodes' self-loops and all their edges.
    return ist::gist_worker_footprint(worker_shape(c, v, H, S, c.batch * (c.degree + 1))).total() + machine_bytes(c);
}

/// The widest H whose worker fits the budget (0: not even H = S).
std::size_t widest(const Config& c, const Variant& v, std::size_t S, double budget) {
    if (worker_bytes(c, v, S, S) > budget) return 0;
    std::size_t lo = S, hi = S;
    while (worker_bytes(c, v, hi, S) <= budget && hi < (std::size_t{1} << 40)) lo = hi, hi *= 2;
    while (hi - lo > 1) {
        const std::size_t mid = lo + (hi - lo) / 2;
        (worker_bytes(c, v, mid, S) <= budget ? lo : hi) = mid;
    }
    return lo;
}

std::string with_commas(std::size_t n) {
    const std::string digits = std::to_string(n);
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    return out;
}

// ----------------------------------------------------------------------------------------------
// Verification

/// A graph of `nodes` nodes, every node of degree `degree` (rounded down to even): a ring lattice
/// under a random relabelling, so neighbours are scattered in memory as in a kNN graph.
ist::Graph lattice(std::size_t nodes, std::size_t degree, std::uint64_t seed) {
    ist::detail::RandomEngine rng(seed);
    const std::vector<std::uint32_t> label = ist::detail::random_permutation(nodes, rng);
    std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;
    for (std::size_t i = 0; i < nodes; ++i)
        for (std::size_t d = 1; d <= degree / 2; ++d) edges.emplace_back(label[i], label[(i + d) % nodes]);
    return ist::Graph::from_edges(nodes, edges);
}

ist::Network build_gcn(const ist::GcnGraph& g, std::size_t in, const std::vector<std::size_t>& hidden, std::size_t classes) {
    ist::Network net;
    std::size_t prev = in;
    for (std::size_t l = 0; l <= hidden.size(); ++l) {
        const std::size_t out = l < hidden.size() ? hidden[l] : classes;
        net.add(ist::GraphConv(g, prev, out, {.bias = true, .self_weight = false, .seed = 7 + l}));
        if (l < hidden.size()) net.add(ist::LayerNorm()).add(ist::ReLU());
        prev = out;
    }
    return net;
}

struct Check {
    Variant variant;
    std::size_t H, S;
};

struct Measured {
    double formula = 0, counted = 0, emulated = 0, rss = 0;
    double seconds = 0;
};

/// Worker 0's local steps alone, as IstTrainer::train_locally runs them: subnet, Adam, then
/// `steps` x (batch, set_batch_rows, forward + backward, Adam step). Returns peak bytes counted
/// on this thread, above what was live before.
template <class Partitioner>
double emulate_worker(ist::Network& master, const Partitioner& partitioner, std::size_t S, const ist::Dataset& data,
                      const std::vector<std::vector<std::uint32_t>>& clusters, std::size_t steps) {
    const long long before = heap_counter::thread_live();
    heap_counter::reset_thread_peak();
    {
        ist::PartitionRng rng(11);
        ist::Plan plan = partitioner.plan(master.dimensions(), S, rng);
        ist::derive_indices(master.dimensions(), plan);
        ist::Network sub = master.subnet(plan[0]);
        ist::Adam adam(1e-3f);
        const auto params = ist::parameter_pointers(sub);
        auto run = adam.start(params);
        std::optional<std::vector<std::uint32_t>> columns;
        if (plan[0].dims.front()) columns = ist::expand_indices(*plan[0].dims.front(), 1);
        ist::Matrix x, x_held;
        ist::Labels y;
        std::vector<std::uint32_t> rows;
        for (std::size_t t = 0; t < steps; ++t) {
            const ist::Matrix* features = &data.features;
            const ist::Labels* labels = &data.labels;
            if (clusters.empty()) {
                rows.resize(data.size());
                std::iota(rows.begin(), rows.end(), 0u);
            } else {
                rows = clusters[t % clusters.size()];  // the caller puts the largest first
                ist::copy_rows(data, rows, x, y);
                features = &x;
                labels = &y;
            }
            if (columns) {
                ist::detail::select_columns(*features, *columns, x_held);
                features = &x_held;
            }
            sub.set_batch_rows(rows);
            sub.loss_and_gradient(*features, *labels);
            run.step(params);
        }
    }
    return static_cast<double>(heap_counter::thread_peak() - before);
}

template <class Partitioner>
Measured measure(const Config& c, const Check& k, const ist::GcnGraph& gcn, const ist::Dataset& data,
                 const Partitioner& partitioner, const std::vector<std::uint32_t>& assignment, std::size_t batch_entries) {
    Measured m;
    const auto& v = k.variant;
    m.formula = ist::gist_worker_footprint(worker_shape(c, v, k.H, k.S, batch_entries)).total();
    std::vector<std::size_t> hidden(v.hidden_layers, k.H);
    ist::Dataset train = data;
    std::vector<std::vector<std::uint32_t>> clusters;
    ist::TrainerOptions o{.workers = k.S, .local_steps = 2, .rounds = 1};
    o.sampling = ist::Sampling::WholeSet;
    o.batches = ist::Batches::FullSet;
    o.eval_every = 0;
    if (v.clusters) {
        const std::size_t K = *std::max_element(assignment.begin(), assignment.end()) + 1;
        train.clusters = assignment;
        clusters = ist::cluster_members(train.clusters, K);
        std::sort(clusters.begin(), clusters.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
        o.batches = ist::Batches::Clusters;
        o.clusters_per_batch = 1;
    }
    ist::Network master = build_gcn(gcn, c.features, hidden, c.classes);

    // Counted, in a real round: S worker threads, each its subnet, two local steps.
    {
        const auto start = std::chrono::steady_clock::now();
        ist::Network net = master;
        ist::ThreadsTransport::Options t;
        t.blas_threads = 1;
        ist::IstTrainer trainer(net, o, partitioner, ist::Adam(1e-3f), ist::HolderAverage(), ist::ThreadsTransport(t));
        const std::uint64_t generation = heap_counter::new_generation();
        ist::Dataset test = train;
        test.labels.assign(test.size(), ist::kUnlabeled);
        test.labels[0] = 0;  // evaluation needs a labelled row; it runs the master on the whole graph
        trainer.train(train, test);
        m.counted = static_cast<double>(heap_counter::worker_peak(generation));
        m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }

    // RSS, in a forked process that runs worker 0's steps alone.
    int fd[2];
    if (pipe(fd) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        double out[2] = {-1, -1};
        try {
            // Fresh pages for every buffer: free heap chunks inherited from the parent are resident
            // and would be reused without growing the RSS, so give them back (malloc_trim
            // madvises every free page away), and map every large buffer on its own.
            mallopt(M_MMAP_THRESHOLD, 64 * 1024);
            malloc_trim(0);
            if (openblas_set_num_threads) openblas_set_num_threads(1);
            {  // touches OpenBLAS's packing buffers before the baseline
                ist::Matrix a = xt::ones<float>({std::size_t{2048}, std::size_t{2048}}), b = a, r;
                ist::detail::gemm(a, b, r, false, true);
            }
            heap_counter::reset_peak_rss();
            const long long base = heap_counter::proc_status_kib("VmRSS");
            out[0] = emulate_worker(master, partitioner, k.S, train, clusters, 2);
            out[1] = 1024.0 * static_cast<double>(heap_counter::proc_status_kib("VmHWM") - base);
        } catch (...) {
        }
        if (write(fd[1], out, sizeof out) != static_cast<ssize_t>(sizeof out)) _exit(3);
        _exit(0);
    }
    close(fd[1]);
    double out[2] = {-1, -1};
    if (read(fd[0], out, sizeof out) != static_cast<ssize_t>(sizeof out)) out[0] = out[1] = -1;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    m.emulated = out[0];
    m.rss = out[1];
    return m;
}

std::string describe(const Config& c, const Variant& v, std::size_t H) {
    std::string s = std::to_string(c.features);
    for (std::size_t l = 0; l < v.hidden_layers; ++l) s += "-" + std::to_string(H);
    s += "-" + std::to_string(c.classes);
    if (v.split_input) s += ", split input";
    if (v.keep_last_hidden) s += ", keep last hidden";
    s += v.clusters ? ", batch of " + with_commas(c.batch) : ", whole graph";
    return s;
}

int run(const Config& c) {
    heap_counter::mark_coordinator();
    const double budget = c.budget_gib * 1024.0 * 1024.0 * 1024.0;
    const std::vector<std::size_t> Ss{1, 2, 4, 8};
    const std::vector<Variant> variants{
        {"2-layer, whole graph", 1},
        {"3-layer, whole graph", 2},
        {"3-layer, whole graph, split input", 2, true},
        {"3-layer, whole graph, keep last hidden", 2, false, true},
        {"2-layer, Cluster-GCN batch", 1, false, false, true},
        {"3-layer, Cluster-GCN batch", 2, false, false, true},
        {"3-layer, Cluster-GCN batch, split input", 2, true, false, true},
    };
    std::cout << "gist-memory: GCN F -> H [-> H] -> C with GraphConv -> LayerNorm -> ReLU, Adam; N = "
              << with_commas(c.nodes) << " nodes, F = " << c.features << ", C = " << c.classes << ", average degree "
              << c.degree << ", Cluster-GCN batch " << with_commas(c.batch) << " nodes\n"
              << "every worker machine also holds the node features, labels and graph: "
              << heap_counter::human(machine_bytes(c)) << " (counted in the budget)\n\n";

    std::cout << "Widest hidden width H per worker within " << c.budget_gib << " GiB (S = 1: full training; a "
              << "local-SGD worker is the same):\n\n"
              << "| GCN | full (S = 1) | GIST S = 2 | GIST S = 4 | GIST S = 8 |\n|---|---|---|---|---|\n";
    for (const Variant& v : variants) {
        std::cout << "| " << v.name << " |";
        for (std::size_t S : Ss) {
            const std::size_t h = widest(c, v, S, budget);
            std::cout << ' ' << (h ? with_commas(h) : std::string("none")) << " |";
        }
        std::cout << '\n';
    }

    const std::size_t wide = 32768;
    const std::vector<std::size_t> Ss_wide{1, 2, 4, 8, 16, 32};
    std::cout << "\nA GCN 32,768 wide (GIST's widest): bytes per worker, graph and features included:\n\n"
              << "| GCN | S = 1 | S = 2 | S = 4 | S = 8 | S = 16 | S = 32 |\n|---|---|---|---|---|---|---|\n";
    for (const Variant& v : variants) {
        std::cout << "| " << v.name << " |";
        for (std::size_t S : Ss_wide) {
            const double b = worker_bytes(c, v, wide, S);
            std::cout << ' ' << (b <= budget ? "**" + heap_counter::human(b) + "**" : heap_counter::human(b)) << " |";
        }
        std::cout << '\n';
    }
    std::cout << "(bold: within the budget)\n";

    // Where the bytes go, for the 3-layer whole-graph GCN at the full model's widest width.
    {
        const Variant& v = variants[1];
        const std::size_t H = widest(c, v, 1, budget);
        std::cout << "\nWhere the bytes go (3-layer, whole graph, H = " << with_commas(H) << "):\n\n"
                  << "| S | params | grads | Adam | activations | scratch | batch | transient | worker total |\n"
                  << "|---|---|---|---|---|---|---|---|---|\n";
        for (std::size_t S : Ss) {
            const ist::GistFootprint f = ist::gist_worker_footprint(worker_shape(c, v, H, S, 0));
            std::cout << "| " << S << " | " << heap_counter::human(f.parameters) << " | " << heap_counter::human(f.gradients) << " | "
                      << heap_counter::human(f.adam) << " | " << heap_counter::human(f.activations) << " | " << heap_counter::human(f.scratch)
                      << " | " << heap_counter::human(f.batch) << " | " << heap_counter::human(f.transient) << " | "
                      << heap_counter::human(f.total()) << " |\n";
        }
    }
    if (!c.verify) return 0;

    // Verification on a graph of the same size.
    std::cout << "\nVerification: formula vs measured worker footprint (worker state, without the shared data), "
              << "graph of " << with_commas(c.nodes) << " nodes of degree " << c.degree / 2 * 2
              << " (ring lattice, random labels), random features:\n\n"
              << "| GCN | S | formula | counted (trainer) | counted (alone) | RSS growth (alone) | counted / formula "
                 "| RSS / formula | seconds |\n|---|---|---|---|---|---|---|---|---|\n"
              << std::flush;
    ist::GcnGraph gcn(lattice(c.nodes, c.degree, 3));
    ist::Dataset data;
    data.name = "synthetic";
    data.classes = c.classes;
    data.features = ist::Matrix::from_shape({c.nodes, c.features});
    std::mt19937_64 rng(9);
    std::normal_distribution<float> normal;
    for (float& x : data.features) x = normal(rng);
    data.labels.resize(c.nodes);
    for (std::size_t i = 0; i < c.nodes; ++i) data.labels[i] = static_cast<std::uint32_t>(i % c.classes);
    const std::vector<Check> checks{
        {variants[0], 512, 1},
        {variants[1], 256, 1},
        {variants[1], 1024, 4},
        {variants[2], 1024, 4},
        {variants[3], 1024, 4},
        {variants[5], 1024, 4},
    };
    // Cluster-GCN: N / B clusters, one per batch; the formula takes the largest cluster as B and
    // the largest batch matrix.
    const std::size_t K = std::max<std::size_t>(1, c.nodes / c.batch);
    const std::vector<std::uint32_t> assignment = ist::cluster_nodes(*gcn.plain(), K, 5);
    std::size_t largest = 0, entries = 0;
    for (const auto& members : ist::cluster_members(assignment, K)) {
        largest = std::max(largest, members.size());
        entries = std::max(entries, ist::induced_subgraph(*gcn.a_hat(), members).entries());
    }
    for (const Check& k : checks) {
        Measured m;
        Config sized = c;
        if (k.variant.clusters) sized.batch = largest;
        if (k.S == 1) m = measure(sized, k, gcn, data, ist::FullModel(), assignment, entries);
        else
            m = measure(sized, k, gcn, data, ist::GistPartition({k.variant.split_input, k.variant.keep_last_hidden}),
                        assignment, entries);
        char line[400];
        std::snprintf(line, sizeof line, "| %s | %zu | %s | %s | %s | %s | %.3f | %.3f | %.0f |\n",
                      describe(sized, k.variant, k.H).c_str(), k.S, heap_counter::human(m.formula).c_str(),
                      heap_counter::human(m.counted).c_str(), heap_counter::human(m.emulated).c_str(), heap_counter::human(m.rss).c_str(),
                      m.counted / m.formula, m.rss / m.formula, m.seconds);
        std::cout << line << std::flush;
    }
    std::cout << "\ncounted (trainer): the largest peak of heap bytes live in one transport worker thread during a "
                 "real IstTrainer round (1 round x 2 local steps). counted (alone) / RSS growth (alone): worker 0's "
                 "two steps (Cluster-GCN: on the two largest clusters) replayed in a forked process, its heap peak "
                 "and its VmHWM - VmRSS after an OpenBLAS warm-up (OpenBLAS single-threaded; free heap pages "
                 "returned and large buffers mapped fresh, so that reuse cannot hide growth).\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("gist-memory", [&] { return run(parse(argc, argv)); });
}
