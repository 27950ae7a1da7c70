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
    static void merge_one(MergeItem& item, const Plan& plan) {
        Tensor& master = *item.master;
        const std::vector<DimId> dims(item.dims.begin(), item.dims.end());
        Tensor sum = xt::zeros<float>(master.shape());
        Tensor count = xt::zeros<float>(master.shape());
        for (std::size_t s = 0; s < item.workers.size(); ++s)
            detail::scatter_accumulate(*item.workers[s], detail::select_axes(dims, plan[s]), sum, count);
        float* out = master.data();
        const float* total = sum.data();
        const float* holders = count.data();
        for (std::size_t k = 0; k < master.size(); ++k)
            if (holders[k] > 0.0f) out[k] = holders[k] == 1.0f ? total[k] : total[k] / holders[k];
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
