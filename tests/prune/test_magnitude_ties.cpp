// Magnitude pruning against its definition (issue 36): the weights pruned are the first `target` of
// the still-kept prunable weights ordered by (|w|, parameter, storage position), target =
// round(sparsity x total), so ties at the threshold go in storage order and biases are never touched.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <tuple>
#include <vector>

#include <ist/model/mlp.hpp>
#include <ist/prune/magnitude.hpp>

using namespace ist;

namespace {

/// A 4 -> 5 -> 3 MLP without norms whose weights take few magnitudes (many ties, of both signs),
/// its biases large (they would be pruned last if they were prunable, but never are).
Network tied_mlp() {
    Network net = make_mlp({4, {5}, 3, Norm::None, 1});
    const float magnitudes[] = {0.5f, 0.25f, 1.0f, 0.25f, 0.75f, 0.5f, 0.25f};
    std::size_t k = 0;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        Parameter& p = net.parameter(i);
        for (float& w : p.value) {
            const float m = p.value.dimension() >= 2 ? magnitudes[k % 7] : 9.0f;
            w = (k % 3 == 0) ? -m : m;
            ++k;
        }
    }
    return net;
}

/// The masks by the definition: every prunable weight ranked by (|w|, parameter, position); the
/// first `target` not yet pruned are pruned. `group`: the parameters pruned together.
void prune_by_definition(const Network& net, const std::vector<std::size_t>& group, double sparsity,
                         std::vector<std::vector<float>>& masks) {
    std::vector<std::tuple<float, std::size_t, std::size_t>> kept;
    std::size_t total = 0, pruned = 0;
    for (std::size_t i : group) {
        const Tensor& w = net.parameter(i).value;
        if (masks[i].empty()) masks[i].assign(w.size(), 1.0f);
        total += w.size();
        for (std::size_t k = 0; k < w.size(); ++k) {
            if (masks[i][k] == 0.0f) ++pruned;
            else kept.emplace_back(std::fabs(w.data()[k]), i, k);
        }
    }
    const auto target = static_cast<std::size_t>(std::llround(sparsity * static_cast<double>(total)));
    std::sort(kept.begin(), kept.end());
    for (std::size_t j = 0; pruned + j < target; ++j) masks[std::get<1>(kept[j])][std::get<2>(kept[j])] = 0.0f;
}

void check_masks(const PruningMasks& got, const std::vector<std::vector<float>>& want, const char* what) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (want[i].empty()) {
            CHECK_MESSAGE(!is_mask_set(got[i]), what << ": parameter " << i << " (a bias) got a mask");
            continue;
        }
        REQUIRE(is_mask_set(got[i]));
        REQUIRE(got[i].size() == want[i].size());
        for (std::size_t k = 0; k < want[i].size(); ++k)
            CHECK_MESSAGE(got[i].data()[k] == want[i][k], what << ": parameter " << i << ", weight " << k);
    }
}

std::vector<std::size_t> prunable_parameters(const Network& net) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        if (net.parameter(i).value.dimension() >= 2) out.push_back(i);
    return out;
}

}  // namespace

TEST_CASE("pruning rules: global magnitude pruning with tied magnitudes, then further, matches the definition") {
    const Network net = tied_mlp();
    const auto prunable = prunable_parameters(net);
    REQUIRE(prunable.size() == 2);  // 5 x 4 and 3 x 5: 35 weights
    std::vector<std::vector<float>> want(net.parameter_count());
    PruningMasks got;
    // 0.3 x 35 = 10.5 -> 11 of 35: ten of magnitude 0.25 and one tied 0.5; then 0.6 -> 21; 0.9 -> 32 (31.5).
    for (double sparsity : {0.3, 0.6, 0.9}) {
        prune_by_definition(net, prunable, sparsity, want);
        got = magnitude_masks(net, sparsity, PruneScope::Global, got);
        check_masks(got, want, "global");
    }
}

TEST_CASE("pruning rules: per-layer pruning reaches round(sparsity x size) in each tensor, ties in storage order") {
    const Network net = tied_mlp();
    std::vector<std::vector<float>> want(net.parameter_count());
    PruningMasks got;
    for (double sparsity : {0.25, 0.5}) {  // 5 of 20 and 3.75 -> 4 of 15; then 10 and 7.5 -> 8
        for (std::size_t i : prunable_parameters(net)) prune_by_definition(net, {i}, sparsity, want);
        got = magnitude_masks(net, sparsity, PruneScope::PerLayer, got);
        check_masks(got, want, "per layer");
    }
}

TEST_CASE("pruning rules: iterative sparsity is 1 - (1 - rate)^step") {
    CHECK(iterative_sparsity(0.5, 1) == 0.5);
    CHECK(iterative_sparsity(0.5, 2) == 0.75);
    CHECK(iterative_sparsity(0.2, 3) == doctest::Approx(1 - 0.8 * 0.8 * 0.8));
}
