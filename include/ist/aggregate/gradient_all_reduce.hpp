#pragma once
// Data parallel's aggregation: the averaging happens every step, through the AveragesGradients hook.
#include <span>

#include "ist/aggregate/aggregator.hpp"

namespace ist {

/// Workers average their gradients after every local step (the trainer's Codec, when lossy, codes
/// them both ways: exchange/coded_all_reduce.hpp), so every replica takes the same steps and stays
/// identical; the replicas persist between rounds. The merge then adopts the replicas' common
/// values (bit-exact: equal values are not re-averaged).
class GradientAllReduce {
public:
    void average_gradients(std::span<Parameter* const> params, GradientExchange& exchange) const {
        exchange.average(params);
    }

    void merge(std::span<MergeItem> items, const MergeContext&) {
        for (MergeItem& item : items) *item.master = *item.workers.front();
    }
};

using GradientAverage [[deprecated("renamed GradientAllReduce")]] = GradientAllReduce;

}  // namespace ist
