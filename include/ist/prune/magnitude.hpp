#pragma once
// Magnitude pruning (Han et al. 2015; the lottery-ticket procedure of Frankle & Carbin 2019):
// the weights of smallest |w| are pruned, over all prunable tensors at once (global) or within
// each tensor (per layer), once or iteratively.
//
// Prunable: the weights of dense, convolution and graph layers, i.e. every parameter of rank >= 2.
// Biases and normalisation parameters (rank 1) are never pruned: they are few, and a pruned scale
// or shift removes a whole neuron rather than a connection.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/model/model.hpp"
#include "ist/prune/mask.hpp"
#include "ist/prune/masked.hpp"

namespace ist {

/// Over which weights a sparsity is reached.
enum class PruneScope : std::uint8_t {
    Global,    ///< the smallest |w| of all prunable tensors together (layers end up unevenly sparse)
    PerLayer,  ///< the same sparsity in every prunable tensor
};

/// Whether magnitude pruning touches parameter `p` (see the header comment).
inline bool is_prunable(const Parameter& p) { return p.value.dimension() >= 2; }

namespace detail {

inline void check_sparsity(double sparsity, const std::string& who) {
    if (!(sparsity >= 0.0 && sparsity < 1.0))
        throw ConfigError(who + ": sparsity must be in [0, 1), got " + std::to_string(sparsity));
}

/// Calls f(value, mask element) for every weight of the group, in parameter then storage order.
template <Model M, class F>
void for_each_weight(const M& model, const std::vector<std::size_t>& group, PruningMasks& masks, F&& f) {
    for (std::size_t i : group) {
        const Tensor& w = model.parameter(i).value;
        float* m = masks[i].data();
        for (std::size_t k = 0; k < w.size(); ++k) f(w.data()[k], m[k]);
    }
}

/// Prunes the weights of the parameters `group` to `sparsity` of their total, the smallest |w|
/// among those still kept first (ties in storage order), so a weight once pruned stays pruned.
template <Model M>
void prune_group(const M& model, const std::vector<std::size_t>& group, double sparsity, PruningMasks& masks) {
    std::size_t total = 0, pruned = 0;
    for (std::size_t i : group) {
        if (!is_mask_set(masks[i])) masks[i] = xt::ones<float>(model.parameter(i).value.shape());
        total += masks[i].size();
        pruned += pruned_count(masks[i]);
    }
    const auto target = static_cast<std::size_t>(std::llround(sparsity * static_cast<double>(total)));
    if (target <= pruned) return;
    std::vector<float> kept;
    kept.reserve(total - pruned);
    for_each_weight(model, group, masks, [&](float w, float& m) {
        if (m != 0.0f) kept.push_back(std::fabs(w));
    });
    const std::size_t more = target - pruned;
    std::nth_element(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(more - 1), kept.end());
    const float threshold = kept[more - 1];
    std::size_t ties = more - static_cast<std::size_t>(std::count_if(kept.begin(), kept.end(),
                                                                     [&](float a) { return a < threshold; }));
    for_each_weight(model, group, masks, [&](float w, float& m) {
        const float a = std::fabs(w);
        if (m == 0.0f || a > threshold) return;
        if (a < threshold) m = 0.0f;
        else if (ties > 0) m = 0.0f, --ties;
    });
}

}  // namespace detail

/// Masks pruning `model` to `sparsity` (in [0, 1): ConfigError otherwise) of its prunable
/// weights by magnitude, on top of `current` (what is pruned stays pruned; empty: nothing yet).
template <Model M>
PruningMasks magnitude_masks(const M& model, double sparsity, PruneScope scope, PruningMasks current = {}) {
    detail::check_sparsity(sparsity, "magnitude_masks");
    if (current.empty()) current.resize(model.parameter_count());
    detail::require(current.size() == model.parameter_count(), "magnitude_masks: " + std::to_string(current.size()) +
                                                                   " masks for " + std::to_string(model.parameter_count()) +
                                                                   " parameters");
    std::vector<std::size_t> prunable;
    for (std::size_t i = 0; i < model.parameter_count(); ++i)
        if (is_prunable(model.parameter(i))) prunable.push_back(i);
    if (scope == PruneScope::Global) detail::prune_group(model, prunable, sparsity, current);
    else
        for (std::size_t i : prunable) detail::prune_group(model, {i}, sparsity, current);
    return current;
}

/// Prunes `model` further to `sparsity` of its prunable weights (what is pruned stays pruned).
template <Model M>
void prune(Masked<M>& model, double sparsity, PruneScope scope = PruneScope::Global) {
    model.set_masks(magnitude_masks(model.model(), sparsity, scope, model.masks()));
}

/// The sparsity after step j (1-based) of iterative pruning that prunes `rate` of the remaining
/// weights per step: 1 - (1 - rate)^j.
inline double iterative_sparsity(double rate, std::size_t step) {
    detail::check_sparsity(rate, "iterative_sparsity");
    return 1.0 - std::pow(1.0 - rate, static_cast<double>(step));
}

/// Iterative pruning: `steps` times, prune `rate` of the remaining prunable weights, then call
/// `between(step)` (1-based; e.g. fine-tune the masked model for a few rounds).
template <Model M, class F>
void prune_iteratively(Masked<M>& model, double rate, std::size_t steps, PruneScope scope, F&& between) {
    detail::check_sparsity(rate, "prune_iteratively");
    detail::require(steps > 0, "prune_iteratively: steps must be at least 1");
    for (std::size_t j = 1; j <= steps; ++j) {
        prune(model, iterative_sparsity(rate, j), scope);
        between(j);
    }
}

/// Fraction of the prunable weights of `model` that are exactly zero.
template <Model M>
double weight_sparsity(const M& model) {
    std::size_t zeros = 0, total = 0;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        const Parameter& p = model.parameter(i);
        if (!is_prunable(p)) continue;
        total += p.value.size();
        for (float w : p.value) zeros += w == 0.0f;
    }
    return total ? static_cast<double>(zeros) / static_cast<double>(total) : 0.0;
}

}  // namespace ist
