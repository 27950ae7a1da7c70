// ist-bench scale: how the parameter node's traffic grows with S, central against sharded, from real
// partition plans and the library's byte accounting (ist/transport/shard_layout.hpp), no training.
//
//   ist-bench scale                     # S = 2 .. 256, four networks, steps timed here, table + PNG
//   ist-bench scale --no-compute        # bytes only (deterministic, a few seconds)
//   ist-bench scale --workers 4,64 --link 1G,10G,100G --local-steps 50
//
// Networks: the MLP 784-4096-4096-10 (IST), the talk's example 100,000-4096-4096-10 (IST), a
// ResNet101-shaped pre-activation ResNet (stages of 3, 4, 23, 3 blocks, 64 .. 512 channels, CIFAR
// images) under ResIST (Dun et al. 2022), and an Amazon2M-shaped GCN 100-4096-4096-4096-47 under
// GIST (Wolfe et al. 2021). Per round and rank (bytes sent + received, tensors only):
//   central: rank 0 moves every other worker's subnet out and back; a worker its own.
//   sharded: every rank gathers its subnet's pieces from their owners and returns them, and serves
//            its own shard to every other worker (see ist/transport/shard_layout.hpp).
// Modelled round time: l local steps of worker 0's real subnet, timed here on one core, plus the
// busiest rank's communication (network_model.hpp: 2 S alpha + bytes / beta).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <ist/ist.hpp>
#include <ist/partition/any_partition.hpp>
#include <ist/transport/shard_layout.hpp>

#include "cli.hpp"
#include "training_options.hpp"
#include "network_model.hpp"

namespace ist_bench::scale {

struct Config {
    std::vector<std::size_t> workers{2, 4, 8, 16, 32, 64, 128, 256};
    std::vector<Link> links = parse_links("1G,10G,100G");
    std::size_t local_steps = 20, batch = 32;
    bool compute = true;
    std::uint64_t seed = 42;
    std::string out = "bench-results/scale";
};

inline Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    Options cli("ist-bench", "Benchmarks of IST against its baselines.");
    cli.subcommand("scale",
                   "Per-round bytes at the busiest rank and at a worker, central against sharded parameter node, for\n"
                   "S = 2 .. 256 on four networks, from real plans (no training); modelled round times; table + PNG.");
    TrainingOptions training(cli);
    training.workers(c.workers);
    std::string links;
    cli.text("--link", links, "LIST", "link speeds of the network model, bits per second (default 1G,10G,100G)");
    training.local_steps(c.local_steps, "local steps per round of the modelled time");
    training.batch(c.batch, "mini-batch of the timed local step (the GCN: its graph)");
    bool bytes_only = false;
    cli.flag("--no-compute", bytes_only, "bytes only: no timed steps, no round times");
    training.seed(c.seed, "seed of the plans");
    cli.text("--out", c.out, "DIR", "where CSV and PNG go (default bench-results/scale)");
    cli.parse(argc, argv);
    if (cli.given("--link")) c.links = parse_links(links);
    c.compute = !bytes_only;
    for (std::size_t S : c.workers)
        if (S < 2) throw ist::ConfigError("--workers: every S must be at least 2, got " + std::to_string(S));
    return c;
}

// ---------------------------------------------------------------------------------------------
// The networks

/// A network of the table: its parameter shapes, how it is cut, and one timed local step of worker
/// 0's subnet under a plan.
struct Case {
    std::string name, slug;
    std::vector<ist::ParameterShape> shapes;
    ist::DimensionTable dims;
    ist::AnyPartition partition;
    std::function<double(const ist::WorkerPlan&)> step_seconds;
};

/// Seconds of the best of two forward/backward passes of `net` on `x` (one BLAS thread).
inline double time_step(ist::Network& net, const ist::Matrix& x, const ist::Labels& labels) {
    ist::detail::BlasThreadsGuard one(1);
    double best = 1e300;
    for (int k = 0; k < 2; ++k) {
        const auto t0 = std::chrono::steady_clock::now();
        net.loss_and_gradient(x, labels);
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

/// A random batch of `rows` x `features` inputs with labels of `classes` classes.
inline std::pair<ist::Matrix, ist::Labels> random_batch(std::size_t rows, std::size_t features, std::size_t classes) {
    ist::detail::RandomEngine rng(7);
    ist::Matrix x = ist::Matrix::from_shape({rows, features});
    ist::detail::fill_uniform(x, rng, -1.0f, 1.0f);
    ist::Labels labels(rows);
    for (std::size_t i = 0; i < rows; ++i) labels[i] = static_cast<std::uint32_t>(i % classes);
    return {std::move(x), std::move(labels)};
}

/// A case whose timed step trains worker 0's real subnet of `full` (kept alive by the closure).
inline Case subnet_case(std::string name, std::string slug, ist::Network full, ist::AnyPartition partition,
                        std::size_t rows, std::size_t features, std::size_t classes) {
    auto model = std::make_shared<ist::Network>(std::move(full));
    Case c{std::move(name), std::move(slug), ist::parameter_shapes(*model), model->dimensions(), std::move(partition), {}};
    c.step_seconds = [model, rows, features, classes](const ist::WorkerPlan& wp) {
        ist::Network worker = model->subnet(wp, true);
        auto [x, labels] = random_batch(rows, features, classes);
        return time_step(worker, x, labels);
    };
    return c;
}

/// The talk's example, 100,000 inputs: its shapes come from the same MLP built 1,000 inputs wide
/// and widened (building 1.7 GB of weights only to read their shapes takes half a minute here);
/// its timed step builds worker 0's subnet shape directly, at the full input width.
inline Case talk_example(std::size_t batch) {
    constexpr std::size_t kInputs = 100000, kNarrow = 1000;
    const ist::Network narrow = ist::make_mlp({kNarrow, {4096, 4096}, 10});
    Case c{"IST, MLP 100000-4096-4096-10 (the talk's example)", "mlp-100k", ist::parameter_shapes(narrow),
           narrow.dimensions(), ist::AnyPartition(ist::NeuronPartition{}), {}};
    for (ist::ParameterShape& p : c.shapes)
        for (std::size_t a = 0; a < p.dims.size(); ++a)
            if (p.dims[a] == 0) p.shape[a] = kInputs;  // dimension 0 is the input, never cut by IST
    c.dims[0].size = kInputs;
    c.step_seconds = [batch, dims = c.dims](const ist::WorkerPlan& wp) {
        std::vector<std::size_t> hidden;  // worker 0's share of each hidden layer
        for (std::size_t d : ist::NeuronPartition::feature_dims(dims)) hidden.push_back(wp.dims[d]->size());
        ist::Network worker = ist::make_mlp({kInputs, hidden, 10});
        auto [x, labels] = random_batch(batch, kInputs, 10);
        return time_step(worker, x, labels);
    };
    return c;
}

/// A ring lattice of `nodes` nodes of degree 16: the graph the GCN's timed step propagates over.
inline ist::GcnGraph lattice(std::size_t nodes) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;
    for (std::size_t i = 0; i < nodes; ++i)
        for (std::size_t d = 1; d <= 8; ++d)
            edges.emplace_back(static_cast<std::uint32_t>(i), static_cast<std::uint32_t>((i + d) % nodes));
    return ist::GcnGraph(ist::Graph::from_edges(nodes, edges));
}

inline ist::Network amazon_gcn(const ist::GcnGraph& g) {
    ist::Network net;
    const std::vector<std::size_t> widths{100, 4096, 4096, 4096, 47};
    for (std::size_t l = 0; l + 1 < widths.size(); ++l) {
        net.add(ist::GraphConv(g, widths[l], widths[l + 1], {.bias = true, .self_weight = false, .seed = 7 + l}));
        if (l + 2 < widths.size()) net.add(ist::LayerNorm()).add(ist::ReLU());
    }
    return net;
}

inline std::vector<Case> cases(const Config& c) {
    std::vector<Case> out;
    out.push_back(subnet_case("IST, MLP 784-4096-4096-10", "mlp-784", ist::make_mlp({784, {4096, 4096}, 10}),
                              ist::AnyPartition(ist::NeuronPartition{}), c.batch, 784, 10));
    out.push_back(talk_example(c.batch));
    const ist::Network resnet = ist::make_preact_resnet(
        {.channels = 3, .height = 32, .width = 32, .classes = 10, .stage_channels = {64, 128, 256, 512},
         .stage_blocks = {3, 4, 23, 3}});
    out.push_back(subnet_case("ResIST, ResNet101-shaped (3,4,23,3 blocks, 64..512 ch, 32x32)", "resnet101", resnet,
                              ist::AnyPartition(ist::ResistPartition{}), c.batch, 3 * 32 * 32, 10));
    constexpr std::size_t kNodes = 1024;  // the timed step's graph; the parameters do not depend on it
    out.push_back(subnet_case("GIST, GCN 100-4096-4096-4096-47 (Amazon2M-shaped)", "gcn", amazon_gcn(lattice(kNodes)),
                              ist::AnyPartition(ist::GistPartition{}), kNodes, 100, 47));
    return out;
}

// ---------------------------------------------------------------------------------------------
// One row: a case at one S

struct Row {
    std::size_t S = 0;
    std::uint64_t central_busiest = 0, central_worker = 0, sharded_busiest = 0, sharded_mean = 0;
    double step_seconds = 0.0;
    double ratio() const { return static_cast<double>(sharded_busiest) / static_cast<double>(central_worker); }
};

inline Row measure(const Case& k, std::size_t S, const Config& c) {
    ist::PartitionRng rng(c.seed);
    k.partition.validate(k.dims, S);
    ist::Plan plan = k.partition.plan(k.dims, S, rng);
    ist::derive_indices(k.dims, plan);
    const ist::RankTraffic central = ist::central_traffic(k.shapes, plan);
    const ist::RankTraffic sharded = ist::sharded_traffic(k.shapes, plan);
    Row r{S};
    r.central_busiest = central.total(0);
    for (std::size_t s = 1; s < S; ++s) r.central_worker = std::max(r.central_worker, central.total(s));
    std::uint64_t sum = 0;
    for (std::size_t s = 0; s < S; ++s) {
        r.sharded_busiest = std::max(r.sharded_busiest, sharded.total(s));
        sum += sharded.total(s);
    }
    r.sharded_mean = sum / S;
    if (c.compute) r.step_seconds = k.step_seconds(plan[0]);
    return r;
}

// ---------------------------------------------------------------------------------------------
// Report

inline std::string megabytes(std::uint64_t bytes) {
    char text[32];
    const double mb = static_cast<double>(bytes) / 1e6;
    std::snprintf(text, sizeof text, mb >= 100 ? "%.1f" : "%.4g", mb);  // 4 significant digits or more, no exponent
    return text;
}

inline void print_bytes(std::ostream& os, const Case& k, const std::vector<Row>& rows) {
    os << '\n' << k.name << "\n  MB per round (sent + received)     central             sharded\n"
       << "     S      rank 0    busiest worker    busiest rank   mean rank   sharded busiest / central worker\n";
    char line[160];
    for (const Row& r : rows) {
        std::snprintf(line, sizeof line, "  %4zu  %10s  %16s  %14s  %10s  %8.2f\n", r.S, megabytes(r.central_busiest).c_str(),
                      megabytes(r.central_worker).c_str(), megabytes(r.sharded_busiest).c_str(),
                      megabytes(r.sharded_mean).c_str(), r.ratio());
        os << line;
    }
}

inline void print_times(std::ostream& os, const Case& k, const std::vector<Row>& rows, const Config& c) {
    os << '\n' << k.name << ": modelled seconds per round (l = " << c.local_steps << " steps of batch "
       << c.batch << ", central | sharded)\n     S    step s";
    for (const Link& l : c.links) os << "  " << l.name << " central | sharded";
    os << '\n';
    char cell[96];
    for (const Row& r : rows) {
        std::snprintf(cell, sizeof cell, "  %4zu  %8.4f", r.S, r.step_seconds);
        os << cell;
        const double compute = r.step_seconds * static_cast<double>(c.local_steps);
        for (const Link& l : c.links) {
            const auto comm = [&](std::uint64_t bytes) {
                return comm_seconds(Exchange::ParameterNode, r.S, c.local_steps, bytes, l.bytes_per_second);
            };
            std::snprintf(cell, sizeof cell, "  %13.3f | %7.3f", compute + comm(r.central_busiest),
                          compute + comm(r.sharded_busiest));
            os << cell;
        }
        os << '\n';
    }
}

/// Data parallel on the talk's example: every worker sends its gradient (the model's bytes M) once
/// per step, so a parameter node takes S x M per step (what allreduce_mean counts, one way).
inline void print_data_parallel_check(std::ostream& os, const Case& talk) {
    std::uint64_t floats = 0;
    for (const ist::ParameterShape& p : talk.shapes) {
        std::uint64_t n = 1;
        for (std::size_t d : p.shape) n *= d;
        floats += n;
    }
    const double model_gb = static_cast<double>(floats) * sizeof(float) / 1e9;
    char line[200];
    std::snprintf(line, sizeof line,
                  "\ndata parallel, the talk's example at S = 64: model M = %.3f GB, S x M = %.1f GB per step "
                  "(the talk: 108 GB per round)\n", model_gb, 64 * model_gb);
    os << line;
}

inline void write_csv(const Config& c, const std::vector<Case>& all, const std::vector<std::vector<Row>>& rows) {
    std::ofstream csv(c.out + "/scale.csv");
    csv << "case,S,central_rank0_bytes,central_worker_bytes,sharded_busiest_bytes,sharded_mean_bytes,step_seconds\n";
    for (std::size_t i = 0; i < all.size(); ++i)
        for (const Row& r : rows[i])
            csv << all[i].slug << ',' << r.S << ',' << r.central_busiest << ',' << r.central_worker << ','
                << r.sharded_busiest << ',' << r.sharded_mean << ',' << r.step_seconds << '\n';
}

/// scale.png: MB per round against S, one panel per network (gnuplot, as ist-bench compare plots).
inline void plot(const Config& c, const std::vector<Case>& all) {
    const std::string script = c.out + "/scale.gp";
    std::ofstream gp(script);
    gp << "set terminal pngcairo size 1200,800\nset output '" << c.out << "/scale.png'\n"
       << "set datafile separator ','\nset logscale x 2\nset logscale y\nset xlabel 'S (workers)'\nset ylabel 'MB per round'\n"
       << "set key top left\nset grid\nset multiplot layout 2,2\n";
    for (const Case& k : all) {
        const std::string rows = "'" + c.out + "/scale.csv' using 2:(strcol(1) eq '" + k.slug + "' ? $";
        gp << "set title \"" << k.name << "\" noenhanced\nplot " << rows << "3/1e6 : 1/0) with linespoints title 'central, rank 0', "
           << rows << "4/1e6 : 1/0) with linespoints title 'central, worker', " << rows
           << "5/1e6 : 1/0) with linespoints title 'sharded, busiest rank'\n";
    }
    gp << "unset multiplot\n";
    gp.close();
    if (std::system(("gnuplot " + script + " 2>/dev/null").c_str()) != 0)
        std::cerr << "ist-bench: gnuplot failed or is missing (apt-get install gnuplot-nox); the data is in " << c.out << '\n';
}

inline int run(int argc, char** argv) {
    const Config c = parse(argc, argv);
    std::filesystem::create_directories(c.out);
    const std::vector<Case> all = cases(c);
    std::vector<std::vector<Row>> rows(all.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        for (std::size_t S : c.workers) rows[i].push_back(measure(all[i], S, c));
    for (std::size_t i = 0; i < all.size(); ++i) print_bytes(std::cout, all[i], rows[i]);
    print_data_parallel_check(std::cout, all[1]);
    if (c.compute) {
        std::cout << "\nround = l x (one local step of worker 0's subnet, timed here on one core)"
                     " + 2 S alpha + busiest rank's bytes / beta (alpha = 50 us)\n";
        for (std::size_t i = 0; i < all.size(); ++i) print_times(std::cout, all[i], rows[i], c);
    }
    write_csv(c, all, rows);
    plot(c, all);
    std::cout << "\nwrote " << c.out << "/{scale.csv,scale.png}\n";
    return 0;
}

}  // namespace ist_bench::scale
