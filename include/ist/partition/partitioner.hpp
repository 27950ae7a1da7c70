#pragma once
// The Partitioner policy: decides, each round, which part of the model every worker trains.
#include <concepts>
#include <cstddef>
#include <random>

#include "ist/core/dimension.hpp"
#include "ist/partition/plan.hpp"

namespace ist {

/// The random engine every partitioner draws from. It is seeded identically on every rank so
/// that all ranks agree on the plan without communicating it.
using PartitionRng = std::mt19937_64;

/// Whether feature partitioners (IST, GIST, channel IST) cut `d`: a partitionable dimension of
/// neurons or channels, not a block section (ResIST's) nor a derived view.
inline bool cuts_features(const Dimension& d) { return d.partitionable && d.kind == DimKind::Features; }

/// A Partitioner maps (dimension table, worker count, shared RNG) to a Plan with one WorkerPlan
/// per worker. It must throw ist::ConfigError for impossible requests (e.g. more workers than a
/// dimension has indices when every worker needs at least one), before any training happens.
/// `validate` is called once before training so configuration errors surface early.
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
