#pragma once
// A partition plan: for every worker, which indices of each dimension it holds this round.
#include <cstdint>
#include <optional>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/error.hpp"

namespace ist {

/// Sorted indices a worker holds along one dimension; `std::nullopt` means "all of them".
using IndexSet = std::optional<std::vector<std::uint32_t>>;

/// What one worker holds: an IndexSet per dimension of the model (same order as its table).
struct WorkerPlan {
    std::vector<IndexSet> dims;

    /// Number of indices held along dimension `d` of full size `full`.
    std::size_t held(DimId d, std::size_t full) const {
        if (d == kSharedDim || !dims.at(static_cast<std::size_t>(d))) return full;
        return dims[static_cast<std::size_t>(d)]->size();
    }
};

/// One WorkerPlan per worker.
using Plan = std::vector<WorkerPlan>;

/// A plan in which every worker holds every index: the full model (data parallel, local SGD).
inline Plan full_plan(const DimensionTable& dims, std::size_t workers) {
    return Plan(workers, WorkerPlan{std::vector<IndexSet>(dims.size())});
}

}  // namespace ist
