#pragma once
// Data parallel's aggregation: the averaging already happened, in the transport, every step.
#include <span>

#include "ist/aggregate/aggregator.hpp"

namespace ist {

/// Workers all-reduce their gradients after every local step, so every replica stays identical
/// and the merge only adopts replica 0 (bit-exact: equal values are not re-averaged). The
/// trainer's Codec, when lossy, codes those gradients both ways (codec/coded_all_reduce.hpp).
class GradientAllReduce {
public:
    static constexpr bool synchronises_gradients = true;

    void merge(std::span<MergeItem> items, const Plan&) {
        for (MergeItem& item : items) *item.master = *item.workers.front();
    }
};

using GradientAverage [[deprecated("renamed GradientAllReduce")]] = GradientAllReduce;

}  // namespace ist
