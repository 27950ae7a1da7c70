#pragma once
// IST's aggregation: each entry becomes the mean over the workers that held it.
#include "ist/aggregate/aggregator.hpp"
#include "ist/detail/gather.hpp"

namespace ist {

/// For every entry of every tensor: the average of the copies of the workers that held it,
/// divided by the holder count (never by S). Disjoint subnets thus overwrite, shared parameters
/// and overlapping masks are averaged, and entries no worker held keep their previous value.
/// With the FullModel partitioner this is local SGD's model averaging.
class HolderAverage {
public:
    static constexpr bool synchronises_gradients = false;

    void merge(std::span<MergeItem> items, const Plan& plan) {
        for (MergeItem& item : items) merge_one(item, plan);
    }

private:
    /// Entries with one holder are copied (bit-exact); entries with several become
    /// old + mean(copy - old), so equal copies average back to exactly the old value.
    static void merge_one(MergeItem& item, const Plan& plan) {
        Tensor& master = *item.master;
        const std::vector<DimId> dims(item.dims.begin(), item.dims.end());
        std::vector<detail::AxisSelection> selections;
        for (const auto& worker_plan : plan) selections.push_back(detail::select_axes(dims, worker_plan));

        Tensor count = xt::zeros<float>(master.shape());
        float* holders = count.data();
        for (const auto& sel : selections)
            detail::for_each_selected_run(master.shape(), sel, [&](std::size_t f, std::size_t, std::size_t n) {
                for (std::size_t k = 0; k < n; ++k) holders[f + k] += 1.0f;
            });

        Tensor delta = xt::zeros<float>(master.shape());
        float* out = master.data();
        float* shift = delta.data();
        for (std::size_t s = 0; s < selections.size(); ++s) {
            const float* copy = item.workers[s]->data();
            detail::for_each_selected_run(master.shape(), selections[s], [&](std::size_t f, std::size_t w, std::size_t n) {
                for (std::size_t k = 0; k < n; ++k) {
                    if (holders[f + k] == 1.0f) out[f + k] = copy[w + k];
                    else shift[f + k] += copy[w + k] - out[f + k];
                }
            });
        }
        for (std::size_t k = 0; k < master.size(); ++k)
            if (holders[k] > 1.0f) out[k] += shift[k] / holders[k];
    }
};

/// Data parallel's aggregation: gradients were averaged every step, so all replicas are equal;
/// the master takes worker 0's copy (bit-exact, no re-averaging of equal values).
class GradientAverage {
public:
    static constexpr bool synchronises_gradients = true;

    void merge(std::span<MergeItem> items, const Plan&) {
        for (MergeItem& item : items) *item.master = *item.workers.front();
    }
};

}  // namespace ist
