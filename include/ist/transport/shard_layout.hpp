#pragma once
// How a sharded parameter node divides a model among R ranks, and what each rank then moves per
// round; the partitioned parameter server of the IST reference code (IST: Yuan et al. 2019).
//
// Rank r owns, of every parameter, the indices [r n / R, (r + 1) n / R) (rounded up) of its shard
// axis, of length n: the first axis some worker holds only part of this round (a neuron, channel or
// feature dimension). So a shard holds whole neurons and never needs a neighbour's values to merge
// its own. A parameter no worker holds in part (a ResIST block, a shared tensor) has no shard axis:
// rank r owns the r-th of R equal runs of its elements in storage order (merging is element-wise,
// and equal runs keep the ranks balanced when R exceeds the first axis). Shards must stay put from
// round to round, so the shard axis depends only on which dimensions the plan cuts, which every
// ist partitioner keeps the same in every round. A worker gathers each
// piece of its subnet from the piece's owner and returns it there; the owner merges. A parameter
// every worker holds whole (output bias, ResIST's shared blocks, GIST's kept last layer) is then
// reduce-scattered and all-gathered over its slices: 2 (R - 1) / R of its bytes each way per rank,
// as a ring all-reduce. The central node instead moves every subnet through rank 0.
//
// No MPI here: this is the byte accounting shared by the transport's tests and ist-bench scale.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/error.hpp"
#include "ist/core/plan.hpp"
#include "ist/core/tensor.hpp"
#include "ist/model/model.hpp"

namespace ist {

/// What the exchange sees of one parameter: the dimension of each axis, its full shape, its block.
struct ParameterShape {
    std::vector<DimId> dims;
    std::vector<std::size_t> shape;
    UnitRef unit;
};

/// The shapes of every parameter of `model`, in order.
template <Model M>
std::vector<ParameterShape> parameter_shapes(const M& model) {
    std::vector<ParameterShape> out;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        const auto dims = model.parameter_dims(i);
        const auto& shape = model.parameter(i).value.shape();
        out.push_back({{dims.begin(), dims.end()}, {shape.begin(), shape.end()}, unit_of(model, i)});
    }
    return out;
}

/// The rank owning index `index` of `length` indices divided among `ranks` ranks.
inline std::size_t shard_owner(std::size_t index, std::size_t length, std::size_t ranks) {
    return index * ranks / length;
}

/// The first of the indices rank `rank` owns (shard_owner's inverse): [shard_begin(r), shard_begin(r + 1)).
inline std::size_t shard_begin(std::size_t rank, std::size_t length, std::size_t ranks) {
    return (rank * length + ranks - 1) / ranks;
}

/// The axis parameter `p`'s shards slice under `plan`; none when no worker holds it in part.
inline std::optional<std::size_t> shard_axis(const ParameterShape& p, const Plan& plan) {
    for (std::size_t a = 0; a < p.dims.size(); ++a) {
        if (p.dims[a] == kWholeAxis) continue;
        for (const WorkerPlan& wp : plan)
            if (wp.dims.at(static_cast<std::size_t>(p.dims[a]))) return a;
    }
    return std::nullopt;
}

namespace detail {

/// The indices worker `wp` holds along axis `a` of `p` (all of them when the axis is whole).
inline std::vector<std::uint32_t> held_indices(const ParameterShape& p, const WorkerPlan& wp, std::size_t a) {
    if (p.dims[a] != kWholeAxis) {
        const IndexSet& set = wp.dims.at(static_cast<std::size_t>(p.dims[a]));
        if (set) return *set;
    }
    std::vector<std::uint32_t> all(p.shape[a]);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint32_t>(i);
    return all;
}

}  // namespace detail

/// Floats of worker `wp`'s piece of `p` (0 when it lacks the parameter's block).
inline std::size_t held_floats(const ParameterShape& p, const WorkerPlan& wp) {
    if (!wp.holds(p.unit)) return 0;
    std::size_t n = 1;
    for (std::size_t a = 0; a < p.shape.size(); ++a) n *= wp.held(p.dims[a], p.shape[a]);
    return n;
}

/// Where each owner's piece lies in worker `wp`'s subnet tensor of `p`: owner o's are positions
/// [bounds[o], bounds[o + 1]) along the shard axis (held indices are sorted and owners grow with
/// the index, so a piece is one run of positions), or of the elements when there is no axis.
struct PieceBounds {
    std::optional<std::size_t> axis;
    std::vector<std::size_t> bounds;  ///< ranks + 1 positions
};

inline PieceBounds piece_bounds(const ParameterShape& p, const WorkerPlan& wp, std::optional<std::size_t> axis,
                                std::size_t ranks) {
    PieceBounds b{axis, std::vector<std::size_t>(ranks + 1, 0)};
    const std::size_t floats = held_floats(p, wp);
    if (floats == 0) return b;
    if (!axis || p.shape.empty()) {  // held whole (or a scalar): each owner's run of elements
        b.axis.reset();
        for (std::size_t r = 0; r <= ranks; ++r) b.bounds[r] = shard_begin(r, floats, ranks);
        return b;
    }
    const std::vector<std::uint32_t> held = detail::held_indices(p, wp, *axis);
    for (std::size_t pos = 0; pos < held.size(); ++pos) ++b.bounds[shard_owner(held[pos], p.shape[*axis], ranks) + 1];
    for (std::size_t r = 0; r < ranks; ++r) b.bounds[r + 1] += b.bounds[r];
    return b;
}

/// Calls run(offset, count) for each contiguous run of floats of owner `owner`'s piece in `sub`
/// (a subnet tensor laid out as piece_bounds saw it).
template <class Run>
void for_each_piece_run(const Tensor& sub, const PieceBounds& b, std::size_t owner, Run&& run) {
    const std::size_t lo = b.bounds[owner], hi = b.bounds[owner + 1];
    if (lo == hi) return;
    if (!b.axis) return void(run(lo, hi - lo));
    const auto& shape = sub.shape();
    std::size_t outer = 1, inner = 1;
    for (std::size_t a = 0; a < *b.axis; ++a) outer *= shape[a];
    for (std::size_t a = *b.axis + 1; a < shape.size(); ++a) inner *= shape[a];
    for (std::size_t k = 0; k < outer; ++k) run((k * shape[*b.axis] + lo) * inner, (hi - lo) * inner);
}

/// Floats of worker `wp`'s piece of `p` that each of `ranks` ranks owns, slicing axis `axis`
/// (none: runs of elements).
inline std::vector<std::size_t> piece_by_owner(const ParameterShape& p, const WorkerPlan& wp,
                                               std::optional<std::size_t> axis, std::size_t ranks) {
    const PieceBounds b = piece_bounds(p, wp, axis, ranks);
    const std::size_t positions = b.bounds[ranks];
    const std::size_t per_position = positions ? held_floats(p, wp) / positions : 0;
    std::vector<std::size_t> out(ranks);
    for (std::size_t r = 0; r < ranks; ++r) out[r] = (b.bounds[r + 1] - b.bounds[r]) * per_position;
    return out;
}

/// Bytes each rank sends and receives in one round (tensors only: statuses and the two scalars
/// of each package are left out).
struct RankTraffic {
    std::vector<std::uint64_t> sent, received;
    explicit RankTraffic(std::size_t ranks) : sent(ranks, 0), received(ranks, 0) {}
    std::uint64_t total(std::size_t rank) const { return sent[rank] + received[rank]; }
};

/// The central parameter node (rank 0, also worker 0): every other worker's subnet goes out and
/// comes back. `tensors_per_parameter`: 1 + the optimizer-state tensors carried per parameter.
inline RankTraffic central_traffic(const std::vector<ParameterShape>& shapes, const Plan& plan,
                                   std::size_t tensors_per_parameter = 1) {
    RankTraffic t(plan.size());
    for (std::size_t s = 1; s < plan.size(); ++s) {
        std::uint64_t bytes = 0;
        for (const ParameterShape& p : shapes) bytes += held_floats(p, plan[s]) * sizeof(float) * tensors_per_parameter;
        t.sent[0] += bytes;
        t.received[0] += bytes;
        t.sent[s] += bytes;
        t.received[s] += bytes;
    }
    return t;
}

namespace detail {

/// Calls moved(owner, worker, bytes) for each piece of every worker's subnet that another rank
/// owns: `bytes` go down from the owner to the worker, and as many back up.
template <class Moved>
void for_each_remote_piece(const std::vector<ParameterShape>& shapes, const Plan& plan,
                           std::size_t tensors_per_parameter, Moved&& moved) {
    const std::size_t ranks = plan.size();
    for (const ParameterShape& p : shapes) {
        const std::optional<std::size_t> axis = shard_axis(p, plan);
        for (std::size_t s = 0; s < ranks; ++s) {
            const std::vector<std::size_t> pieces = piece_by_owner(p, plan[s], axis, ranks);
            for (std::size_t owner = 0; owner < ranks; ++owner)
                if (owner != s) moved(owner, s, std::uint64_t{pieces[owner] * sizeof(float) * tensors_per_parameter});
        }
    }
}

}  // namespace detail

/// The sharded parameter node over plan.size() ranks: each piece of every worker's subnet owned by
/// another rank goes from its owner to the worker and back; each rank's bytes in both its roles.
inline RankTraffic sharded_traffic(const std::vector<ParameterShape>& shapes, const Plan& plan,
                                   std::size_t tensors_per_parameter = 1) {
    RankTraffic t(plan.size());
    detail::for_each_remote_piece(shapes, plan, tensors_per_parameter, [&](std::size_t owner, std::size_t s, std::uint64_t bytes) {
        t.sent[owner] += bytes;  // down to the worker, then back up to the owner
        t.received[s] += bytes;
        t.sent[s] += bytes;
        t.received[owner] += bytes;
    });
    return t;
}

/// The same bytes counted once, at the worker's end (its pieces down from their owners, and back
/// up): summed over the workers, each byte on the wire counts once, as the trainer's
/// RoundMetrics::bytes counts a central node's subnets at their worker.
inline RankTraffic sharded_worker_traffic(const std::vector<ParameterShape>& shapes, const Plan& plan,
                                          std::size_t tensors_per_parameter = 1) {
    RankTraffic t(plan.size());
    detail::for_each_remote_piece(shapes, plan, tensors_per_parameter, [&](std::size_t, std::size_t s, std::uint64_t bytes) {
        t.received[s] += bytes;
        t.sent[s] += bytes;
    });
    return t;
}

}  // namespace ist
