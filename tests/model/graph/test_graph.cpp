// Graphs (CSR, normalisation, sparse products), graph loaders, the kNN graph and GraphConv.
#include <doctest/doctest.h>
#include <zlib.h>

#include <xtensor-blas/xlinalg.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <thread>

#include <ist/data/builtin.hpp>
#include <ist/sampling/graph_clusters.hpp>
#include <ist/model/graph/graph_conv.hpp>
#include <ist/data/graph_loaders.hpp>

#include "gradient_check.hpp"
#include "helpers.hpp"

using namespace ist;

namespace {

using EdgeVec = std::vector<std::pair<std::uint32_t, std::uint32_t>>;

/// Files for one test case in a fresh folder of the temp dir, deleted with the object.
struct Scratch {
    std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                ("ist_test_graph_" + std::to_string(std::random_device{}()));
    Scratch() { std::filesystem::create_directories(dir); }
    ~Scratch() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    std::string text(const std::string& name, const std::string& content, bool gzip = false) const {
        const std::string path = (dir / name).string();
        if (gzip) {
            gzFile gz = gzopen(path.c_str(), "wb");
            gzwrite(gz, content.data(), static_cast<unsigned>(content.size()));
            gzclose(gz);
        } else {
            std::ofstream(path, std::ios::binary) << content;
        }
        return path;
    }
    template <class P, class I>
    std::string csr(const std::string& name, const std::vector<P>& indptr, const std::vector<I>& indices) const {
        NpzWriter npz;
        npz.add("indptr", indptr);
        npz.add("indices", indices);
        const std::string path = (dir / name).string();
        npz.write_atomically(path);
        return path;
    }
};

/// The dense matrix of `a`, for comparisons on small graphs only.
Matrix dense(const Graph& a) {
    Matrix m = xt::zeros<float>({a.nodes(), a.nodes()});
    for (std::size_t i = 0; i < a.nodes(); ++i)
        for (std::size_t k = a.row_offsets()[i]; k < a.row_offsets()[i + 1]; ++k) m(i, a.columns()[k]) = a.values()[k];
    return m;
}

/// A random simple graph: each pair joined with probability p.
Graph random_graph(std::size_t n, double p, std::uint64_t seed) {
    detail::RandomEngine rng(seed);
    EdgeVec edges;
    for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t j = i + 1; j < n; ++j)
            if (detail::bernoulli(rng, p)) edges.emplace_back(i, j);
    return Graph::from_edges(n, edges);
}

void check_throws(const std::function<void()>& load, const std::string& message) {
    try {
        load();
        FAIL("no exception; expected: " << message);
    } catch (const DataError& e) {
        CHECK(std::string(e.what()) == message);
    }
}

}  // namespace

TEST_CASE("graph: CSR from an edge list and the normalisation D^-1/2 (A + I) D^-1/2 by hand") {
    // The path 0 - 1 - 2: degrees with self-loops 2, 3, 2.
    const Graph g = Graph::from_edges(3, {{1, 0}, {1, 2}});
    CHECK(g.nodes() == 3);
    CHECK(g.edges() == 2);
    CHECK(g.row_offsets() == std::vector<std::size_t>{0, 1, 3, 4});
    CHECK(g.columns() == std::vector<std::uint32_t>{1, 0, 2, 1});
    const Graph a = g.normalized_adjacency();
    CHECK(a.normalized());
    CHECK(a.edges() == 2);
    CHECK(a.row_offsets() == std::vector<std::size_t>{0, 2, 5, 7});
    CHECK(a.columns() == std::vector<std::uint32_t>{0, 1, 0, 1, 2, 1, 2});
    const float s6 = 1.0f / std::sqrt(6.0f);
    const std::vector<float> expected{0.5f, s6, s6, 1.0f / 3.0f, s6, s6, 0.5f};
    REQUIRE(a.values().size() == expected.size());
    for (std::size_t k = 0; k < expected.size(); ++k) CHECK(a.values()[k] == doctest::Approx(expected[k]).epsilon(1e-6));
    CHECK_THROWS_WITH_AS(a.normalized_adjacency(), "Graph::normalized_adjacency: the graph is already normalised",
                         ConfigError);
    // An isolated node keeps only its self-loop, with weight 1.
    const Graph lone = Graph::from_edges(3, {{0, 1}}).normalized_adjacency();
    CHECK(lone.degree(2) == 1);
    CHECK(lone.values().back() == 1.0f);
}

TEST_CASE("graph: spmm and spmm_transposed equal the dense products") {
    const Graph g = random_graph(30, 0.15, 7);
    const Graph a = g.normalized_adjacency();
    const Matrix x = test::random_matrix(30, 9, 3);
    for (const Graph* m : {&g, &a}) {
        const Matrix d = dense(*m);
        CHECK(d == xt::transpose(d));  // the class invariant the backward pass relies on
        const Matrix expected = xt::linalg::dot(d, x);
        Matrix y, yt;
        spmm(*m, x, y);
        spmm_transposed(*m, x, yt);
        CHECK(xt::amax(xt::abs(y - expected))() < 1e-5f);
        CHECK(xt::amax(xt::abs(yt - xt::linalg::dot(xt::transpose(d), x)))() < 1e-5f);
        // Disjoint row ranges (one per thread) make the same product.
        Matrix parts = Matrix::from_shape(x.shape());
        spmm_rows(*m, x, parts, 0, 11);
        spmm_rows(*m, x, parts, 11, 30);
        CHECK(parts == y);
    }
    Matrix y;
    CHECK_THROWS_WITH_AS(spmm(a, test::random_matrix(29, 2, 1), y), "spmm: the input has 29 rows, the graph has 30 nodes",
                         DataError);
}

TEST_CASE("graph: from_edges rejects ids out of range, self-loops, duplicates and asymmetric input") {
    check_throws([] { Graph::from_edges(4, {{0, 1}, {1, 4}}); }, "edge list: edge 1: node id 4 is out of range for 4 nodes");
    check_throws([] { Graph::from_edges(4, {{0, 1}, {2, 2}}); },
                 "edge list: edge 1: self-loop on node 2 (not allowed: the normalisation adds every self-loop itself)");
    check_throws([] { Graph::from_edges(4, {{0, 1}, {1, 2}, {1, 0}}); },
                 "edge list: edge 2: duplicate edge 1 0 (same as edge 0); an undirected edge list gives each edge "
                 "once, in one direction");
    check_throws([] { Graph::from_edges(4, {{0, 1}, {1, 0}, {2, 1}}, {true}); },
                 "edge list: edge 2: edge 2 1 has no reverse 1 2 (the input must be symmetric: every edge in both "
                 "directions)");
    check_throws([] { Graph::from_edges(4, {{0, 1}, {1, 0}, {0, 1}}, {true}); },
                 "edge list: edge 2: duplicate edge 0 1 (same as edge 0)");
    const Graph both = Graph::from_edges(3, {{0, 1}, {1, 0}, {2, 1}, {1, 2}}, {true});
    CHECK(both.columns() == Graph::from_edges(3, {{0, 1}, {1, 2}}).columns());
}

TEST_CASE("graph: edge-list loader reads comments, tabs and gzip, and names file and line in errors") {
    Scratch s;
    const std::string text = "# a comment\n\n0 1\n1\t2  # trailing comment\r\n2 3\n";
    for (bool gz : {false, true}) {
        const Graph g = load_edge_list(s.text(gz ? "g.txt.gz" : "g.txt", text, gz));
        CHECK(g.nodes() == 4);
        CHECK(g.edges() == 3);
    }
    CHECK(load_edge_list(s.text("n.txt", "0 1\n"), {10}).nodes() == 10);
    const auto fails = [&](const std::string& content, const std::string& message, EdgeListOptions o = {}) {
        const std::string path = s.text("bad.txt", content);
        check_throws([&] { load_edge_list(path, o); }, path + message);
    };
    fails("0 1\n1 2 3\n", ": line 2: expected an edge 'u v' (two node ids), found 3 fields");
    fails("# x\n0\n", ": line 2: expected an edge 'u v' (two node ids), found 1 field");
    fails("0 1\n1 -2\n", ": line 2: '-2' is not a node id (an integer in 0..4294967295)");
    fails("0 1.5\n", ": line 1: '1.5' is not a node id (an integer in 0..4294967295)");
    fails("# nothing\n\n", ": no edges (the file is empty or only comments)");
    fails("0 1\n1 5\n", ": line 2: node id 5 is out of range for 4 nodes", {4});
    fails("1 2\n2 5\n", ": line 2: node id 5 is out of range for 4 nodes (ids 1..4)", {4, true});
    fails("1 2\n0 1\n", ": line 2: node id 0 in a 1-based edge list", {0, true});
    fails("0 1\n1 90000\n", ": the largest node id is 90000 but there are only 2 edges; renumber the nodes 0..n-1 or "
                            "set EdgeListOptions::nodes");
    fails("0 1\n\n3 3\n", ": line 3: self-loop on node 3 (not allowed: the normalisation adds every self-loop itself)");
    fails("1 2\n2 3\n2 1\n",
          ": line 3: duplicate edge 2 1 (same as line 1); an undirected edge list gives each edge once, in one direction",
          {0, true});
    fails("0 1\n1 0\n1 2\n", ": line 3: edge 1 2 has no reverse 2 1 (the input must be symmetric: every edge in both "
                             "directions)",
          {0, false, true});
    const std::string missing = (s.dir / "missing.txt").string();
    check_throws([&] { load_edge_list(missing); }, missing + ": cannot open (No such file or directory)");
}

TEST_CASE("graph: CSR .npz loader, and its errors by array, entry and row") {
    Scratch s;
    // The path 0 - 1 - 2 as a symmetric CSR matrix.
    const Graph g = load_csr_graph(s.csr("ok.npz", std::vector<std::uint64_t>{0, 1, 3, 4},
                                         std::vector<std::uint32_t>{1, 0, 2, 1}));
    CHECK(g.nodes() == 3);
    CHECK(g.edges() == 2);
    CHECK(g.columns() == Graph::from_edges(3, {{0, 1}, {1, 2}}).columns());
    const auto fails = [&](const std::vector<std::uint64_t>& indptr, const std::vector<std::uint32_t>& indices,
                           const std::string& message) {
        const std::string path = s.csr("bad.npz", indptr, indices);
        check_throws([&] { load_csr_graph(path); }, path + message);
    };
    fails({0, 1, 3, 4}, {1, 0, 2, 7}, ": indices.npy entry 3 (row 2): node id 7 is out of range for 3 nodes");
    fails({0, 1, 3, 4}, {1, 0, 1, 1}, ": indices.npy entry 2 (row 1): self-loop on node 1 (not allowed: the "
                                      "normalisation adds every self-loop itself)");
    fails({0, 2, 4, 5}, {1, 1, 0, 2, 1}, ": indices.npy entry 1 (row 0): duplicate edge 0 1 (same as indices.npy "
                                         "entry 0 (row 0))");
    fails({0, 1, 2, 2}, {1, 2}, ": indices.npy entry 0 (row 0): edge 0 1 has no reverse 1 0 (the input must be "
                                "symmetric: every edge in both directions)");
    fails({0, 2, 1, 3}, {1, 2, 0}, "[indptr.npy]: entry 2 (1) is smaller than entry 1 (2)");
    fails({1, 1, 3}, {1, 0}, "[indptr.npy]: entry 0 is 1, must be 0");
    fails({0}, {}, "[indptr.npy]: needs nodes + 1 >= 2 entries, has 1");
    fails({0, 1, 3}, {1, 0}, "[indptr.npy]: last entry 3 does not match the 2 entries of indices.npy");
    const std::string floats = s.csr("f.npz", std::vector<std::uint64_t>{0, 1, 2}, std::vector<float>{1, 0});
    check_throws([&] { load_csr_graph(floats); }, floats + "[indices.npy]: dtype <f4, expected integers");
    check_throws([&] { load_csr_graph(floats, "rowptr"); },
                 floats + ": missing key 'rowptr' (no member 'rowptr.npy'; members: indptr.npy, indices.npy)");
}

TEST_CASE("graph: Zachary's karate club has 34 nodes, 78 edges, the known degrees and two factions of 17") {
    const GraphDataset karate = karate_club();
    const Graph& g = karate.graph;
    CHECK(g.nodes() == 34);
    CHECK(g.edges() == 78);
    // Degrees of members 1..34 (1-based in the paper), from Zachary's adjacency.
    const std::vector<std::size_t> degrees{16, 9, 10, 6, 3, 4, 4, 4, 5, 2, 3, 1, 2, 5, 2, 2, 2,
                                           2, 2, 3, 2, 2, 2, 5, 3, 3, 2, 4, 3, 4, 4, 6, 12, 17};
    for (std::size_t i = 0; i < 34; ++i) CHECK(g.degree(i) == degrees[i]);
    CHECK(g.degree(0) == 16);   // the instructor, member 1
    CHECK(g.degree(33) == 17);  // the administrator, member 34
    const Dataset& d = karate.data;
    d.validate();
    CHECK(d.classes == 2);
    CHECK(d.features == xt::eye<float>(34));
    CHECK(std::count(d.labels.begin(), d.labels.end(), 1u) == 17);
    CHECK(d.labels[0] == 0);
    CHECK(d.labels[33] == 1);
    CHECK(d.labels[8] == 0);  // member 9 joined the instructor's club
    // The normalised adjacency keeps the symmetry and gains one self-loop per node.
    const Graph a = g.normalized_adjacency();
    CHECK(a.entries() == 2 * 78 + 34);
    CHECK(a.edges() == 78);
}

TEST_CASE("graph: kNN graph is symmetric, every degree >= k, and matches a brute-force search") {
    const Matrix p = test::random_matrix(40, 3, 11);
    const std::size_t k = 4;
    // Brute force in double, ties by index.
    std::vector<std::set<std::uint32_t>> expected(40);
    for (std::uint32_t i = 0; i < 40; ++i) {
        std::vector<std::pair<double, std::uint32_t>> by_distance;
        for (std::uint32_t j = 0; j < 40; ++j) {
            if (j == i) continue;
            double d2 = 0.0;
            for (std::size_t c = 0; c < 3; ++c) d2 += std::pow(double{p(i, c)} - double{p(j, c)}, 2);
            by_distance.emplace_back(d2, j);
        }
        std::sort(by_distance.begin(), by_distance.end());
        for (std::size_t r = 0; r < k; ++r) {
            expected[i].insert(by_distance[r].second);
            expected[by_distance[r].second].insert(i);
        }
    }
    // A tiny block size forces many GEMM blocks (2 rows each); the default takes one.
    for (std::size_t block : {std::size_t{80}, std::size_t{1} << 22}) {
        const Graph g = knn_graph(p, k, block);
        REQUIRE(g.nodes() == 40);
        CHECK(dense(g) == xt::transpose(dense(g)));
        for (std::size_t i = 0; i < 40; ++i) {
            CHECK(g.degree(i) >= k);
            const std::set<std::uint32_t> got(g.columns().begin() + static_cast<std::ptrdiff_t>(g.row_offsets()[i]),
                                              g.columns().begin() + static_cast<std::ptrdiff_t>(g.row_offsets()[i + 1]));
            CHECK(got == expected[i]);
        }
    }
    CHECK_THROWS_WITH_AS(knn_graph(p, 40), "knn_graph: k must be in 1..39 for 40 points, got 40", ConfigError);
}

TEST_CASE("graph: kNN graph over the 1,797 digits links mostly same-digit nodes") {
    const Dataset digits = load_digits();
    const Graph g = knn_graph(digits.features, 10);
    CHECK(g.nodes() == 1797);
    std::size_t same = 0, min_degree = g.nodes();
    for (std::size_t i = 0; i < g.nodes(); ++i) {
        min_degree = std::min(min_degree, g.degree(i));
        for (std::size_t e = g.row_offsets()[i]; e < g.row_offsets()[i + 1]; ++e)
            same += digits.labels[i] == digits.labels[g.columns()[e]];
    }
    CHECK(min_degree >= 10);
    CHECK(g.edges() >= 1797 * 10 / 2);
    MESSAGE("digits 10-NN graph: " << g.edges() << " edges, " << 100.0 * same / g.entries() << "% same label");
    CHECK(static_cast<double>(same) / static_cast<double>(g.entries()) > 0.9);
}

namespace {

/// Largest disagreement between Network::loss_and_gradient's gradient and central differences
/// of the loss, over every entry of every parameter, relative to max(1, |numeric|). The best of
/// three step sizes counts: a ReLU kink spoils one step, a wrong gradient all of them.
double worst_gradient_error(Network& net, const Matrix& x, const Labels& y) {
    net.loss_and_gradient(x, y);
    std::vector<Tensor> grads;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) grads.push_back(net.parameter(i).grad);
    double worst = 0.0;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        Parameter& param = net.parameter(i);
        REQUIRE(grads[i].shape() == param.value.shape());
        for (std::size_t e = 0; e < param.value.size(); ++e) {
            float& w = param.value.data()[e];
            const float kept = w;
            double error = 1e9;
            for (const float h : {3e-3f, 1e-3f, 3e-4f}) {
                w = kept + h;
                const double plus = net.loss_and_gradient(x, y);
                w = kept - h;
                const double minus = net.loss_and_gradient(x, y);
                const double numeric = (plus - minus) / (2.0 * h);
                error = std::min(error, std::abs(numeric - grads[i].data()[e]) / std::max(1.0, std::abs(numeric)));
            }
            w = kept;
            if (error > 2e-3) MESSAGE(param.name << " (parameter " << i << ") entry " << e << ": error " << error);
            worst = std::max(worst, error);
        }
    }
    return worst;
}

}  // namespace

TEST_CASE("graph: GraphConv -> LayerNorm -> ReLU -> GraphConv gradients match finite differences") {
    auto a = std::make_shared<const Graph>(random_graph(9, 0.35, 5).normalized_adjacency());
    Labels y;
    for (std::uint32_t i = 0; i < 9; ++i) y.push_back(i % 3);
    for (bool self : {false, true}) {
        CAPTURE(self);
        // 5 -> 8 aggregates first ((A x) W^T), 8 -> 3 transforms first (A (x W^T)): both paths.
        Network net;
        net.add(GraphConv(a, 5, 8, {true, self, 1})).add(LayerNorm()).add(ReLU()).add(GraphConv(a, 8, 3, {true, self, 2}));
        CHECK(net.parameter_count() == (self ? 6u : 4u));
        const Matrix x = test::random_matrix(9, 5, 4);
        CHECK(worst_gradient_error(net, x, y) < 2e-3);
    }
}

TEST_CASE("graph: GraphConv on the karate club: one row per node, feature cut like Dense neurons") {
    const GraphDataset karate = karate_club();
    auto a = std::make_shared<const Graph>(karate.graph.normalized_adjacency());
    Network net;
    net.add(GraphConv(a, 34, 16, {false, false, 1})).add(LayerNorm()).add(ReLU()).add(GraphConv(a, 16, 2, {true, false, 2}));
    const auto dims = net.dimensions();
    REQUIRE(dims.size() == 3);
    CHECK(dims[1].size == 16);
    CHECK(dims[1].partitionable);
    CHECK_FALSE(dims[2].partitionable);
    // A subnet of S = 2 holds 8 hidden features: rows of the first weight, columns of the second.
    NeuronPartition part;
    PartitionRng rng(3);
    Network sub = net.subnet(part.plan(dims, 2, rng)[0], false);
    CHECK(sub.parameter(0).value.shape() == std::vector<std::size_t>{8, 34});
    CHECK(sub.parameter(1).value.shape() == std::vector<std::size_t>{2, 8});
    const Matrix& sub_out = sub.forward(karate.data.features, Mode::Eval);
    CHECK(sub_out.shape()[0] == 34);
    CHECK(sub_out.shape()[1] == 2);
    Matrix out;
    GraphConv layer(a, 34, 4);
    CHECK_THROWS_WITH_AS(layer.forward(test::random_matrix(10, 34, 1), out, Mode::Train),
                         "GraphConv: the batch has 10 rows, the graph has 34 nodes (a graph layer takes the whole "
                         "graph, one row per node)",
                         DataError);
    // Whole-graph training (Adam, all nodes) fits the two factions.
    std::vector<Parameter*> params;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) params.push_back(&net.parameter(i));
    Adam adam(0.01f);
    auto run = adam.start(params);
    for (int step = 0; step < 100; ++step) {
        net.loss_and_gradient(karate.data.features, karate.data.labels);
        run.step(params);
    }
    const Matrix& logits = net.forward(karate.data.features, Mode::Eval);
    std::size_t right = 0;
    for (std::size_t i = 0; i < 34; ++i) right += (logits(i, 1) > logits(i, 0)) == (karate.data.labels[i] == 1);
    CHECK(right >= 32);
}

namespace {

using Nodes = std::vector<std::uint32_t>;

/// Edges of `g` whose two ends share a cluster, as a fraction of all edges.
double intra_fraction(const Graph& g, const Nodes& cluster) {
    std::size_t inside = 0;
    for (std::size_t i = 0; i < g.nodes(); ++i)
        for (std::size_t e = g.row_offsets()[i]; e < g.row_offsets()[i + 1]; ++e) inside += cluster[i] == cluster[g.columns()[e]];
    return static_cast<double>(inside) / static_cast<double>(g.entries());
}

/// Sets the batch rows of every GraphConv of `net` (the Network hook's job in training).
void set_rows(Network& net, const Nodes& rows) {
    for (std::size_t l = 0; l < net.layer_count(); ++l)
        if (auto* conv = net.layer(l).as<GraphConv>()) conv->set_batch_rows(rows);
}

/// The rows of `x` listed in `rows`, in that order.
Matrix take_rows(const Matrix& x, const Nodes& rows) {
    Matrix out = Matrix::from_shape({rows.size(), x.shape()[1]});
    for (std::size_t i = 0; i < rows.size(); ++i) xt::row(out, i) = xt::row(x, rows[i]);
    return out;
}

}  // namespace

TEST_CASE("graph: induced_subgraph keeps exactly the edges among the listed nodes, numbered by position") {
    // 0-1, 0-2, 1-2, 2-3, 3-4, 4-5, 1-5; on nodes (5, 2, 1, 4) only 1-2, 4-5 and 1-5 survive, as
    // local 2-1, 3-0 and 2-0.
    const Graph g = Graph::from_edges(6, {{0, 1}, {0, 2}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {1, 5}});
    const Nodes nodes{5, 2, 1, 4};
    const Graph s = induced_subgraph(g, nodes);
    CHECK_FALSE(s.normalized());
    CHECK(s.nodes() == 4);
    CHECK(s.edges() == 3);
    CHECK(s.row_offsets() == std::vector<std::size_t>{0, 2, 3, 5, 6});
    CHECK(s.columns() == Nodes{2, 3, 2, 0, 1, 0});
    CHECK(s.values() == std::vector<float>(6, 1.0f));
    // Of a normalised graph: the principal submatrix, values and self-loops kept.
    const Graph a = g.normalized_adjacency();
    const Matrix full = dense(a), sub = dense(induced_subgraph(a, nodes));
    CHECK(induced_subgraph(a, nodes).normalized());
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) CHECK(sub(i, j) == full(nodes[i], nodes[j]));
    // The karate club, a shuffled half of it: every pair agrees with the full adjacency.
    const Graph karate = karate_club().graph;
    Nodes half(34);
    std::iota(half.begin(), half.end(), 0u);
    detail::RandomEngine half_rng(4);
    detail::shuffle(half, half_rng);
    half.resize(17);
    const Graph ks = induced_subgraph(karate, half);
    const Matrix kd = dense(karate), ksd = dense(ks);
    std::size_t pairs = 0;
    for (std::size_t i = 0; i < 17; ++i)
        for (std::size_t j = 0; j < 17; ++j) {
            CHECK(ksd(i, j) == kd(half[i], half[j]));
            pairs += kd(half[i], half[j]) != 0.0f;
        }
    CHECK(ks.edges() == pairs / 2);
    CHECK(ks.edges() > 0);
    // All nodes in order: the graph itself.
    Nodes all(34);
    std::iota(all.begin(), all.end(), 0u);
    CHECK(induced_subgraph(karate, all).columns() == karate.columns());
    CHECK(induced_subgraph(karate, all).row_offsets() == karate.row_offsets());
}

TEST_CASE("graph: induced_subgraph rejects an empty list, ids out of range and repeated ids") {
    const Graph g = Graph::from_edges(6, {{0, 1}, {1, 2}});
    const auto sub = [&](const Nodes& nodes) { return induced_subgraph(g, nodes); };
    CHECK_THROWS_WITH_AS(sub({}), "induced_subgraph: no nodes given", DataError);
    CHECK_THROWS_WITH_AS(sub({1, 6}), "induced_subgraph: entry 1: node id 6 is out of range for 6 nodes", DataError);
    CHECK_THROWS_WITH_AS(sub({3, 1, 3}), "induced_subgraph: entry 2: duplicate node id 3 (same as entry 0)", DataError);
    CHECK(sub({3, 1, 0}).edges() == 1);
}

TEST_CASE("graph: cluster_nodes splits two triangles exactly, and rejects impossible cluster counts") {
    const Graph g = Graph::from_edges(6, {{0, 1}, {1, 2}, {0, 2}, {3, 4}, {4, 5}, {3, 5}});
    for (std::uint64_t seed = 0; seed < 8; ++seed) {
        CAPTURE(seed);
        const Nodes c = cluster_nodes(g, 2, seed);
        CHECK(c[0] == c[1]);
        CHECK(c[1] == c[2]);
        CHECK(c[3] == c[4]);
        CHECK(c[4] == c[5]);
        CHECK(c[0] != c[3]);
    }
    CHECK(cluster_nodes(g, 1, 3) == Nodes(6, 0));
    const Nodes singletons = cluster_nodes(g, 6, 3);
    CHECK(std::set<std::uint32_t>(singletons.begin(), singletons.end()).size() == 6);
    CHECK_THROWS_WITH_AS(cluster_nodes(g, 0, 1), "cluster_nodes: clusters must be in 1..6 for a graph of 6 nodes, got 0",
                         ConfigError);
    CHECK_THROWS_WITH_AS(cluster_nodes(g, 7, 1), "cluster_nodes: clusters must be in 1..6 for a graph of 6 nodes, got 7",
                         ConfigError);
    CHECK_THROWS_WITH_AS(cluster_members(Nodes{0, 2, 1}, 2),
                         "cluster_members: node 1 is in cluster 2, but there are only 2 clusters", ConfigError);
}

TEST_CASE("graph: cluster_nodes on the digits kNN graph: balanced, seeded, and far more edges inside than at random") {
    const Dataset digits = load_digits();
    const Graph g = knn_graph(digits.features, 10);
    for (std::size_t k : {std::size_t{7}, std::size_t{40}}) {
        CAPTURE(k);
        const Nodes c = cluster_nodes(g, k, 5);
        REQUIRE(c.size() == g.nodes());
        const auto members = cluster_members(c, k);
        std::size_t smallest = g.nodes(), largest = 0, total = 0;
        for (const Nodes& m : members) {
            smallest = std::min(smallest, m.size());
            largest = std::max(largest, m.size());
            total += m.size();
            CHECK(std::is_sorted(m.begin(), m.end()));
            for (std::uint32_t v : m) CHECK(c[v] == &m - members.data());
        }
        CHECK(total == g.nodes());
        // Each size within one of N / k rounded down or up.
        CHECK(smallest + 1 >= g.nodes() / k);
        CHECK(largest <= (g.nodes() + k - 1) / k + 1);
        CHECK(cluster_nodes(g, k, 5) == c);
        CHECK(cluster_nodes(g, k, 6) != c);
        // The same cluster sizes dealt at random keep about 1/k of the edges inside.
        Nodes shuffled = c;
        detail::RandomEngine shuffle_rng(1);
        detail::shuffle(shuffled, shuffle_rng);
        const double ours = intra_fraction(g, c), random = intra_fraction(g, shuffled);
        MESSAGE(k << " clusters: " << 100.0 * ours << "% of edges inside, " << 100.0 * random << "% at random");
        CHECK(ours > 3.0 * random);
    }
}

TEST_CASE("graph: GraphConv on a batch equals GraphConv on the batch's induced subgraph, forward and backward") {
    const Graph plain = random_graph(20, 0.3, 9);
    const GcnGraph gcn(plain);
    const Nodes rows{13, 2, 7, 19, 0, 5, 11, 8, 16, 3, 10, 14};
    auto direct = std::make_shared<const Graph>(induced_subgraph(plain, rows).normalized_adjacency());
    // 5 -> 8 aggregates first, 8 -> 3 transforms first: both paths.
    for (const auto& [in, out] : {std::pair<std::size_t, std::size_t>{5, 8}, {8, 3}})
        for (bool self : {false, true}) {
            CAPTURE(in);
            CAPTURE(self);
            GraphConv batched(gcn, in, out, {true, self, 7});
            GraphConv reference(direct, in, out, {true, self, 7});
            batched.set_batch_rows(rows);
            const Matrix x = test::random_matrix(rows.size(), in, 1), dy = test::random_matrix(rows.size(), out, 2);
            Matrix y1, y2, dx1, dx2;
            batched.forward(x, y1, Mode::Train);
            reference.forward(x, y2, Mode::Train);
            CHECK(y1 == y2);
            batched.backward(x, y1, dy, &dx1);
            reference.backward(x, y2, dy, &dx2);
            CHECK(dx1 == dx2);
            for (std::size_t p = 0; p < batched.parameters().size(); ++p)
                CHECK(batched.parameters()[p].grad == reference.parameters()[p].grad);
        }
}

TEST_CASE("graph: GraphConv batches: the whole graph uses A_hat, the same rows reuse their matrix, copies are apart") {
    const GcnGraph gcn(random_graph(20, 0.3, 9));
    GraphConv layer(gcn, 4, 3);
    CHECK(&layer.propagation() == gcn.a_hat().get());
    Nodes all(20);
    std::iota(all.begin(), all.end(), 0u);
    layer.set_batch_rows(all);
    CHECK(&layer.propagation() == gcn.a_hat().get());
    const Nodes rows{4, 1, 9, 17, 12}, other{4, 1, 9, 17, 11};
    layer.set_batch_rows(rows);
    const Graph* built = &layer.propagation();
    CHECK(built != gcn.a_hat().get());
    CHECK(built->nodes() == 5);
    layer.set_batch_rows(Nodes(rows));  // equal rows in another vector: no rebuild
    CHECK(&layer.propagation() == built);
    GraphConv copy = layer;
    copy.set_batch_rows(other);
    CHECK(&layer.propagation() == built);
    CHECK(&copy.propagation() != built);
    Matrix y;
    CHECK_THROWS_WITH_AS(layer.forward(test::random_matrix(6, 4, 1), y, Mode::Train),
                         "GraphConv: the batch has 6 rows, set_batch_rows gave 5 nodes (one row per node, in that order)",
                         DataError);
    CHECK_THROWS_WITH_AS(layer.set_batch_rows(Nodes{}), "GraphConv::set_batch_rows: the batch has no rows", DataError);
    CHECK_THROWS_WITH_AS(layer.set_batch_rows(Nodes{1, 20}),
                         "induced_subgraph: entry 1: node id 20 is out of range for 20 nodes", DataError);
    CHECK(&layer.propagation() == built);  // a rejected batch leaves the last one in place
    layer.set_batch_rows(all);
    CHECK(&layer.propagation() == gcn.a_hat().get());
    CHECK_THROWS_WITH_AS(layer.forward(test::random_matrix(5, 4, 1), y, Mode::Train),
                         "GraphConv: the batch has 5 rows, the graph has 20 nodes (a graph layer takes the whole graph, "
                         "one row per node)",
                         DataError);
}

TEST_CASE("graph: GraphConv from A_hat alone takes reorderings of all nodes, and names what a subset needs") {
    const GcnGraph gcn(random_graph(20, 0.3, 9));
    GraphConv from_a_hat(gcn.a_hat(), 4, 6, {true, true, 3}), from_plain(gcn, 4, 6, {true, true, 3});
    Nodes perm(20);
    std::iota(perm.begin(), perm.end(), 0u);
    detail::RandomEngine perm_rng(2);
    detail::shuffle(perm, perm_rng);
    const Matrix x = test::random_matrix(20, 4, 5);
    Matrix whole, y1, y2;
    from_a_hat.forward(x, whole, Mode::Eval);
    from_a_hat.set_batch_rows(perm);
    from_plain.set_batch_rows(perm);
    const Matrix xp = take_rows(x, perm);
    from_a_hat.forward(xp, y1, Mode::Eval);
    from_plain.forward(xp, y2, Mode::Eval);
    CHECK(xt::amax(xt::abs(y1 - y2))() < 1e-6f);
    // Reordering the nodes reorders the output rows (up to summation order).
    CHECK(xt::amax(xt::abs(y1 - take_rows(whole, perm)))() < 1e-5f);
    CHECK_THROWS_WITH_AS(from_a_hat.set_batch_rows(Nodes{3, 1, 4}),
                         "GraphConv::set_batch_rows: a batch of 3 of the 20 nodes needs the plain graph to normalise its "
                         "induced subgraph (build the layer from a GcnGraph)",
                         ConfigError);
    CHECK_THROWS_WITH_AS(GcnGraph(gcn.a_hat()), "GcnGraph: needs the plain graph; it normalises it itself", ConfigError);
}

TEST_CASE("graph: GraphConv -> LayerNorm -> ReLU -> GraphConv gradients on a batch match finite differences") {
    const GcnGraph gcn(random_graph(20, 0.3, 9));
    const Nodes rows{13, 2, 7, 19, 0, 5, 11, 8, 16, 3, 10, 14};  // check_gradients takes 12 rows
    Network net;
    net.add(GraphConv(gcn, 5, 8, {true, false, 1})).add(LayerNorm()).add(ReLU()).add(GraphConv(gcn, 8, 3, {true, true, 2}));
    set_rows(net, rows);
    REQUIRE(net.layer(0).as<GraphConv>()->propagation().nodes() == 12);
    REQUIRE(net.layer(3).as<GraphConv>()->propagation().nodes() == 12);
    test::check_gradients(net, 5, 3, 4);
}

TEST_CASE("graph: GraphConv copies on two threads, each on its own batches, match a single-threaded run") {
    const GcnGraph gcn(random_graph(40, 0.2, 3));
    const GraphConv prototype(gcn, 6, 4, {true, false, 1});
    const std::vector<Nodes> batches{{0, 5, 9, 12, 30}, {39, 1, 2, 3, 4, 20}, {7, 8, 33}};
    const auto run = [&](GraphConv layer, std::size_t first) {
        Matrix y, dx;
        double sum = 0.0;
        for (std::size_t step = 0; step < 30; ++step) {
            const Nodes& rows = batches[(first + step) % batches.size()];
            layer.set_batch_rows(rows);
            const Matrix x = test::random_matrix(rows.size(), 6, step);
            layer.forward(x, y, Mode::Train);
            layer.backward(x, y, y, &dx);
            sum += xt::sum(y)() + xt::sum(dx)();
        }
        return sum;
    };
    double a = 0.0, b = 0.0;
    std::thread ta([&] { a = run(prototype, 0); }), tb([&] { b = run(prototype, 1); });
    ta.join();
    tb.join();
    CHECK(a == run(prototype, 0));
    CHECK(b == run(prototype, 1));
    CHECK(a != b);
}
