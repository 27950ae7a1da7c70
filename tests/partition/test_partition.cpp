// Partitioners, subnet extraction and aggregation.
#include <doctest/doctest.h>

#include <set>

#include "helpers.hpp"

using namespace ist;

using test::extract_then_merge;

TEST_CASE("partition: NeuronPartition deals every hidden index to exactly one worker") {
    const Network net = make_mlp({5, {13, 10}, 3});
    for (std::size_t S = 1; S <= 8; ++S) {
        PartitionRng rng(S);
        const Plan plan = NeuronPartition{}.plan(net.dimensions(), S, rng);
        REQUIRE(plan.size() == S);
        for (std::size_t d = 0; d < net.dimensions().size(); ++d) {
            const auto& dim = net.dimensions()[d];
            if (!dim.partitionable) {
                for (const auto& wp : plan) CHECK_FALSE(wp.dims[d].has_value());
                continue;
            }
            std::multiset<std::uint32_t> seen;
            std::size_t smallest = dim.size, largest = 0;
            for (const auto& wp : plan) {
                seen.insert(wp.dims[d]->begin(), wp.dims[d]->end());
                smallest = std::min(smallest, wp.dims[d]->size());
                largest = std::max(largest, wp.dims[d]->size());
            }
            CHECK(seen.size() == dim.size);
            for (std::uint32_t i = 0; i < dim.size; ++i) CHECK(seen.count(i) == 1);
            CHECK(largest - smallest <= 1);
        }
    }
}

TEST_CASE("partition: every worker's index set is strictly increasing (the IndexSet contract)") {
    // Slicing and merging rely on sorted index sets (core/plan.hpp); a plan that leaves a chunk in
    // its random order would still cover every index once, so the coverage test cannot see it.
    const Network net = make_mlp({5, {13, 10}, 3});
    for (std::size_t S = 1; S <= 5; ++S) {
        PartitionRng rng(S);
        NeuronPartition partition;
        partition.validate(net.dimensions(), S);
        const Plan plan = partition.plan(net.dimensions(), S, rng);
        for (const WorkerPlan& worker : plan)
            for (const auto& set : worker.dims)
                if (set)
                    for (std::size_t k = 1; k < set->size(); ++k) CHECK((*set)[k - 1] < (*set)[k]);
    }
}

TEST_CASE("partition: input and output dimensions are never cut, hidden ones are") {
    const Network net = make_mlp({5, {13, 10}, 3});
    const auto& dims = net.dimensions();
    REQUIRE(dims.size() == 4);
    CHECK_FALSE(dims[0].partitionable);
    CHECK(dims[1].partitionable);
    CHECK(dims[2].partitionable);
    CHECK_FALSE(dims[3].partitionable);
    CHECK(dims[0].size == 5);
    CHECK(dims[3].size == 3);
}

TEST_CASE("partition: a subnet is physically smaller") {
    const Network net = make_mlp({5, {13, 10}, 3});
    PartitionRng rng(3);
    const Plan plan = NeuronPartition{}.plan(net.dimensions(), 4, rng);
    const Network sub = net.subnet(plan[3]);  // worker 3 holds 3 of 13 and 2 of 10
    CHECK(sub.parameter(0).value.shape() == std::vector<std::size_t>{3, 5});
    CHECK(sub.parameter(3).value.shape() == std::vector<std::size_t>{2, 3});
    CHECK(sub.parameter(6).value.shape() == std::vector<std::size_t>{3, 2});
    CHECK(sub.parameter_elements() < net.parameter_elements() / 3);
    const Matrix x = test::random_matrix(8, 5, 1);
    Network copy = sub;
    CHECK(copy.forward(x, Mode::Eval).shape() == std::array<std::size_t, 2>{8, 3});
}

TEST_CASE("partition: extract then merge without training is the identity, S = 1..8") {
    const Network net = make_mlp({6, {13, 11}, 4, Norm::None});
    for (std::size_t S = 1; S <= 8; ++S) {
        CAPTURE(S);
        PartitionRng rng(S);
        CHECK(test::same_parameters(extract_then_merge(net, NeuronPartition{}.plan(net.dimensions(), S, rng)), net));
        CHECK(test::same_parameters(extract_then_merge(net, BernoulliMasks(0.4).plan(net.dimensions(), S, rng)), net));
        CHECK(test::same_parameters(extract_then_merge(net, CategoricalMasks{}.plan(net.dimensions(), S, rng)), net));
        CHECK(test::same_parameters(extract_then_merge(net, FullModel{}.plan(net.dimensions(), S, rng)), net));
    }
}

TEST_CASE("partition: holder average divides by holders, and nobody's entries keep their value") {
    // One dimension of 4 indices; worker 0 holds {0,1}, worker 1 holds {1,2}; index 3 by nobody.
    Tensor master = {10.0f, 20.0f, 30.0f, 40.0f};
    const std::vector<DimId> dims{0};
    Plan plan(2, WorkerPlan{{IndexSet{}}});
    plan[0].dims[0] = std::vector<std::uint32_t>{0, 1};
    plan[1].dims[0] = std::vector<std::uint32_t>{1, 2};
    Tensor w0 = {1.0f, 2.0f}, w1 = {4.0f, 3.0f};
    std::vector<MergeItem> items{{&master, dims, {&w0, &w1}}};
    HolderAverage{}.merge(items, plan);
    CHECK(master == Tensor{1.0f, 3.0f, 3.0f, 40.0f});
}

TEST_CASE("partition: impossible requests throw a clear ConfigError") {
    const Network net = make_mlp({5, {8, 16}, 3});
    PartitionRng rng(1);
    CHECK_THROWS_WITH_AS(NeuronPartition{}.validate(net.dimensions(), 9),
                         "NeuronPartition: S = 9 workers but dimension 'hidden1' has only 8 indices; each worker needs at least one",
                         ConfigError);
    CHECK_THROWS_WITH_AS(NeuronPartition{}.validate(net.dimensions(), 0),
                         "NeuronPartition: the number of workers S must be at least 1", ConfigError);
    CHECK_THROWS_WITH_AS(BernoulliMasks(0.0).validate(net.dimensions(), 2),
                         doctest::Contains("keep probability must be in (0, 1]"), ConfigError);
    CHECK_THROWS_AS(CategoricalMasks{}.validate(net.dimensions(), 9), ConfigError);
}

TEST_CASE("partition: the same seed gives the same plan") {
    const Network net = make_mlp({5, {40, 30}, 3});
    PartitionRng a(99), b(99);
    for (int round = 0; round < 3; ++round) {
        const Plan pa = NeuronPartition{}.plan(net.dimensions(), 4, a);
        const Plan pb = NeuronPartition{}.plan(net.dimensions(), 4, b);
        for (std::size_t s = 0; s < 4; ++s) CHECK(pa[s].dims == pb[s].dims);
    }
}

TEST_CASE("partition: Bernoulli masks overlap and categorical masks are disjoint") {
    const Network net = make_mlp({5, {200}, 3});
    PartitionRng rng(5);
    const Plan bern = BernoulliMasks(0.5).plan(net.dimensions(), 4, rng);
    std::size_t held = 0;
    for (const auto& wp : bern) held += wp.dims[1]->size();
    CHECK(held > 300);  // about 4 * 0.5 * 200 = 400 > 200: overlapping
    CHECK(held < 500);
    const Plan cat = CategoricalMasks{}.plan(net.dimensions(), 4, rng);
    std::set<std::uint32_t> all;
    std::size_t total = 0;
    for (const auto& wp : cat) all.insert(wp.dims[1]->begin(), wp.dims[1]->end()), total += wp.dims[1]->size();
    CHECK(total == 200);
    CHECK(all.size() == 200);
}
