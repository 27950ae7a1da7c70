#pragma once
// IST's aggregation: each entry becomes the mean over the workers that held it.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/aggregate/aggregator.hpp"
#include "ist/detail/gather.hpp"

namespace ist {

/// For every entry of every tensor: the average of the copies of the workers that held it,
/// divided by the holder count (never by S). Disjoint subnets thus overwrite, shared parameters
/// and overlapping masks are averaged, and entries no worker held keep their previous value.
/// With the FullModel partitioner this is local SGD's model averaging.
///
/// Entries with one holder are copied bit-exactly; entries with several become
/// old + (sum over holders, in worker order, of copy - old) / holders, so equal copies average
/// back to exactly the old value.
///
/// Weighting::BySamples is FedAvg's weighting (McMahan et al. 2017): a holder's copy counts in
/// proportion to its number of training samples (the client's rows, MergeContext::samples), old +
/// sum w_s (copy - old) / sum w_s over the holders, since unequal client data is the norm in
/// federated learning. Equal counts take the unweighted path, so they give the equal-weight result
/// bit for bit.
class HolderAverage {
public:
    enum class Weighting { Equal, BySamples };

    HolderAverage() = default;
    explicit HolderAverage(Weighting weighting) : weighting_(weighting) {}

    Weighting weighting() const { return weighting_; }

    void merge(std::span<MergeItem> items, const MergeContext& round) {
        const std::vector<double> weights = weights_of(round);
        for (MergeItem& item : items) {
            if (!item.unit.in_unit()) merge_one(item, round.plan, weights);
            else merge_block(item, round.plan, weights);
        }
    }

    /// The ScattersDisjointItems hook: whether merge() writes `item` as a plain scatter of each
    /// worker's copy under `plan` (or any part of it): not a block's parameter, and along some axis no
    /// index has two holders (merge_one's test).
    bool scatters(const MergeItem& item, const Plan& plan) const {
        if (item.unit.in_unit() || plan.empty() || item.master->size() == 0) return false;
        const std::size_t words = (plan.size() + 63) / 64;
        return some_axis_disjoint(holders_per_axis(item, plan, words), words);
    }

private:
    /// Per returned worker, the weight of its copies (empty: equal weights). Counts must be positive.
    std::vector<double> weights_of(const MergeContext& round) const {
        if (weighting_ != Weighting::BySamples || round.samples.empty()) return {};
        if (round.samples.size() != round.plan.size())
            throw std::logic_error("HolderAverage: " + std::to_string(round.samples.size()) + " sample counts for " +
                                   std::to_string(round.plan.size()) + " workers");
        for (double n : round.samples)
            detail::require(n > 0.0 && std::isfinite(n), "HolderAverage: a worker's sample count is " +
                                                              std::to_string(n) + "; counts must be positive");
        const bool all_equal = std::adjacent_find(round.samples.begin(), round.samples.end(),
                                                  std::not_equal_to<>()) == round.samples.end();
        if (all_equal) return {};
        return {round.samples.begin(), round.samples.end()};
    }

    /// A residual block's parameter: averaged over the workers that held the block.
    static void merge_block(const MergeItem& item, const Plan& plan, const std::vector<double>& weights) {
        MergeItem held{item.master, item.dims, {}, {}};
        Plan holders;
        std::vector<double> held_weights;
        for (std::size_t s = 0; s < plan.size(); ++s)
            if (plan[s].holds(item.unit)) {
                holders.push_back(plan[s]);
                held.workers.push_back(item.workers[s]);
                if (!weights.empty()) held_weights.push_back(weights[s]);
            }
        if (!holders.empty()) merge_one(held, holders, held_weights);
    }

    /// Which workers hold each index of one axis (a bitset of `words` 64-bit words per index),
    /// and where that index sits in each worker's compact tensor.
    struct AxisHolders {
        std::vector<std::uint64_t> masks;       // extent x words
        std::vector<std::uint32_t> positions;   // workers x extent
    };

    /// Per axis of `item`'s tensor, which workers of `plan` hold each index (`words` words per
    /// index) and where it sits in their copies.
    static std::vector<AxisHolders> holders_per_axis(const MergeItem& item, const Plan& plan, std::size_t words) {
        const auto& shape = item.master->shape();
        const std::size_t S = plan.size();
        std::vector<AxisHolders> axes(shape.size());
        for (std::size_t a = 0; a < axes.size(); ++a) {
            const std::size_t extent = shape[a];
            AxisHolders& h = axes[a];
            h.masks.assign(extent * words, 0);
            h.positions.assign(S * extent, 0);
            for (std::size_t s = 0; s < S; ++s) {
                const std::vector<std::uint32_t>* held = nullptr;
                if (item.dims[a] != kWholeAxis) {
                    const IndexSet& set = plan[s].dims.at(static_cast<std::size_t>(item.dims[a]));
                    if (set) held = &*set;
                }
                const std::size_t count = held ? held->size() : extent;
                for (std::size_t k = 0; k < count; ++k) {
                    const std::size_t i = held ? (*held)[k] : k;
                    h.masks[i * words + s / 64] |= std::uint64_t{1} << (s % 64);
                    h.positions[s * extent + i] = static_cast<std::uint32_t>(k);
                }
            }
        }
        return axes;
    }

    /// One pass over the full tensor: an entry's holders are the AND of its indices' holder sets,
    /// so no full-size count or sum buffer is needed (the merge used to cost more than a step).
    /// `weights`: per worker (empty: equal).
    static void merge_one(const MergeItem& item, const Plan& plan, const std::vector<double>& weights) {
        Tensor& master = *item.master;
        const std::size_t S = plan.size(), rank = master.dimension(), words = (S + 63) / 64;
        if (S == 0 || master.size() == 0) return;
        const auto& shape = master.shape();
        const std::vector<AxisHolders> axes = holders_per_axis(item, plan, words);
        std::vector<std::size_t> sub_strides(S * rank, 1), full_strides(rank, 1);
        for (std::size_t a = rank; a-- > 0;) {
            if (a + 1 == rank) continue;  // the last axis: stride 1
            full_strides[a] = full_strides[a + 1] * shape[a + 1];
            for (std::size_t s = 0; s < S; ++s)
                sub_strides[s * rank + a] = sub_strides[s * rank + a + 1] * sub_extent(plan[s], item, a + 1, shape);
        }
        if (some_axis_disjoint(axes, words)) {  // no entry has two holders: plain scatters
            const std::vector<DimId> dims(item.dims.begin(), item.dims.end());
            for (std::size_t s = 0; s < S; ++s)
                detail::scatter(*item.workers[s], detail::select_axes(dims, plan[s]), master);
            return;
        }
        std::vector<const float*> copies;
        for (const Tensor* t : item.workers) copies.push_back(t->data());
        // Per depth: the holder set of the index prefix and each holder's offset into its copy.
        std::vector<std::uint64_t> mask((rank + 1) * words, 0);
        for (std::size_t s = 0; s < S; ++s) mask[s / 64] |= std::uint64_t{1} << (s % 64);
        std::vector<std::size_t> base((rank + 1) * S, 0);
        float* out = master.data();
        if (rank == 0) return average_entry(out[0], mask.data(), words, base.data(), copies, weights);
        auto visit = [&](auto&& self, std::size_t a, std::size_t offset) -> void {
            const AxisHolders& h = axes[a];
            const std::uint64_t* outer = &mask[a * words];
            std::uint64_t* inner = &mask[(a + 1) * words];
            for (std::size_t i = 0; i < shape[a]; ++i) {
                bool any = false;
                for (std::size_t w = 0; w < words; ++w) any |= (inner[w] = outer[w] & h.masks[i * words + w]) != 0;
                if (!any) continue;
                for_each_holder(inner, words, [&](std::size_t s) {
                    base[(a + 1) * S + s] = base[a * S + s] + h.positions[s * shape[a] + i] * sub_strides[s * rank + a];
                });
                if (a + 1 < rank) self(self, a + 1, offset + i * full_strides[a]);
                else average_entry(out[offset + i], inner, words, &base[(a + 1) * S], copies, weights);
            }
        };
        visit(visit, 0, 0);
    }

    /// True when along some axis every index has at most one holder (IST's disjoint cut of a
    /// hidden dimension): then no entry of the tensor has two.
    static bool some_axis_disjoint(const std::vector<AxisHolders>& axes, std::size_t words) {
        for (const AxisHolders& h : axes) {
            bool disjoint = true;
            for (std::size_t i = 0; disjoint && i < h.masks.size() / words; ++i) {
                std::size_t holders = 0;
                for (std::size_t w = 0; w < words; ++w) holders += static_cast<std::size_t>(std::popcount(h.masks[i * words + w]));
                disjoint = holders <= 1;
            }
            if (disjoint) return true;
        }
        return false;
    }

    static std::size_t sub_extent(const WorkerPlan& wp, const MergeItem& item, std::size_t a, const Tensor::shape_type& shape) {
        if (item.dims[a] == kWholeAxis) return shape[a];
        const IndexSet& set = wp.dims.at(static_cast<std::size_t>(item.dims[a]));
        return set ? set->size() : shape[a];
    }

    template <class F>
    static void for_each_holder(const std::uint64_t* mask, std::size_t words, F&& f) {
        for (std::size_t w = 0; w < words; ++w)
            for (std::uint64_t bits = mask[w]; bits; bits &= bits - 1)
                f(w * 64 + static_cast<std::size_t>(std::countr_zero(bits)));
    }

    static void average_entry(float& entry, const std::uint64_t* mask, std::size_t words, const std::size_t* offsets,
                              const std::vector<const float*>& copies, const std::vector<double>& weights) {
        std::size_t holders = 0;
        for (std::size_t w = 0; w < words; ++w) holders += static_cast<std::size_t>(std::popcount(mask[w]));
        if (holders == 1) {
            for_each_holder(mask, words, [&](std::size_t s) { entry = copies[s][offsets[s]]; });
            return;
        }
        if (!weights.empty()) {  // FedAvg: in double, so the weights' magnitudes cost no precision
            double shift = 0.0, total = 0.0;
            for_each_holder(mask, words, [&](std::size_t s) {
                shift += weights[s] * (static_cast<double>(copies[s][offsets[s]]) - entry);
                total += weights[s];
            });
            entry = static_cast<float>(entry + shift / total);
            return;
        }
        float shift = 0.0f;
        for_each_holder(mask, words, [&](std::size_t s) { shift += copies[s][offsets[s]] - entry; });
        entry += shift / static_cast<float>(holders);
    }

    Weighting weighting_ = Weighting::Equal;
};

}  // namespace ist
