#pragma once
// A partition plan: for every worker, which indices of each dimension it holds this round.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
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
        if (d == kWholeAxis || !dims.at(static_cast<std::size_t>(d))) return full;
        return dims[static_cast<std::size_t>(d)]->size();
    }

    /// Whether the worker holds unit `u` (always, for parameters outside every unit).
    bool holds(UnitRef u) const {
        if (!u.in_unit()) return true;
        const IndexSet& set = dims.at(static_cast<std::size_t>(u.dim));
        return !set || std::binary_search(set->begin(), set->end(), u.index);
    }
};

/// One WorkerPlan per worker.
using Plan = std::vector<WorkerPlan>;

/// A plan in which every worker holds every index: the full model (data parallel, local SGD).
inline Plan full_plan(const DimensionTable& dims, std::size_t workers) {
    return Plan(workers, WorkerPlan{std::vector<IndexSet>(dims.size())});
}

/// The fraction of the `size` indices of dimension `d` that at least one worker of `plan` holds:
/// the neurons a round trains (theta = 1 - (1 - xi)^S in expectation under Bernoulli masks).
inline double coverage(const Plan& plan, DimId d, std::size_t size) {
    detail::require(size > 0, "coverage: dimension " + std::to_string(d) + " has no indices");
    std::vector<char> held(size, 0);
    for (const WorkerPlan& wp : plan) {
        const IndexSet& set = wp.dims.at(static_cast<std::size_t>(d));
        if (!set) return 1.0;
        for (std::uint32_t i : *set) held.at(i) = 1;
    }
    return static_cast<double>(std::count(held.begin(), held.end(), char{1})) / static_cast<double>(size);
}

/// `indices` of a dimension whose every index spans `span` consecutive columns, as columns.
inline std::vector<std::uint32_t> expand_indices(const std::vector<std::uint32_t>& indices, std::size_t span) {
    std::vector<std::uint32_t> out;
    out.reserve(indices.size() * span);
    for (std::uint32_t i : indices)
        for (std::size_t k = 0; k < span; ++k) out.push_back(static_cast<std::uint32_t>(i * span + k));
    return out;
}

/// Fills the index sets of Derived dimensions from their parents' (partitioners leave them
/// empty). Idempotent; the trainer calls it on every plan before it is used.
inline void derive_indices(const DimensionTable& dims, WorkerPlan& plan) {
    detail::require(plan.dims.size() == dims.size(), "derive_indices: the plan has " + std::to_string(plan.dims.size()) +
                                                         " dimensions, the model " + std::to_string(dims.size()));
    for (std::size_t d = 0; d < dims.size(); ++d) {
        if (dims[d].kind != DimKind::Derived) continue;
        const IndexSet& parent = plan.dims.at(static_cast<std::size_t>(*dims[d].parent));
        plan.dims[d] = parent ? IndexSet(expand_indices(*parent, dims[d].span)) : std::nullopt;
    }
}

inline void derive_indices(const DimensionTable& dims, Plan& plan) {
    for (WorkerPlan& wp : plan) derive_indices(dims, wp);
}

}  // namespace ist
