// Network's structure: a refused add leaves the network as it was, copies and subnets share one
// immutable Topology, and a subnet holding every index is the full network bit for bit.
#include <doctest/doctest.h>

#include <ist/model/mlp.hpp>
#include <ist/model/resnet/resnet.hpp>
#include <ist/partition/neuron_partition.hpp>

#include "gradient_check.hpp"
#include "helpers.hpp"

using namespace ist;

namespace {

/// Everything observable of a network's structure and values, to compare before and after.
struct Snapshot {
    std::vector<std::string> dim_names;
    std::vector<std::size_t> dim_sizes, dim_spans;
    std::vector<bool> dim_partitionable;
    std::size_t layers = 0, parameters = 0, elements = 0, inputs = 0, outputs = 0;
    Matrix output;

    bool operator==(const Snapshot&) const = default;
};

Snapshot snapshot(Network& net, const Matrix& x) {
    Snapshot s;
    for (const Dimension& d : net.dimensions()) {
        s.dim_names.push_back(d.name);
        s.dim_sizes.push_back(d.size);
        s.dim_spans.push_back(d.span);
        s.dim_partitionable.push_back(d.partitionable);
    }
    s.layers = net.layer_count();
    s.parameters = net.parameter_count();
    s.elements = net.parameter_elements();
    s.inputs = net.input_size();
    s.outputs = net.output_size();
    s.output = net.forward(x, Mode::Eval);
    return s;
}

/// A plain network of `pairs` Dense(width, width) -> ReLU pairs and a dense head.
Network deep_mlp(std::size_t pairs, std::size_t width, std::size_t classes) {
    Network net;
    for (std::size_t i = 0; i < pairs; ++i) net.add(Dense(width, width, true, 100 + i)).add(ReLU());
    net.add(Dense(width, classes, true, 7));
    return net;
}

/// The subnet of `net` that holds every index of every dimension.
Network whole_subnet(const Network& net) { return net.subnet(full_plan(net.dimensions(), 1).front()); }

}  // namespace

TEST_CASE("network: a refused layer leaves dimensions, parameters and output exactly as before") {
    const MlpSpec spec{.inputs = 6, .hidden = {8}, .classes = 3, .norm = Norm::Layer, .seed = 2};
    Network net = make_mlp(spec);
    const Matrix x = test::random_matrix(5, 6, 1);
    const Snapshot before = snapshot(net, x);
    const auto topology = net.topology();
    // Opens a new dimension and claims its width before its input width is found wrong.
    CHECK_THROWS_AS(net.add(Dense(5, 4, true, 9)), ConfigError);
    CHECK(snapshot(net, x) == before);
    CHECK(net.topology() == topology);
    // The network still grows as if nothing had been tried.
    net.add(ReLU()).add(Dense(3, 2, true, 4));
    Network untried = make_mlp(spec);
    untried.add(ReLU()).add(Dense(3, 2, true, 4));
    CHECK(snapshot(net, x) == snapshot(untried, x));
    CHECK(net.loss_and_gradient(x, {0, 1, 1, 0, 1}) == untried.loss_and_gradient(x, {0, 1, 1, 0, 1}));
}

TEST_CASE("network: a refused residual block leaves dimensions, parameters and output exactly as before") {
    Network net = make_residual_mlp({.inputs = 5, .width = 4, .hidden = 6, .classes = 3, .blocks = 2, .seed = 3});
    const Matrix x = test::random_matrix(7, 5, 2);
    const Snapshot before = snapshot(net, x);
    // A projecting block starts a new section and registers its shortcut before the branch is
    // found not to end in the shortcut's dimension.
    Residual widening;
    widening.add(ReLU()).shortcut(Dense(3, 6, true, 1));
    CHECK_THROWS_WITH_AS(net.add(widening),
                         doctest::Contains("a widening block needs a layer that opens a dimension in both"), ConfigError);
    CHECK(snapshot(net, x) == before);
    Residual empty;
    CHECK_THROWS_WITH_AS(net.add(empty), "Network::add: residual block 2: the branch has no layers", ConfigError);
    CHECK(snapshot(net, x) == before);
    net.add(residual_mlp_block(3, 4, 5));
    CHECK(net.dimensions().size() == before.dim_names.size() + 2);  // the block's hidden dimension and section
    test::check_gradients(net, 5, 3, 6);
}

TEST_CASE("network: copies and subnets share the topology instead of copying layer skeletons") {
    const Network net = deep_mlp(50, 6, 3);
    REQUIRE(net.layer_count() == 101);
    PartitionRng rng(4);
    const Plan plan = NeuronPartition{}.plan(net.dimensions(), 2, rng);
    const Network sub = net.subnet(plan[0]);
    const Network copy = net;
    CHECK(sub.topology() == net.topology());
    CHECK(copy.topology() == net.topology());
    CHECK(net.topology().use_count() == 3);
    // The topology keeps full sizes; the subnet's own table holds its share.
    CHECK(net.topology()->dimensions()[1].size == 6);
    CHECK(sub.dimensions()[1].size == 3);
    CHECK(sub.dimensions()[1].name == net.dimensions()[1].name);

    // add extends a copy of the topology but shares every earlier layer's record.
    Network grown = net;
    grown.add(ReLU());
    CHECK(grown.topology() != net.topology());
    CHECK(net.layer_count() == 101);
    CHECK(grown.layer_count() == 102);
    for (std::size_t l = 0; l < net.layer_count(); ++l) CHECK(&grown.topology()->layer(l) == &net.topology()->layer(l));
}

TEST_CASE("network: a subnet holding every index is the full network bit for bit") {
    const Matrix x = test::random_matrix(6, 8, 5);
    const Labels y = {0, 1, 2, 0, 1, 2};
    std::vector<Network> nets;
    nets.push_back(make_mlp({.inputs = 8, .hidden = {12, 10}, .classes = 3, .seed = 1}));
    nets.push_back(make_residual_mlp({.inputs = 8, .width = 6, .hidden = 5, .classes = 3, .blocks = 3, .seed = 2}));
    nets.back().set_unit_scale(nets.back().parameter_unit(4), 0.25f);  // the scale travels into the subnet
    for (Network& net : nets) {
        Network sub = whole_subnet(net);
        CHECK(test::same_parameters(sub, net));
        CHECK(sub.forward(x, Mode::Eval) == net.forward(x, Mode::Eval));
        CHECK(sub.loss_and_gradient(x, y) == net.loss_and_gradient(x, y));
        for (std::size_t i = 0; i < net.parameter_count(); ++i) CHECK(sub.parameter(i).grad == net.parameter(i).grad);
    }
}

TEST_CASE("network: an empty or moved-from network is a valid empty network") {
    Network empty;
    CHECK(empty.layer_count() == 0);
    CHECK(empty.dimensions().empty());
    CHECK(empty.input_size() == 0);
    CHECK_THROWS_WITH_AS(empty.forward(Matrix::from_shape({1, 1}), Mode::Eval), "Network::forward: the network has no layers",
                         ConfigError);
    Network net = deep_mlp(1, 4, 2);
    Network taken = std::move(net);
    CHECK(taken.layer_count() == 3);
    net.add(Dense(3, 2, true, 1));  // a moved-from network can be rebuilt
    CHECK(net.input_size() == 3);
    CHECK(net.parameter_count() == 2);
}
