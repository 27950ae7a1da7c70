// Heterogeneous workers: CapacityPartition (a disjoint cut sized by shares) and NestedPartition
// (HeteroFL / FjORD prefixes), checked against chunk sizes and byte counts worked out by hand.
#include <doctest/doctest.h>

#include <set>

#include <ist/partition/any_partition.hpp>

#include "helpers.hpp"

using namespace ist;

namespace {

std::vector<std::size_t> chunk_sizes(const Plan& plan, std::size_t d) {
    std::vector<std::size_t> out;
    for (const auto& wp : plan) out.push_back(wp.dims[d]->size());
    return out;
}

// Floats of worker subnets of 64-h1-h2-10 without norms (Dense with bias): what travels each way.
std::size_t mlp_floats(std::size_t h1, std::size_t h2) { return 64 * h1 + h1 + h1 * h2 + h2 + h2 * 10 + 10; }

}  // namespace

TEST_CASE("capacity: chunk sizes follow the shares by largest remainder, every index dealt once") {
    const Network net = make_mlp({5, {100, 64}, 3});
    const CapacityPartition part({0.4, 0.3, 0.2, 0.1});
    part.validate(net.dimensions(), 4);
    PartitionRng rng(3);
    const Plan plan = part.plan(net.dimensions(), 4, rng);
    const auto hidden = NeuronPartition::feature_dims(net.dimensions());
    REQUIRE(hidden.size() == 2);
    CHECK(chunk_sizes(plan, hidden[0]) == std::vector<std::size_t>{40, 30, 20, 10});
    // 64 x shares = 25.6, 19.2, 12.8, 6.4: floors 25, 19, 12, 6 (62); the two left over go to the
    // largest remainders, .8 (worker 2) then .6 (worker 0).
    CHECK(chunk_sizes(plan, hidden[1]) == std::vector<std::size_t>{26, 19, 13, 6});
    for (std::size_t d : hidden) {
        std::multiset<std::uint32_t> all;
        for (const auto& wp : plan) all.insert(wp.dims[d]->begin(), wp.dims[d]->end());
        CHECK(all.size() == net.dimensions()[d].size);
        CHECK(std::set<std::uint32_t>(all.begin(), all.end()).size() == all.size());
    }
    const Plan next = part.plan(net.dimensions(), 4, rng);  // a fresh draw every round
    CHECK(next[0].dims[hidden[0]] != plan[0].dims[hidden[0]]);
}

TEST_CASE("capacity: impossible shares are refused, naming the value") {
    const Network net = make_mlp({5, {8, 64}, 3});
    const auto& dims = net.dimensions();
    CHECK_THROWS_WITH_AS(CapacityPartition({0.5, 0.4}).validate(dims, 2),
                         "CapacityPartition: the shares sum to 0.900000, not 1; a disjoint cut deals every index to one worker",
                         ConfigError);
    CHECK_THROWS_WITH_AS(CapacityPartition({0.5, 0.5}).validate(dims, 3),
                         "CapacityPartition: 2 shares for S = 3 workers; give one share per worker", ConfigError);
    CHECK_THROWS_WITH_AS(CapacityPartition({1.0, 0.0}).validate(dims, 2),
                         "CapacityPartition: worker 1's share is 0.000000; each share must be in (0, 1]", ConfigError);
    // 8 x (0.9, 0.05, 0.05) = 7.2, 0.4, 0.4: the leftover index goes to worker 1, worker 2 has none.
    CHECK_THROWS_WITH_AS(CapacityPartition({0.9, 0.05, 0.05}).validate(dims, 3),
                         "CapacityPartition: worker 2's share 0.050000 of dimension 'hidden1' (8 indices) is no index "
                         "at all; every worker needs at least one",
                         ConfigError);
    CHECK_THROWS_WITH_AS(NestedPartition({1.0, 1.5}).validate(dims, 2),
                         "NestedPartition: worker 1's share is 1.500000; each share must be in (0, 1]", ConfigError);
}

TEST_CASE("capacity: each worker moves the bytes of its share (two ways, four bytes a float)") {
    const auto data = test::blobs(256, 64, 10, 5);
    Network net = make_mlp({64, {100, 50}, 10, Norm::None});
    IstTrainer<Network, CapacityPartition> trainer(net, test::test_options(4, 2, 1, 32, 7),
                                                   CapacityPartition({0.4, 0.3, 0.2, 0.1}));
    const auto result = trainer.train(data, data);
    const RoundMetrics& m = result.history.at(0);
    // Hidden chunks: 100 -> 40, 30, 20, 10; 50 -> 20, 15, 10, 5.
    const std::size_t floats = mlp_floats(40, 20) + mlp_floats(30, 15) + mlp_floats(20, 10) + mlp_floats(10, 5);
    CHECK(m.bytes == 2 * 4 * floats);
    CHECK(m.max_worker_bytes == 2 * 4 * mlp_floats(40, 20));
}

TEST_CASE("nested: worker s holds the first ceil(p_s x width) indices of every hidden dimension") {
    const Network net = make_mlp({5, {100, 30}, 3});
    const NestedPartition part({1.0, 0.5, 0.25, 0.1});
    part.validate(net.dimensions(), 4);
    PartitionRng rng(1), untouched(1);
    const Plan plan = part.plan(net.dimensions(), 4, rng);
    const auto hidden = NeuronPartition::feature_dims(net.dimensions());
    CHECK(chunk_sizes(plan, hidden[0]) == std::vector<std::size_t>{100, 50, 25, 10});
    CHECK(chunk_sizes(plan, hidden[1]) == std::vector<std::size_t>{30, 15, 8, 3});  // 7.5 -> 8
    for (const auto& wp : plan)
        for (std::size_t d : hidden)
            for (std::size_t i = 0; i < wp.dims[d]->size(); ++i) CHECK((*wp.dims[d])[i] == i);
    CHECK(rng() == untouched());  // no randomness: the same prefixes every round
}

TEST_CASE("nested: overlapping prefixes average over their holders and train to digits accuracy") {
    auto [train, test] = train_test_split(load_digits(), 0.25, 11);
    standardize(train, test);
    Network net = make_mlp({64, {64, 64}, 10});
    IstTrainer<Network, NestedPartition> trainer(net, test::test_options(4, 5, 30, 32, 3),
                                                 NestedPartition({1.0, 0.5, 0.5, 0.25}));
    const auto result = trainer.train(train, test);
    REQUIRE(result.final_test);
    MESSAGE("nested digits accuracy " << result.final_test->accuracy);
    CHECK(result.final_test->accuracy > 0.9);
}

TEST_CASE("nested: a neuron held by k of the S workers is the mean of those k copies") {
    const Network net = make_mlp({6, {12, 8}, 3, Norm::None});
    const NestedPartition part({1.0, 0.5, 0.25});  // hidden1: prefixes of 12, 6, 3
    PartitionRng rng(1);
    Plan plan = part.plan(net.dimensions(), 3, rng);
    derive_indices(net.dimensions(), plan);
    std::vector<Network> subs;
    for (std::size_t s = 0; s < 3; ++s) {
        subs.push_back(net.subnet(plan[s]));
        for (auto& v : subs.back().parameter(0).value) v = static_cast<float>(s + 1);  // first Dense weight [out, in]
    }
    Network merged = net;
    test::merge_subnets(merged, subs, plan);
    const Tensor& w = merged.parameter(0).value;
    for (std::size_t i = 0; i < 12; ++i) {
        // Neuron i is held by workers 0..2 (i < 3), 0..1 (i < 6), worker 0 alone otherwise.
        const float expected = i < 3 ? (1.0f + 2.0f + 3.0f) / 3.0f : i < 6 ? 1.5f : 1.0f;
        for (std::size_t j = 0; j < 6; ++j) CHECK(w(i, j) == doctest::Approx(expected));
    }
}

TEST_CASE("any partition: training through AnyPartition is bit-identical to the partitioner itself") {
    auto [train, test] = train_test_split(load_digits(), 0.25, 11);
    standardize(train, test);
    const Network initial = make_mlp({64, {64, 64}, 10});
    auto trained = [&](auto partitioner) {
        Network net = initial;
        IstTrainer trainer(net, test::test_options(4, 5, 6, 32, 3), partitioner);
        trainer.train(train, test);
        return net;
    };
    CHECK(test::same_parameters(trained(NeuronPartition()), trained(AnyPartition(NeuronPartition()))));
    const CapacityPartition capacity({0.4, 0.3, 0.2, 0.1});
    CHECK(test::same_parameters(trained(capacity), trained(AnyPartition(capacity))));
    // validate() and the residual blocks' evaluation scale are the held partitioner's.
    CHECK_THROWS_WITH_AS(AnyPartition(CapacityPartition({0.5, 0.4})).validate(initial.dimensions(), 2),
                         "CapacityPartition: the shares sum to 0.900000, not 1; a disjoint cut deals every index to one worker",
                         ConfigError);
    const Network residual = make_residual_mlp({.inputs = 6, .width = 8, .hidden = 8, .classes = 3, .blocks = 4, .seed = 1});
    UnitRef block{};
    for (std::size_t d = 0; d < residual.dimensions().size(); ++d)
        if (residual.dimensions()[d].kind == DimKind::Units) block = {static_cast<DimId>(d), 0};
    CHECK(AnyPartition(ResistPartition()).unit_scale(residual.dimensions(), block, 4) == 0.25f);
    CHECK(AnyPartition(NeuronPartition()).unit_scale(residual.dimensions(), block, 4) == 1.0f);
}
