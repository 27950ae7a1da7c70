#pragma once
// The "partition" of the baselines: every worker holds the whole model.
#include <string>

#include "ist/partition/partitioner.hpp"

namespace ist {

/// Every worker trains the full model (data parallel and local SGD are this partitioner with an
/// averaging aggregator).
class FullModel {
public:
    void validate(const DimensionTable&, std::size_t workers) const {
        detail::require(workers > 0, "FullModel: the number of workers S must be at least 1");
    }
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng&) const {
        return full_plan(dims, workers);
    }
};

}  // namespace ist
