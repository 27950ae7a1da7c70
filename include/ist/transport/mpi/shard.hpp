#pragma once
// The sharded parameter node's exchange over MPI (shard_layout.hpp says who owns what): every rank
// serves its pieces of each other worker's subnet and gathers its own subnet's pieces from their
// owners (down), then returns each trained piece to its owner (up). One message per pair of ranks
// each way, posted with the channel's deadlines, so a rank that dies or stalls ends the job with a
// message naming it instead of a hang. Pieces are exact float copies: an owner merges its shard
// from the same values, in the same worker order, as the central node does, so the merge of each
// element is bit-identical (merging is element-wise: HolderAverage, ResIST's overlaps, the mean of
// shared tensors).
#include <mpi.h>

#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ist/core/plan.hpp"
#include "ist/core/tensor.hpp"
#include "ist/transport/mpi/channel.hpp"
#include "ist/transport/shard_layout.hpp"

namespace ist::detail::mpi {

/// The piece bounds of every tensor of every worker's package: [worker][tensor]. `owners[j]`: the
/// parameter package tensor j belongs to (ist::package_owners: parameters, then optimizer state).
inline std::vector<std::vector<PieceBounds>> package_bounds(const std::vector<ParameterShape>& shapes,
                                                            const std::vector<std::size_t>& owners, const Plan& plan) {
    std::vector<std::optional<std::size_t>> axes;
    for (const ParameterShape& p : shapes) axes.push_back(shard_axis(p, plan));
    std::vector<std::vector<PieceBounds>> out(plan.size());
    for (std::size_t s = 0; s < plan.size(); ++s)
        for (std::size_t owner : owners) out[s].push_back(piece_bounds(shapes[owner], plan[s], axes[owner], plan.size()));
    return out;
}

/// Owner `owner`'s pieces of `tensors`, one after the other.
inline std::vector<float> pack_pieces(std::span<Tensor* const> tensors, const std::vector<PieceBounds>& bounds,
                                      std::size_t owner) {
    std::vector<float> out;
    for (std::size_t j = 0; j < tensors.size(); ++j)
        for_each_piece_run(*tensors[j], bounds[j], owner, [&](std::size_t at, std::size_t n) {
            out.insert(out.end(), tensors[j]->data() + at, tensors[j]->data() + at + n);
        });
    return out;
}

/// Floats of owner `owner`'s pieces of `tensors`.
inline std::size_t piece_floats(std::span<Tensor* const> tensors, const std::vector<PieceBounds>& bounds,
                                std::size_t owner) {
    std::size_t n = 0;
    for (std::size_t j = 0; j < tensors.size(); ++j)
        for_each_piece_run(*tensors[j], bounds[j], owner, [&](std::size_t, std::size_t k) { n += k; });
    return n;
}

/// Overwrites owner `owner`'s pieces of `tensors` from `in`, as pack_pieces laid them out.
inline void unpack_pieces(std::span<Tensor* const> tensors, const std::vector<PieceBounds>& bounds, std::size_t owner,
                          const float* in) {
    for (std::size_t j = 0; j < tensors.size(); ++j)
        for_each_piece_run(*tensors[j], bounds[j], owner, [&](std::size_t at, std::size_t n) {
            std::memcpy(tensors[j]->data() + at, in, n * sizeof(float));
            in += n;
        });
}

/// One round's exchange at this rank, for packages laid out as `bounds` (see package_bounds).
class ShardedExchange {
public:
    ShardedExchange(const Channel& channel, std::vector<std::vector<PieceBounds>> bounds)
        : ch_(channel), bounds_(std::move(bounds)), me_(static_cast<std::size_t>(channel.rank())) {}

    /// Down: `served[s]` are worker s's package tensors cut from this rank's model, exact in its
    /// shard (served[me] is not read); `mine` receives every other owner's pieces of this rank's
    /// package (its own pieces are already exact).
    void gather(const std::vector<std::vector<Tensor*>>& served, std::span<Tensor* const> mine) const {
        exchange(kShardDown, [&](std::size_t peer) { return pack_pieces(served[peer], bounds_[peer], me_); },
                 [&](std::size_t peer) { return Slot{mine, &bounds_[me_], peer}; }, "this worker's subnet pieces");
    }

    /// Up: returns each piece of `mine` (trained) to its owner; `returned[s]` receives worker s's
    /// trained pieces this rank owns (returned[me] gets its own pieces copied from `mine`).
    void give_back(std::span<Tensor* const> mine, const std::vector<std::vector<Tensor*>>& returned) const {
        const std::vector<float> own = pack_pieces(mine, bounds_[me_], me_);
        unpack_pieces(returned[me_], bounds_[me_], me_, own.data());
        exchange(kShardUp, [&](std::size_t peer) { return pack_pieces(mine, bounds_[me_], peer); },
                 [&](std::size_t peer) { return Slot{returned[peer], &bounds_[peer], me_}; },
                 "the trained pieces of this rank's shard");
    }

private:
    /// Where a peer's message lands: `owner`'s pieces of `tensors`, laid out as `bounds`.
    struct Slot {
        std::span<Tensor* const> tensors;
        const std::vector<PieceBounds>* bounds;
        std::size_t owner;
    };

    template <class Pack, class Land>
    void exchange(int tag, Pack&& pack, Land&& land, const std::string& what) const {
        const std::size_t ranks = bounds_.size();
        std::vector<std::vector<float>> out(ranks);
        std::vector<MPI_Request> sends;
        for (std::size_t peer = 0; peer < ranks; ++peer) {
            if (peer == me_) continue;
            out[peer] = pack(peer);
            sends.push_back(ch_.isend(out[peer].data(), out[peer].size() * sizeof(float), static_cast<int>(peer), tag));
        }
        for (std::size_t peer = 0; peer < ranks; ++peer) {
            if (peer == me_) continue;
            const Slot slot = land(peer);
            std::vector<float> in(piece_floats(slot.tensors, *slot.bounds, slot.owner));
            ch_.receive_exact(static_cast<int>(peer), tag, in.data(), in.size() * sizeof(float), what);
            unpack_pieces(slot.tensors, *slot.bounds, slot.owner, in.data());
        }
        ch_.wait_all(sends, what + " to be taken by the other ranks");
    }

    const Channel& ch_;
    std::vector<std::vector<PieceBounds>> bounds_;
    std::size_t me_;
};

}  // namespace ist::detail::mpi
