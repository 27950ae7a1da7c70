#pragma once
// MpiTransport: one IST worker per MPI rank. Rank 0 is the parameter node: it holds the full
// model, is also worker 0, cuts the subnets, sends each worker its own, gets it back and merges.
// (MpiEnvironment, which starts and ends MPI, comes with this header: mpi_environment.hpp.)
//
// Link ist::mpi (CMake) to use this header; nothing else in ist needs MPI. See docs/cluster.md.
//
// What crosses the network per round (Replicas::PerRound, IST and local SGD): rank 0 sends
// worker s its package (subnet tensors + scalars) and gets it back; nothing else but a few
// status bytes. Data parallel (Replicas::Persistent): replicas persist on every rank, so no
// model travels; gradients are averaged every step (allreduce_mean: rank 0 agrees, then the
// workers exchange chunks directly, a reduce-scatter and an all-gather), summing workers 0..S-1
// in order so the result is bit-identical to ThreadsTransport.
//
// Failure behaviour: every wait polls with a timeout (Options::timeout_seconds, environment
// IST_MPI_TIMEOUT); a timeout or an MPI error prints a message naming the rank and what it
// waited for, then MPI_Abort ends the whole job. An exception in a worker's local work is sent
// to rank 0 and rethrown on every rank (same type for ist's errors, same message), so a failing
// round throws everywhere and leaves the model as it was, exactly as in-process.
//
// Stragglers (Options::round_timeout / quorum / drop_failed_workers, as ThreadsTransport's):
// rank 0 stops waiting at the deadline or at k results and drops the rest for the round; every
// rank learns who was dropped from the round's verdict. A dropped rank still working finishes,
// its late result is discarded (statuses carry their round), and it sits rounds out until then.
//
// Options::parameter_node = Sharded: each rank holds and merges its shard of the model instead
// (mpi_sharded_node.hpp; the trainer passes each round's layout and gathers the shards to rank 0
// before rank 0 evaluates or checkpoints). Same results; it does not drop stragglers or code.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/blas_threads.hpp"
#include "ist/transport/mpi/channel.hpp"
#include "ist/transport/mpi/collectives.hpp"
#include "ist/transport/mpi/environment.hpp"
#include "ist/transport/mpi/round.hpp"
#include "ist/transport/mpi/session.hpp"
#include "ist/transport/mpi/sharded_node.hpp"
#include "ist/transport/pack.hpp"
#include "ist/transport/transport.hpp"

namespace ist {

/// One worker per MPI rank; rank 0 holds the full model (the parameter node) and is worker 0.
/// Copies share one state (communicator, handshake), so passing it by value is fine.
class MpiTransport {
public:
    struct Options {
        MPI_Comm comm = MPI_COMM_WORLD;
        double timeout_seconds = detail::mpi::default_timeout();  ///< longest wait for any message
        int blas_threads = 1;  ///< OpenBLAS threads during a round (as ThreadsTransport); 0 = unchanged
        // Stragglers, as ThreadsTransport's; only rank 0's count (it decides who is dropped).
        bool drop_failed_workers = false;            ///< drop a throwing worker instead of aborting
        std::chrono::milliseconds round_timeout{0};  ///< from when all have their subnets (bounds stalled transfers too); 0 = none
        std::size_t quorum = 0;                      ///< return once this many are back; 0 = all
        ParameterNode parameter_node = ParameterNode::Central;  ///< who holds and merges the model
    };

    MpiTransport() : MpiTransport(Options{}) {}
    explicit MpiTransport(Options options) : options_(options) {
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (!initialised)
            throw ConfigError("MpiTransport: MPI is not initialised; create an ist::MpiEnvironment first");
        detail::require(options.timeout_seconds > 0, "MpiTransport: timeout_seconds must be positive");
        detail::require(options.round_timeout.count() >= 0, "MpiTransport: round_timeout must not be negative");
        std::ostringstream limit;
        limit << "MpiTransport: round_timeout (" << options.round_timeout.count() << " ms) must be shorter than "
              << "timeout_seconds (" << options.timeout_seconds << " s), after which a silent rank ends the job";
        detail::require(std::chrono::duration<double>(options.round_timeout).count() < options.timeout_seconds, limit.str());
        state_ = std::make_shared<detail::mpi::Session>(options.comm, options.timeout_seconds);
        state_->policy = {options.round_timeout, options.quorum, options.drop_failed_workers};
        if (sharded() && state_->policy.dropping())
            throw ConfigError("MpiTransport: the sharded parameter node does not drop stragglers (round_timeout, quorum, "
                              "drop_failed_workers): every rank owns a shard the others need");
    }

    bool is_coordinator() const { return state_->channel.rank() == 0; }
    int rank() const { return state_->channel.rank(); }
    int size() const { return state_->channel.size(); }
    const Options& options() const { return options_; }
    bool sharded() const { return options_.parameter_node == ParameterNode::Sharded; }

    /// Sharded node: the next round's layout (see ShardedNode::set_layout; IstTrainer calls it).
    void set_shard_layout(std::vector<ParameterShape> shapes, std::vector<std::size_t> owners, const Plan& plan) {
        shards_->set_layout(std::move(shapes), std::move(owners), plan);
    }

    /// Sharded node, collective: rank 0's full tensors (parameters, then carried state) take every
    /// other rank's shard of the last round's layout. Returns the bytes gathered (on every rank).
    std::uint64_t gather_shards(std::span<Tensor* const> full) {
        return shards_->gather(ready_session(), full);
    }
    /// What crossed the wire at this rank so far, per message tag, as MPI counted it.
    const detail::mpi::WireCounters& wire_counters() const { return state_->channel.counters(); }

    /// Checks that this launch can run S workers (np == S on every rank: a ConfigError naming
    /// both otherwise) and that every rank runs the same build, model size and configuration.
    void handshake(std::size_t workers, std::uint64_t parameters, std::uint64_t config) {
        Session& st = *state_;
        const int np = st.channel.size();
        if (workers != static_cast<std::size_t>(np))
            throw ConfigError("MpiTransport: S = " + std::to_string(workers) + " workers but the MPI job has np = " +
                              std::to_string(np) + " processes; MpiTransport runs one worker per rank, so launch "
                              "with mpirun -np " + std::to_string(workers) + " (or use S = " + std::to_string(np) + ")");
        if (options_.quorum > workers)  // it could never be reached: the rounds would silently wait for everyone
            throw ConfigError("MpiTransport: quorum = " + std::to_string(options_.quorum) + " but a round has only S = " +
                              std::to_string(workers) + " workers");
        detail::mpi::Channel hello(options_.comm, options_.timeout_seconds);
        const std::uint64_t mine[6] = {0x15717a11u, detail::mpi::build_fingerprint(), static_cast<std::uint64_t>(np),
                                       workers, parameters,
                                       sharded() ? Fingerprint().add(config).add(std::string_view("sharded")).value() : config};
        const std::string verdict = detail::mpi::compare_launches(hello, mine);
        if (!verdict.empty())
            throw ConfigError("MpiTransport: mismatched launch: " + verdict +
                              "; every rank must run the same ist-train build with the same options and data");
        st.ready(workers);
    }

    /// The coordinator's decision, on every rank.
    bool agree(bool decision) { return detail::mpi::agree(ready_session(), decision); }

    /// Overwrites `tensors` on every rank with the coordinator's values (same shapes everywhere).
    void broadcast(std::span<Tensor* const> tensors) { detail::mpi::broadcast(ready_session(), tensors); }

    /// Collective: rank k (1..S-1) sends `per_worker[k]` and the coordinator overwrites its own
    /// `per_worker[k]` with it (same shapes on every rank); rank 0's own entry stays. Used to
    /// checkpoint state only the workers' ranks hold (error-feedback residuals).
    void gather_to_coordinator(std::span<std::vector<Tensor>> per_worker) {
        detail::mpi::gather_to_coordinator(ready_session(), per_worker);
    }

    /// One round (see the Transport concept). On rank 0 it returns every worker's package; on
    /// other ranks none, except with Replicas::Persistent, where every rank returns S copies of
    /// its own replica (replicas are equal by construction) so that every rank can merge.
    template <class Extract, class Work>
    auto round(std::size_t workers, Extract&& extract, Work&& work, Replicas replicas) {
        using P = std::invoke_result_t<Extract&, std::size_t>;
        Session& st = *state_;
        if (!st.ready_for || *st.ready_for != workers) handshake(workers, 0, 0);
        st.begin_round();
        detail::BlasThreadsGuard blas(options_.blas_threads);
        if (sharded() && replicas == Replicas::PerRound) return shards_->round<P>(st, workers, extract, work);
        if (is_coordinator()) return coordinate_round<P>(workers, extract, work, replicas);
        return take_part_in_round<P>(workers, extract, work, replicas);
    }

    /// Rank 0: blocks until every worker dropped while still working has sent its (discarded)
    /// result. Other ranks: returns at once (their work runs in the caller's thread).
    void wait_idle() { state_->wait_idle(); }

private:
    using Session = detail::mpi::Session;
    using Outcome = detail::Outcome;
    template <class P>
    using Slots = std::vector<std::optional<P>>;  ///< one package per worker, built where needed

    /// The session, once the handshake has fixed S (std::logic_error before it).
    Session& ready_session() {
        state_->require_ready();
        return *state_;
    }

    /// Rank 0: cut and send the subnets, train worker 0's, take the others back, announce the
    /// verdict, and return the package of every worker that was not dropped.
    template <class P, class Extract, class Work>
    RoundResult<P> coordinate_round(std::size_t S, Extract& extract, Work& work, Replicas replicas) {
        Session& st = *state_;
        // Gradient-synchronised rounds cannot lose a worker mid-step: everyone takes part and a
        // failure aborts the round, whatever the options (as with ThreadsTransport).
        const bool dropping = st.policy.dropping() && replicas == Replicas::PerRound;
        if (!dropping) st.wait_idle();
        const std::vector<char> taking_part = st.open_round();
        RoundResult<P> result;
        result.traffic = RoundTraffic(S);
        Slots<P> packages(S);
        if (replicas == Replicas::PerRound) send_subnets(packages, extract, result.traffic, taking_part, dropping);
        else packages[0].emplace(extract(0));
        const auto deadline = Session::Clock::now() + st.policy.round_timeout;
        const auto began = Session::Clock::now();
        const std::exception_ptr error = detail::mpi::run_local_work(st, *packages[0], work, 0, S);
        st.record_own_outcome(timed_outcome(error, 0, began));
        const std::vector<std::vector<char>> scalars = take_back(packages, replicas, dropping, deadline);
        const detail::mpi::Verdict verdict = st.announce_verdict(dropping);
        detail::rethrow_unless_ok(verdict.outcome, 0, error);
        for (std::size_t s = 0; s < S; ++s) {
            if (replicas == Replicas::PerRound && st.outcomes[s]->ok()) result.traffic.sent[s] += payload_bytes(*packages[s]);
            // Every worker made the same allreduce_mean calls as this one.
            result.traffic.received[s] += st.reduction.bytes;
            result.traffic.sent[s] += st.reduction.bytes;
        }
        result.worker_seconds.assign(S, 0.0);  // each worker's own clock, sent with its status
        for (std::size_t s = 0; s < S; ++s)
            if (st.outcomes[s]) result.worker_seconds[s] = st.outcomes[s]->seconds;
        if (replicas == Replicas::Persistent) detail::replicate(packages, 0, extract, &scalars);
        for (std::size_t s = 0; s < S; ++s)
            if (st.outcomes[s]->ok()) result.packages.push_back(std::move(*packages[s]));
        result.dropped = verdict.dropped;
        result.failures = verdict.failures;
        return result;
    }

    /// Ranks 1..S-1: take this worker's subnet, train it, send it back with its status, and
    /// rethrow the round's failure if the coordinator announces one.
    template <class P, class Extract, class Work>
    RoundResult<P> take_part_in_round(std::size_t S, Extract& extract, Work& work, Replicas replicas) {
        Session& st = *state_;
        const detail::mpi::Channel& ch = st.channel;
        const auto me = static_cast<std::size_t>(ch.rank());
        RoundResult<P> result;
        result.traffic = RoundTraffic(S);
        if (!st.receive_round_start()) {  // still busy with a round it was dropped from, says rank 0
            take_verdict(result, me, nullptr);
            return result;
        }
        // The package skeleton is built locally (same shapes as the coordinator's); with
        // PerRound, the coordinator's values then overwrite it.
        Slots<P> packages(S);
        P& mine = packages[me].emplace(extract(me));
        const bool per_round = replicas == Replicas::PerRound;
        if (per_round) {
            std::vector<char> buffer(detail::packed_size(mine));
            ch.receive_exact(0, detail::mpi::kDown, buffer.data(), buffer.size(), "this worker's subnet");
            detail::unpack(mine, buffer);
            result.traffic.received[me] += payload_bytes(mine);
        }
        const auto began = Session::Clock::now();
        const std::exception_ptr error = detail::mpi::run_local_work(st, mine, work, me, S);
        Outcome outcome = timed_outcome(error, me, began);
        outcome.round = st.round;  // tells a late status from the current round's
        const std::vector<char> status = outcome.encode();
        ch.send(status.data(), status.size(), 0, detail::mpi::kStatus, "this worker's status");
        if (outcome.ok()) {
            const auto parts = per_round ? detail::PackedParts::TensorsAndScalars : detail::PackedParts::ScalarsOnly;
            const std::vector<char> buffer = detail::pack(mine, parts);
            ch.send(buffer.data(), buffer.size(), 0, detail::mpi::kUp, "this worker's trained package");
            if (per_round) result.traffic.sent[me] += payload_bytes(mine);
        }
        take_verdict(result, me, error);
        result.traffic.received[me] += st.reduction.bytes;
        result.traffic.sent[me] += st.reduction.bytes;
        if (per_round) return result;
        detail::replicate(packages, me, extract, nullptr);
        for (auto& p : packages) result.packages.push_back(std::move(*p));
        return result;
    }

    /// How this rank's local work ended, with its wall seconds since `began`.
    static Outcome timed_outcome(const std::exception_ptr& error, std::size_t me, Session::Clock::time_point began) {
        Outcome outcome = Outcome::from(error, me);
        outcome.seconds = std::chrono::duration<double>(Session::Clock::now() - began).count();
        return outcome;
    }

    /// Worker: the round's verdict. Rethrows the round's failure; a worker the coordinator
    /// dropped does not rethrow its own (it only learns that it was dropped).
    template <class P>
    void take_verdict(RoundResult<P>& result, std::size_t me, const std::exception_ptr& own) {
        detail::mpi::Verdict verdict = state_->receive_verdict();
        detail::rethrow_unless_ok(verdict.outcome, me, own);
        if (std::find(verdict.dropped.begin(), verdict.dropped.end(), me) != verdict.dropped.end())
            result.traffic.sent[me] = 0;  // its package, if sent, was discarded
        result.dropped = std::move(verdict.dropped);
        result.failures = std::move(verdict.failures);
    }

    /// Coordinator: the package of every worker taking part cut from the full model; workers
    /// 1..S-1 get theirs.
    /// With a round timeout, a worker that does not take its subnet within it is dropped.
    template <class P, class Extract>
    void send_subnets(Slots<P>& packages, Extract& extract, RoundTraffic& traffic, const std::vector<char>& taking_part,
                      bool dropping) {
        Session& st = *state_;
        for (std::size_t s = 0; s < packages.size(); ++s)
            if (taking_part[s]) packages[s].emplace(extract(s));
        std::vector<std::vector<char>> buffers(packages.size());
        std::vector<MPI_Request> sends(packages.size(), MPI_REQUEST_NULL);
        for (std::size_t s = 1; s < packages.size(); ++s) {
            if (!taking_part[s]) continue;
            buffers[s] = detail::pack(*packages[s]);
            sends[s] = st.channel.isend(buffers[s].data(), buffers[s].size(), static_cast<int>(s), detail::mpi::kDown);
        }
        if (dropping && st.policy.round_timeout.count() > 0)
            st.await_subnets_until(buffers, sends, Session::Clock::now() + st.policy.round_timeout);
        else st.channel.wait_all(sends, "the subnets to be taken by the workers");
        for (std::size_t s = 0; s < packages.size(); ++s)
            if (taking_part[s]) traffic.received[s] += payload_bytes(*packages[s]);
    }

    /// Coordinator: every worker's status (dropping: until the deadline or the quorum) and,
    /// from those that succeeded, the trained package (PerRound, unpacked in place) or only its
    /// scalars (Persistent, returned per worker).
    template <class P>
    std::vector<std::vector<char>> take_back(Slots<P>& packages, Replicas replicas, bool dropping,
                                             Session::Clock::time_point deadline) {
        Session& st = *state_;
        std::vector<std::vector<char>> scalars(packages.size());
        auto take = [&](int rank) {
            const auto k = static_cast<std::size_t>(rank);
            const std::string sk = std::to_string(k);
            std::optional<std::vector<char>> arrived = st.take_package(rank, dropping ? std::optional(deadline) : std::nullopt);
            if (!arrived) return false;
            std::vector<char>& buffer = *arrived;
            if (replicas == Replicas::Persistent) {
                scalars[k] = std::move(buffer);
                return true;
            }
            const std::size_t expected = detail::packed_size(*packages[k]);
            if (buffer.size() != expected)
                st.channel.fatal("worker " + sk + " returned " + std::to_string(buffer.size()) + " bytes, " +
                                 std::to_string(expected) + " expected");
            detail::unpack(*packages[k], buffer);
            return true;
        };
        if (dropping) {
            st.gather_until(deadline, take);
            return scalars;
        }
        for (int k = 1; k < static_cast<int>(packages.size()); ++k) {
            st.await_outcome(k);
            if (st.outcomes[k]->ok()) take(k);
        }
        return scalars;
    }

    Options options_;
    std::shared_ptr<Session> state_;
    std::shared_ptr<detail::mpi::ShardedNode> shards_ = std::make_shared<detail::mpi::ShardedNode>();
};

}  // namespace ist
