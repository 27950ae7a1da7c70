// The trainer's merge during a round (detail::ScatterAsReturned, exchange/merge_during_round.hpp)
// against hand-written expectations on a 5 -> 7 -> 3 MLP cut for two workers: a merged worker's
// rows and columns hold its trained values and nothing else moved, undo gives back the model bit
// for bit, and the round's end averages the shared output bias.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include <ist/exchange/merge_during_round.hpp>

#include "helpers.hpp"

using namespace ist;

namespace {

/// Worker s's package of `net` under `plan`, "trained": every value moved by s + 1.
WorkerPackage<Network> trained_package(const Network& net, const Plan& plan, std::size_t s) {
    WorkerPackage<Network> pkg = extract_package<Network>(net, {}, 0, plan[s], false);
    for (Tensor* t : pkg.tensors()) *t += static_cast<float>(s + 1);
    return pkg;
}

/// Whether every hidden neuron k has its row of w1, its b1 and its column of w2 moved by exactly
/// shift[k] from `before` (w1: hidden x in, w2: classes x hidden; make_mlp's parameters 0..2).
bool hidden_moved(const Network& net, const Network& before, const std::vector<float>& shift) {
    const Tensor &w1 = net.parameter(0).value, &b1 = net.parameter(1).value, &w2 = net.parameter(2).value;
    const Tensor &w1_0 = before.parameter(0).value, &b1_0 = before.parameter(1).value, &w2_0 = before.parameter(2).value;
    for (std::size_t k = 0; k < b1.size(); ++k) {
        if (b1(k) != b1_0(k) + shift[k]) return false;
        for (std::size_t j = 0; j < w1.shape()[1]; ++j)
            if (w1(k, j) != w1_0(k, j) + shift[k]) return false;
        for (std::size_t c = 0; c < w2.shape()[0]; ++c)
            if (w2(c, k) != w2_0(c, k) + shift[k]) return false;
    }
    return true;
}

/// Per hidden neuron, `by` where `held` holds it, else 0, added to `shift`.
void add_shift(std::vector<float>& shift, const std::vector<std::uint32_t>& held, float by) {
    for (std::uint32_t k : held) shift.at(k) += by;
}

bool same_bits(const Tensor& a, const Tensor& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("exchange: a package's own rows are written in as it is back, undone bit for bit, the shared bias averaged at the end") {
    Network net = make_mlp({5, {7}, 3, Norm::None, 3});
    const Network before = net;
    PartitionRng rng(5);
    Plan plan = NeuronPartition{}.plan(net.dimensions(), 2, rng);
    derive_indices(net.dimensions(), plan);
    REQUIRE(plan[0].dims[1].has_value());
    REQUIRE(plan[1].dims[1].has_value());
    const std::vector<std::uint32_t> held0 = *plan[0].dims[1], held1 = *plan[1].dims[1];
    std::vector<WorkerPackage<Network>> packages;
    for (std::size_t s = 0; s < 2; ++s) packages.push_back(trained_package(net, plan, s));
    std::vector<Tensor> no_state;
    detail::ScatterAsReturned<Network, Fp32> early(net, no_state, 0, HolderAverage(), plan);

    std::vector<float> first(7, 0.0f), both(7, 0.0f);
    add_shift(first, held0, 1.0f);
    add_shift(both, held0, 1.0f);
    add_shift(both, held1, 2.0f);

    early.merge(0, packages[0]);  // worker 0's neurons take its values (+1), the rest waits
    CHECK(hidden_moved(net, before, first));
    CHECK(same_bits(net.parameter(3).value, before.parameter(3).value));  // b2, shared by both: at the end
    early.merge(1, packages[1]);
    CHECK(hidden_moved(net, before, both));
    CHECK(early.merged() == std::vector<std::size_t>{0, 1});
    early.undo(1, packages[1]);
    early.undo(0, packages[0]);
    CHECK(early.merged().empty());
    CHECK(test::same_parameters(net, before));  // every bit back

    early.merge(0, packages[0]);  // the packages hold their trained values again
    HolderAverage average;
    early.finish(average, MergeContext(plan), {0, 1}, packages);  // worker 1's scatter, then b2
    CHECK(hidden_moved(net, before, both));
    for (std::size_t c = 0; c < 3; ++c)  // b2: the mean of +1 and +2
        CHECK(net.parameter(3).value(c) == doctest::Approx(before.parameter(3).value(c) + 1.5f).epsilon(1e-6));
}

TEST_CASE("exchange: a worker merged during the round but dropped from it is refused at the round's end") {
    Network net = make_mlp({5, {7}, 3, Norm::None, 3});
    PartitionRng rng(5);
    Plan plan = NeuronPartition{}.plan(net.dimensions(), 2, rng);
    derive_indices(net.dimensions(), plan);
    std::vector<WorkerPackage<Network>> packages;
    for (std::size_t s = 0; s < 2; ++s) packages.push_back(trained_package(net, plan, s));
    std::vector<Tensor> no_state;
    detail::ScatterAsReturned<Network, Fp32> early(net, no_state, 0, HolderAverage(), plan);
    early.merge(1, packages[1]);
    std::vector<WorkerPackage<Network>> only_first;
    only_first.push_back(std::move(packages[0]));
    const Plan first{plan[0]};
    HolderAverage average;
    CHECK_THROWS_WITH_AS(early.finish(average, MergeContext(first), {0}, only_first),
                         "ScatterAsReturned: worker 1's package was merged during the round but the round dropped it",
                         std::logic_error);
}
