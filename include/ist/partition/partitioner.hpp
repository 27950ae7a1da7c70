#pragma once
// The Partitioner policy: decides, each round, which part of the model every worker trains.
#include <concepts>
#include <cstddef>

#include "ist/core/dimension.hpp"
#include "ist/detail/random.hpp"
#include "ist/core/plan.hpp"

namespace ist {

/// The random engine every partitioner draws from (std::mt19937_64). It is seeded identically on
/// every rank so that all ranks agree on the plan without communicating it; partitioners draw
/// through ist/detail/random.hpp, whose algorithms are the same with every standard library.
using PartitionRng = detail::RandomEngine;

/// Whether feature partitioners (IST, GIST, channel IST) cut `d`: a partitionable dimension of
/// neurons or channels, not a block section (ResIST's) nor a derived view.
inline bool cuts_features(const Dimension& d) { return d.partitionable && d.kind == DimKind::Features; }

/// A Partitioner maps (dimension table, worker count, shared RNG) to a Plan with one WorkerPlan
/// per worker. `validate(dims, workers)` must throw ist::ConfigError for impossible requests
/// (e.g. more workers than a dimension has indices when every worker needs at least one); the
/// trainer calls it once, at construction, before any training happens. `plan` is called every
/// round and may assume that `validate` passed for the same dims and workers: it does not
/// re-check the configuration (only debug assertions guard what would corrupt memory), so code
/// that calls `plan` directly must call `validate` first.
template <class P>
concept Partitioner = std::copy_constructible<P> &&
    requires(P& p, const DimensionTable& dims, std::size_t workers, PartitionRng& rng) {
        { p.plan(dims, workers, rng) } -> std::same_as<Plan>;
        p.validate(dims, workers);
    };

/// Optional hook: `unit_scale(dims, unit, workers)` is the factor the full model applies in
/// evaluation to the branch of residual block `unit` (ResIST: 1/S, or max(1/S, min_depth/n)).
/// Partitioners without it leave every block at 1.
template <class P>
concept HasUnitScale = requires(const P& p, const DimensionTable& dims, UnitRef unit, std::size_t workers) {
    { p.unit_scale(dims, unit, workers) } -> std::convertible_to<float>;
};

}  // namespace ist
