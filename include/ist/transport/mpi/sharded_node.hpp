#pragma once
// The sharded parameter node's rounds over MPI (MpiTransport with ParameterNode::Sharded): every
// rank keeps the model but is exact only in its own shard (shard_layout.hpp says which), cuts
// every worker's package from it, gathers its own subnet's pieces from their owners, trains it,
// and returns each trained piece to its owner, which merges; the partitioned parameter server of
// the IST reference code (IST: Yuan et al. 2019). Rank 0 still starts each round and collects the
// workers' statuses and scalars (a few bytes each), so a failure ends the round on every rank
// before any piece is returned, and the model stays as it was, as with the central node.
//
// The trainer tells the node each round's layout (set_layout: parameter shapes, package owners,
// plan) before the round, and gathers the shards to rank 0 (gather, a collective) before rank 0
// evaluates, checkpoints or broadcasts the model.
#include <mpi.h>

#include <cstddef>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/plan.hpp"
#include "ist/core/tensor.hpp"
#include "ist/transport/mpi/session.hpp"
#include "ist/transport/mpi/shard.hpp"
#include "ist/transport/pack.hpp"
#include "ist/transport/round_ledger.hpp"
#include "ist/transport/shard_layout.hpp"
#include "ist/transport/transport.hpp"

namespace ist {

/// Where an MPI run keeps and merges the model between rounds.
enum class ParameterNode {
    Central,  ///< rank 0 holds it, cuts every subnet and merges every one (traffic at rank 0 grows as S)
    Sharded,  ///< each rank holds and merges its shard; subnets travel between owners and workers
};

}  // namespace ist

namespace ist::detail::mpi {

/// The sharded node's state at one rank: the last round's layout.
class ShardedNode {
public:
    /// The round's layout. `owners`: ist::package_owners(model, K, true), so the full tensors are
    /// the parameters, then K optimizer-state tensors per parameter, as a package's.
    void set_layout(std::vector<ParameterShape> shapes, std::vector<std::size_t> owners, const Plan& plan) {
        const std::size_t ranks = plan.size();
        bounds_ = package_bounds(shapes, owners, plan);
        const WorkerPlan everything{std::vector<IndexSet>(plan.front().dims.size())};
        whole_.clear();
        for (std::size_t owner : owners)
            whole_.push_back(piece_bounds(shapes[owner], everything, shard_axis(shapes[owner], plan), ranks));
        const std::size_t per_parameter = shapes.empty() ? 1 : owners.size() / shapes.size();
        traffic_ = sharded_worker_traffic(shapes, plan, per_parameter);
    }

    /// One IST round (Replicas::PerRound) at this rank; returns every worker's package, each
    /// exact (trained) in this rank's shard, so that merging them updates exactly that shard.
    template <class P, class Extract, class Work>
    RoundResult<P> round(Session& st, std::size_t S, Extract& extract, Work& work) const {
        if (bounds_.size() != S)
            throw std::logic_error("MpiTransport: the sharded parameter node needs the round's layout first "
                                   "(set_shard_layout, which IstTrainer calls)");
        const auto me = static_cast<std::size_t>(st.channel.rank());
        std::vector<P> packages;
        for (std::size_t s = 0; s < S; ++s) packages.push_back(extract(s));
        if (ist::detail::travels_coded(packages[me]))  // alike on every rank, so all refuse before the round starts
            throw ConfigError("MpiTransport: the sharded parameter node moves exact floats; it does not take a codec");
        if (me == 0) st.open_round();
        else if (!st.receive_round_start()) st.channel.fatal("the coordinator dropped this rank, which never drops");
        std::vector<std::vector<Tensor*>> tensors;
        for (P& p : packages) tensors.push_back(p.tensors());
        const ShardedExchange exchange(st.channel, bounds_);
        exchange.gather(tensors, tensors[me]);
        std::exception_ptr error;
        const Verdict verdict = settle(st, packages, run_work(packages[me], work, st.reduction, me, S, error));
        rethrow_unless_ok(verdict.outcome, me, error);
        exchange.give_back(tensors[me], tensors);
        RoundResult<P> result;
        result.packages = std::move(packages);
        result.traffic = RoundTraffic(S);
        result.traffic.sent = traffic_.sent;
        result.traffic.received = traffic_.received;
        for (std::size_t s = 0; s < S; ++s) {  // every worker made the same allreduce_mean calls
            result.traffic.sent[s] += st.reduction.bytes;
            result.traffic.received[s] += st.reduction.bytes;
        }
        return result;
    }

    /// Collective: rank 0's `full` tensors (in package order) take every other rank's shard, so
    /// rank 0 holds the whole model; the other ranks' tensors are left as they are. Returns the
    /// bytes that crossed the wire (every shard but rank 0's), the same on every rank.
    std::uint64_t gather(const Session& st, std::span<Tensor* const> full) const {
        if (whole_.empty()) return 0;  // no round yet: every rank holds the whole model
        if (full.size() != whole_.size())
            throw std::logic_error("MpiTransport::gather_shards: " + std::to_string(full.size()) + " tensors, the layout has " +
                                   std::to_string(whole_.size()));
        const Channel& ch = st.channel;
        const auto me = static_cast<std::size_t>(ch.rank());
        std::uint64_t floats = 0;
        for (std::size_t k = 1; k < static_cast<std::size_t>(ch.size()); ++k) {
            const std::size_t n = piece_floats(full, whole_, k);
            floats += n;
            if (me == 0) {
                std::vector<float> theirs(n);
                ch.receive_exact(static_cast<int>(k), kGather, theirs.data(), n * sizeof(float),
                                 "rank " + std::to_string(k) + "'s shard of the model");
                unpack_pieces(full, whole_, k, theirs.data());
            } else if (k == me) {
                const std::vector<float> mine = pack_pieces(full, whole_, me);
                ch.send(mine.data(), mine.size() * sizeof(float), 0, kGather, "this rank's shard gathered by the coordinator");
            }
        }
        return floats * sizeof(float);
    }

private:
    /// Rank 0 learns every worker's status and, from those that succeeded, its scalars (the
    /// loss it reports); every rank then takes the round's verdict.
    template <class P>
    static Verdict settle(Session& st, std::vector<P>& packages, Outcome outcome) {
        outcome.round = st.round;
        if (st.channel.rank() != 0) {
            const std::vector<char> status = outcome.encode();
            st.channel.send(status.data(), status.size(), 0, kStatus, "this worker's status");
            if (outcome.ok()) {
                const std::vector<char> scalars = ist::detail::pack(packages[static_cast<std::size_t>(st.channel.rank())],
                                                       PackedParts::ScalarsOnly);
                st.channel.send(scalars.data(), scalars.size(), 0, kUp, "this worker's scalars");
            }
            return st.receive_verdict();
        }
        st.record_own_outcome(std::move(outcome));
        for (int k = 1; k < st.channel.size(); ++k) {
            st.await_outcome(k);
            if (!st.outcomes[k]->ok()) continue;
            const std::vector<char> scalars = st.channel.receive(k, kUp, "worker " + std::to_string(k) + "'s scalars");
            P& theirs = packages[static_cast<std::size_t>(k)];
            if (scalars.size() != theirs.scalars().size() * sizeof(double))
                st.channel.fatal("worker " + std::to_string(k) + " sent " + std::to_string(scalars.size()) +
                                 " bytes of scalars, " + std::to_string(theirs.scalars().size() * sizeof(double)) + " expected");
            ist::detail::unpack(theirs, scalars, PackedParts::ScalarsOnly);
        }
        return st.announce_verdict(false);
    }

    std::vector<std::vector<PieceBounds>> bounds_;  ///< [worker][package tensor]
    std::vector<PieceBounds> whole_;                ///< each owner's pieces of the full tensors
    RankTraffic traffic_{0};
};

}  // namespace ist::detail::mpi
