#pragma once
// MpiTransport: one IST worker per MPI rank. Rank 0 is the parameter node: it holds the full
// model, is also worker 0, cuts the subnets, sends each worker its own, gets it back and merges.
// (MpiEnvironment, which starts and ends MPI, comes with this header: mpi_environment.hpp.)
//
// Link ist::mpi (CMake) to use this header; nothing else in ist needs MPI. See docs/cluster.md.
//
// The round is the library's (round_ledger.hpp: coordinate_on_rank_0 and work_on_own_rank, the
// packages and their bytes, the verdict); what is here is its two links, how it travels over MPI,
// and MPI's own features: a timeout on every wait, stragglers, the sharded node.
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
#include "ist/transport/round_ledger.hpp"
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

    /// MergesDuringRound: rank 0 merges each package as it is back (not with the sharded node).
    static constexpr bool merges_during_round = true;

    /// One round (see the Transport concept). On rank 0 it returns every worker's package; on
    /// other ranks none, except with Replicas::Persistent, where every rank returns S copies of
    /// its own replica (replicas are equal by construction) so that every rank can merge.
    template <class Extract, class Work>
    auto round(std::size_t workers, Extract&& extract, Work&& work, Replicas replicas) {
        using P = std::invoke_result_t<Extract&, std::size_t>;
        return round(workers, extract, work, replicas, static_cast<RoundMerge<P>*>(nullptr));
    }

    /// The same, rank 0 handing each package to `merges` as it is back (the MergesDuringRound hook).
    template <class Extract, class Work, class P>
    RoundResult<P> round(std::size_t workers, Extract&& extract, Work&& work, Replicas replicas, RoundMerge<P>* merges) {
        static_assert(std::is_same_v<P, std::invoke_result_t<Extract&, std::size_t>>,
                      "MpiTransport::round: `merges` must merge the packages `extract` makes");
        Session& st = *state_;
        if (!st.ready_for || *st.ready_for != workers) handshake(workers, 0, 0);
        st.begin_round();
        detail::BlasThreadsGuard blas(options_.blas_threads);
        if (sharded() && replicas == Replicas::PerRound) return shards_->round<P>(st, workers, extract, work);
        if (is_coordinator()) return coordinate_round<P>(workers, extract, work, replicas, merges);
        return take_part_in_round<P>(workers, extract, work, replicas);
    }

    /// Rank 0: blocks until every worker dropped while still working has sent its (discarded)
    /// result. Other ranks: returns at once (their work runs in the caller's thread).
    void wait_idle() { state_->wait_idle(); }

private:
    using Session = detail::mpi::Session;

    /// The session, once the handshake has fixed S (std::logic_error before it).
    Session& ready_session() {
        state_->require_ready();
        return *state_;
    }

    /// Rank 0: the library's round (coordinate_on_rank_0) over MPI, dropping stragglers where the
    /// options say so; returns the package of every worker that was not dropped.
    template <class P, class Extract, class Work>
    RoundResult<P> coordinate_round(std::size_t S, Extract& extract, Work& work, Replicas replicas, RoundMerge<P>* merges) {
        Session& st = *state_;
        // Gradient-synchronised rounds cannot lose a worker mid-step: everyone takes part and a
        // failure aborts the round, whatever the options (as with ThreadsTransport).
        const bool dropping = st.policy.dropping() && replicas == Replicas::PerRound;
        if (!dropping) st.wait_idle();
        const std::vector<char> taking_part = st.open_round();
        detail::RoundLedger<P> ledger(S, replicas);
        CoordinatorLink link{st, dropping};
        detail::Verdict verdict = detail::coordinate_on_rank_0(link, ledger, extract, work, st.reduction, taking_part, merges);
        // Each worker's seconds are its own clock's, sent with its status.
        return ledger.finish(std::move(verdict), st.outcomes, st.reduction.bytes, 0, extract);
    }

    /// Ranks 1..S-1: the library's worker round (work_on_own_rank), unless rank 0 says this worker
    /// is still busy with a round it was dropped from: then it only learns the verdict.
    template <class P, class Extract, class Work>
    RoundResult<P> take_part_in_round(std::size_t S, Extract& extract, Work& work, Replicas replicas) {
        Session& st = *state_;
        const auto me = static_cast<std::size_t>(st.channel.rank());
        detail::RoundLedger<P> ledger(S, replicas, me);
        WorkerLink link{st};
        detail::Verdict verdict;
        if (st.receive_round_start()) {
            verdict = detail::work_on_own_rank(link, ledger, extract, me, work, st.reduction, st.round);
        } else {
            verdict = link.take_verdict();
            detail::rethrow_unless_ok(verdict.outcome, me, nullptr);
        }
        return ledger.finish(std::move(verdict), {}, st.reduction.bytes, me, extract);
    }

    /// How rank 0 talks to the workers in a round (coordinate_on_rank_0's link): every wait has the
    /// channel's timeout; when `dropping`, the subnets and the results are awaited until the round
    /// timeout or the quorum, and the rest are dropped (stragglers, mpi/round.hpp).
    struct CoordinatorLink {
        Session& st;
        bool dropping;
        Session::Clock::time_point deadline{};  ///< for the results, from when the subnets are sent
        std::vector<std::vector<char>> buffers{};  ///< per worker, its subnet's bytes on their way
        std::vector<MPI_Request> sends{};          ///< per worker, their send (MPI_REQUEST_NULL: none)

        /// Worker s's subnet packed and its send posted (completed by subnets_sent).
        template <class P>
        void send_subnet(detail::RoundLedger<P>& ledger, std::size_t s) {
            if (sends.empty()) {
                buffers.resize(ledger.workers());
                sends.assign(ledger.workers(), MPI_REQUEST_NULL);
            }
            buffers[s] = detail::pack(ledger.package(s));
            sends[s] = st.channel.isend(buffers[s].data(), buffers[s].size(), static_cast<int>(s), detail::mpi::kDown);
        }

        /// With a round timeout, a worker that does not take its subnet within it is dropped.
        void subnets_sent() {
            if (dropping && st.policy.round_timeout.count() > 0)
                st.await_subnets_until(buffers, sends, Session::Clock::now() + st.policy.round_timeout);
            else st.channel.wait_all(sends, "the subnets to be taken by the workers");
            deadline = Session::Clock::now() + st.policy.round_timeout;
        }

        void settle_own(detail::Outcome outcome) { st.record_own_outcome(std::move(outcome)); }

        /// Every worker's status (dropping: until the deadline or the quorum) and, from those that
        /// succeeded, what they return (one of the wrong length ends the job, naming the worker).
        template <class P>
        void take_back(detail::RoundLedger<P>& ledger) {
            auto take = [&](int rank) {
                std::optional<std::vector<char>> arrived = st.take_package(rank, dropping ? std::optional(deadline) : std::nullopt);
                if (!arrived) return false;
                try {
                    ledger.take_back(static_cast<std::size_t>(rank), std::move(*arrived));
                } catch (const DataError& refused) {
                    st.channel.fatal(refused.what());
                }
                return true;
            };
            if (dropping) return st.gather_until(deadline, take);
            for (int k = 1; k < static_cast<int>(ledger.workers()); ++k) {
                st.await_outcome(k);
                if (st.outcomes[k]->ok()) take(k);
            }
        }

        detail::Verdict announce_verdict() { return st.announce_verdict(dropping); }
    };

    /// How a worker's rank talks to rank 0 in a round (work_on_own_rank's link).
    struct WorkerLink {
        Session& st;
        std::vector<char> take_subnet(std::size_t bytes) {
            std::vector<char> subnet(bytes);
            st.channel.receive_exact(0, detail::mpi::kDown, subnet.data(), bytes, "this worker's subnet");
            return subnet;
        }
        void send_status(const std::vector<char>& status) {
            st.channel.send(status.data(), status.size(), 0, detail::mpi::kStatus, "this worker's status");
        }
        void send_package(const std::vector<char>& package) {
            st.channel.send(package.data(), package.size(), 0, detail::mpi::kUp, "this worker's trained package");
        }
        detail::Verdict take_verdict() { return st.receive_verdict(); }
    };

    Options options_;
    std::shared_ptr<Session> state_;
    std::shared_ptr<detail::mpi::ShardedNode> shards_ = std::make_shared<detail::mpi::ShardedNode>();
};

}  // namespace ist
