// GIST through IstTrainer: GCNs cut by hidden feature dimension, whole-graph batches with
// train/test node masks, the split-input and keep-last-hidden options, and Cluster-GCN batches.
#include <doctest/doctest.h>

#include <ist/data/builtin.hpp>
#include <ist/detail/blas_threads.hpp>
#include <ist/sampling/graph_clusters.hpp>
#include <ist/model/graph/graph_conv.hpp>
#include <ist/data/graph_loaders.hpp>
#include <ist/model/activation.hpp>
#include <ist/model/layer_norm.hpp>
#include <ist/optim/adam.hpp>
#include <ist/partition/full_model.hpp>
#include <ist/partition/gist.hpp>
#include <ist/train/trainer.hpp>

#include "gradient_check.hpp"

using namespace ist;

namespace {

/// GraphConv -> LayerNorm -> ReLU for every hidden width, then GraphConv to the classes.
Network make_gcn(const GcnGraph& graph, std::size_t inputs, const std::vector<std::size_t>& hidden, std::size_t classes,
                 std::uint64_t seed) {
    Network net;
    std::size_t width = inputs;
    for (std::size_t h : hidden) {
        net.add(GraphConv(graph, width, h, {.seed = seed++})).add(LayerNorm()).add(ReLU());
        width = h;
    }
    net.add(GraphConv(graph, width, classes, {.seed = seed}));
    return net;
}

/// One node set split into training and test nodes of the same graph.
struct NodeSplit {
    Dataset train, test;
};

NodeSplit split_nodes(const Dataset& nodes, double train_fraction, std::uint64_t seed) {
    detail::RandomEngine rng(seed);
    const std::vector<std::uint32_t> order = detail::random_permutation(nodes.size(), rng);
    const auto cut = static_cast<std::ptrdiff_t>(train_fraction * static_cast<double>(nodes.size()));
    return {keep_labels(nodes, {order.begin(), order.begin() + cut}), keep_labels(nodes, {order.begin() + cut, order.end()})};
}

TrainerOptions whole_graph_options(std::size_t S, std::size_t l, std::size_t rounds) {
    TrainerOptions o = test::test_options(S, l, rounds, 2, 3);
    o.batches = Batches::FullSet;
    return o;
}

struct DigitsGraph {
    Dataset nodes;
    GcnGraph graph;
};

const DigitsGraph& digits_graph() {
    static const DigitsGraph g = [] {
        Dataset nodes = load_digits();
        nodes.features /= 16.0f;
        Graph knn = knn_graph(nodes.features, 10);
        return DigitsGraph{std::move(nodes), GcnGraph(std::move(knn))};
    }();
    return g;
}

}  // namespace

TEST_CASE("gist: masked labels leave rows out of the loss, its gradient and the accuracy") {
    const Matrix logits = test::random_matrix(6, 3, 1);
    const Labels all{0, 2, 1, 1, 0, 2};
    Labels masked = all;
    masked[1] = masked[4] = kUnlabeled;
    Matrix g_masked, g_kept;
    const float loss = softmax_cross_entropy(logits, masked, &g_masked);
    const std::vector<std::size_t> kept{0, 2, 3, 5};
    Matrix sub = Matrix::from_shape({4, 3});
    Labels sub_labels;
    for (std::size_t r = 0; r < kept.size(); ++r) {
        xt::row(sub, static_cast<std::ptrdiff_t>(r)) = xt::row(logits, static_cast<std::ptrdiff_t>(kept[r]));
        sub_labels.push_back(all[kept[r]]);
    }
    CHECK(loss == doctest::Approx(softmax_cross_entropy(sub, sub_labels, &g_kept)));
    for (std::size_t r = 0; r < kept.size(); ++r)
        CHECK(xt::allclose(xt::row(g_masked, static_cast<std::ptrdiff_t>(kept[r])), xt::row(g_kept, static_cast<std::ptrdiff_t>(r))));
    CHECK(xt::all(xt::equal(xt::row(g_masked, 1), 0.0f)));
    CHECK(count_correct(logits, masked) == count_correct(sub, sub_labels));
    CHECK(count_labelled(masked) == 4);
    CHECK_THROWS_WITH_AS(check_labels(Labels{0, 7}, 2, 3), "labels: label 7 at row 1 is out of range for 3 classes",
                         DataError);
}

TEST_CASE("gist: the partitioner cuts hidden features, optionally the input, optionally not the last hidden") {
    const auto& g = digits_graph();
    const Network net = make_gcn(g.graph, 64, {32, 24}, 10, 1);
    const auto& dims = net.dimensions();
    REQUIRE(dims.size() == 4);
    CHECK(GistPartition{}.cut_dims(dims) == std::vector<std::size_t>{1, 2});
    CHECK(GistPartition({.split_input = true}).cut_dims(dims) == std::vector<std::size_t>{0, 1, 2});
    CHECK(GistPartition({.keep_last_hidden = true}).cut_dims(dims) == std::vector<std::size_t>{1});
    PartitionRng rng(2);
    for (const GistOptions options : {GistOptions{}, GistOptions{true, false}, GistOptions{false, true}, GistOptions{true, true}})
        for (std::size_t S = 1; S <= 5; ++S) {
            CAPTURE(S);
            const Plan plan = GistPartition(options).plan(dims, S, rng);
            CHECK(plan[0].dims[0].has_value() == options.split_input);
            CHECK(plan[0].dims[2].has_value() == !options.keep_last_hidden);
            CHECK(test::same_parameters(test::extract_then_merge(net, plan), net));
        }
    CHECK_THROWS_WITH_AS(GistPartition{}.validate(dims, 25),
                         "GistPartition: S = 25 workers but dimension 'hidden2' has only 24 indices; each worker needs at least one",
                         ConfigError);
    CHECK_THROWS_WITH_AS(GistPartition({.split_input = true}).validate(dims, 65),
                         "GistPartition: S = 65 workers but dimension 'input' has only 64 indices; each worker needs at least one",
                         ConfigError);
}

TEST_CASE("gist: S = 1 on the whole graph is full-batch training, bit for bit, with or without the input cut") {
    const auto& g = digits_graph();
    const NodeSplit split = split_nodes(g.nodes, 0.1, 4);
    for (const bool split_input : {false, true}) {
        CAPTURE(split_input);
        Network a = make_gcn(g.graph, 64, {32}, 10, 5), b = a;
        const TrainerOptions o = whole_graph_options(1, 3, 3);
        IstTrainer<Network, GistPartition, Adam> gist(a, o, GistPartition({.split_input = split_input}), Adam(0.01f));
        IstTrainer<Network, FullModel, Adam> full(b, o, FullModel{}, Adam(0.01f));
        gist.train(split.train, split.test);
        full.train(split.train, split.test);
        CHECK(test::same_parameters(a, b));
    }
    // By hand: three Adam steps of the whole-graph masked loss give the same weights.
    Network a = make_gcn(g.graph, 64, {32}, 10, 5), manual = a;
    IstTrainer<Network, GistPartition, Adam> gist(a, whole_graph_options(1, 3, 1), GistPartition{}, Adam(0.01f));
    gist.train(split.train, split.test);
    Adam adam(0.01f);
    const detail::BlasThreadsGuard one_thread(1);  // as the trainer's workers: the same sums in the same order
    const auto params = parameter_pointers(manual);
    auto run = adam.start(params);
    for (int t = 0; t < 3; ++t) {
        manual.loss_and_gradient(split.train.features, split.train.labels);
        run.step(params);
    }
    CHECK(test::same_parameters(a, manual));
}

TEST_CASE("gist: the split-input option hands each worker only its feature columns") {
    const auto& g = digits_graph();
    const NodeSplit split = split_nodes(g.nodes, 0.1, 4);
    Network net = make_gcn(g.graph, 64, {32}, 10, 6);
    IstTrainer<Network, GistPartition, Adam> trainer(net, whole_graph_options(2, 10, 15), GistPartition({.split_input = true}),
                                                     Adam(0.01f));
    const auto result = trainer.train(split.train, split.test);
    MESSAGE("GIST with split input, S = 2, digits 10-NN graph, 10% labelled: " << result.final_test->accuracy);
    CHECK(result.final_test->accuracy >= 0.8);
    // A worker's subnet takes 16 of the 64 input features: the full data would be refused.
    PartitionRng rng(1);
    const Plan plan = trainer.partitioner().plan(net.dimensions(), 2, rng);
    Network sub = net.subnet(plan[0]);
    CHECK_THROWS_WITH_AS(sub.forward(split.train.features, Mode::Train),
                         "GraphConv: input has 64 features, the layer expects 32", DataError);
}

TEST_CASE("gist: a 2-layer GCN trained with GIST (S = 2) on the digits 10-NN graph beats 0.9 with 10% of labels") {
    const auto& g = digits_graph();
    const NodeSplit split = split_nodes(g.nodes, 0.1, 7);
    Network net = make_gcn(g.graph, 64, {128}, 10, 8);
    IstTrainer<Network, GistPartition, Adam> trainer(net, whole_graph_options(2, 10, 15), GistPartition{}, Adam(0.01f));
    const auto result = trainer.train(split.train, split.test);
    MESSAGE("GIST S = 2 test accuracy " << result.final_test->accuracy << ", " << trainer.total_bytes() << " bytes");
    CHECK(result.final_test->accuracy >= 0.9);
    CHECK(result.history.back().train_loss < result.history.front().train_loss);
}

TEST_CASE("gist: Cluster-GCN batches train on induced subgraphs and still evaluate the whole graph") {
    const auto& g = digits_graph();
    Dataset nodes = g.nodes;
    nodes.clusters = cluster_nodes(*g.graph.plain(), 24, 3);
    const NodeSplit split = split_nodes(nodes, 0.3, 9);
    Network net = make_gcn(g.graph, 64, {64}, 10, 10);
    TrainerOptions o = whole_graph_options(2, 10, 12);
    o.batches = Batches::Clusters;
    o.clusters_per_batch = 3;
    IstTrainer<Network, GistPartition, Adam> trainer(net, o, GistPartition{}, Adam(0.01f));
    const auto result = trainer.train(split.train, split.test);
    MESSAGE("GIST + Cluster-GCN (24 clusters, 3 per batch), S = 2: " << result.final_test->accuracy);
    CHECK(result.final_test->accuracy >= 0.85);

    Dataset no_clusters = split.train;
    no_clusters.clusters.clear();
    Network other = make_gcn(g.graph, 64, {64}, 10, 10);
    IstTrainer<Network, GistPartition, Adam> missing(other, o, GistPartition{}, Adam(0.01f));
    CHECK_THROWS_WITH_AS(missing.train(no_clusters, split.test),
                         "digits: Batches::Clusters needs a cluster id per row (Dataset::clusters)", DataError);
    Dataset one_cluster = split.train;
    std::fill(one_cluster.clusters.begin(), one_cluster.clusters.end(), 0u);
    CHECK_THROWS_WITH_AS(missing.train(one_cluster, split.test), "training set has 1 clusters, fewer than the 2 workers",
                         DataError);
    CHECK(test::same_parameters(other, make_gcn(g.graph, 64, {64}, 10, 10)));  // refused before any training
}

TEST_CASE("gist: evaluation needs labelled rows and says so") {
    const auto& g = digits_graph();
    Network net = make_gcn(g.graph, 64, {16}, 10, 1);
    IstTrainer<Network, GistPartition, Adam> trainer(net, whole_graph_options(2, 1, 1), GistPartition{}, Adam(0.01f));
    const Dataset none = keep_labels(g.nodes, {});
    CHECK_THROWS_WITH_AS(trainer.evaluate(none), "digits: no labelled rows to evaluate on", DataError);
    CHECK_THROWS_WITH_AS(keep_labels(g.nodes, {5000}), "digits: row 5000 is out of range for 1797 rows", DataError);
}
