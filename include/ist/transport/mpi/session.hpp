#pragma once
// The state every copy of an MpiTransport shares: its channel and private communicator, and
// per round the workers' outcomes as the coordinator learns them (with the stragglers it
// dropped, see mpi/round.hpp), and allreduce_mean / allreduce_coded_mean arbitrated by the
// coordinator (transport/coordinator_reduction.hpp: summed in worker order exactly as
// ThreadsTransport sums; plain floats by direct exchange between the workers).
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/mpi/channel.hpp"
#include "ist/transport/coordinator_reduction.hpp"
#include "ist/transport/mpi/round.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail::mpi {

class Session {
public:
    using Clock = Stragglers::Clock;

    /// CoordinatorReduction's Link over this session's channel: contributions (or announced
    /// lengths), means (or the go) and aborts travel as kReduce, kResult and kReduceAbort; a worker
    /// whose status comes instead of its contribution has left the reduction. An exchange's chunks
    /// travel as kReduceChunk, every send and receive posted at once and polled busily, so that
    /// both directions of every link stay busy.
    class ReductionLink {
    public:
        explicit ReductionLink(Session& session) : s_(session) {}

        std::size_t workers() const { return static_cast<std::size_t>(s_.channel.size()); }

        template <class Inbox>
        std::optional<std::span<const char>> take_contribution(std::size_t worker, Inbox&& inbox,
                                                               std::optional<std::string>& failure) {
            const int k = static_cast<int>(worker);
            if (s_.outcomes[k]) return std::nullopt;
            const std::string sk = std::to_string(k);
            const auto [tag, got] = s_.channel.probe(k, {kReduce, kStatus}, "worker " + sk + "'s allreduce_mean contribution");
            if (tag == kStatus) {
                s_.outcomes[k] = s_.receive_status(k, got);
                if (s_.outcomes[k]->ok() && !failure)
                    failure = "allreduce_mean: worker " + sk + " finished its local work while worker 0 was still "
                              "averaging; every worker must call it the same number of times";
                return std::nullopt;
            }
            const std::span<char> received = inbox(got);
            s_.channel.receive(k, tag, received.data(), got);
            return received;
        }
        void abort(std::size_t worker) {
            s_.channel.send(nullptr, 0, static_cast<int>(worker), kReduceAbort, "an abandoned allreduce_mean");
        }
        void send_mean(std::span<const char> mean) {
            s_.channel.send_to_others(mean.data(), mean.size(), kResult, "an allreduce_mean result to be taken by the workers");
        }
        void send_contribution(std::span<const char> contribution) {
            s_.channel.send(contribution.data(), contribution.size(), 0, kReduce, "an allreduce_mean contribution");
        }
        bool take_mean(std::span<char> inbox) {
            const auto [tag, got] = s_.channel.probe(0, {kResult, kReduceAbort}, "an allreduce_mean result");
            if (tag == kReduceAbort) {
                s_.channel.receive(0, tag, nullptr, 0);
                return false;
            }
            if (got != inbox.size())
                s_.channel.fatal("allreduce_mean result of the wrong length (" + std::to_string(got) + " bytes, " +
                                 std::to_string(inbox.size()) + " expected); refused before decoding");
            s_.channel.receive(0, tag, inbox.data(), got);
            return true;
        }

        void exchange(std::span<const PeerTransfer> transfers) {
            std::vector<MPI_Request> requests;
            for (const PeerTransfer& t : transfers)
                if (!t.incoming.empty())
                    requests.push_back(s_.channel.irecv(t.incoming.data(), t.incoming.size(), static_cast<int>(t.peer), kReduceChunk));
            for (const PeerTransfer& t : transfers)
                if (!t.outgoing.empty())
                    requests.push_back(s_.channel.isend(t.outgoing.data(), t.outgoing.size(), static_cast<int>(t.peer), kReduceChunk));
            s_.channel.wait_all(requests, "the chunks of an allreduce_mean from and to the other workers",
                                Channel::Pace::Busy);
        }

    private:
        Session& s_;
    };
    using Reduction = CoordinatorReduction<ReductionLink>;

    Channel channel;
    StragglerPolicy policy;                ///< the coordinator's; the workers only follow
    std::optional<std::size_t> ready_for;  ///< S of the last successful handshake
    std::uint64_t round = 0;               ///< rounds begun, counted alike on every rank
    // Per round (coordinator): how each worker's work ended; allreduce_mean through the
    // coordinator, with its bytes (every rank).
    std::vector<std::optional<Outcome>> outcomes;
    Reduction reduction{ReductionLink(*this)};

    Session(MPI_Comm comm, double timeout_seconds) : channel(comm, timeout_seconds) {}
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (own_ != MPI_COMM_NULL && !finalized) MPI_Comm_free(&own_);
    }

    /// After a successful handshake: a private communicator whose errors return codes.
    void ready(std::size_t workers) {
        if (own_ == MPI_COMM_NULL) {
            channel.check(MPI_Comm_dup(channel.comm(), &own_), "MPI_Comm_dup");
            channel.check(MPI_Comm_set_errhandler(own_, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
            channel.set_comm(own_);
        }
        ready_for = workers;
    }
    void require_ready() const {
        if (!ready_for) throw std::logic_error("MpiTransport: handshake() must come first (IstTrainer does it)");
    }
    void begin_round() {
        ++round;
        outcomes.assign(static_cast<std::size_t>(channel.size()), std::nullopt);
        protocol_error_.reset();
        reduction.bytes = 0;
    }

    /// Coordinator: how worker 0's own work ended (a protocol error found meanwhile wins over success).
    void record_own_outcome(Outcome outcome) {
        if (outcome.ok() && protocol_error_) outcome = *protocol_error_;
        outcomes[0] = std::move(outcome);
    }

    /// Coordinator: receives worker k's status. A worker still in allreduce_mean (worker 0
    /// failed, or k calls it more often) is told the reduction is abandoned.
    void await_outcome(int k) {
        channel.poll([&] { return poll_outcome(k); }, "worker " + std::to_string(k) + "'s status from rank " + std::to_string(k));
    }

    /// Coordinator: takes what worker k sent, if anything (no wait); true once its status is in.
    bool poll_outcome(int k) {
        if (outcomes[k]) return true;
        const auto found = channel.try_probe(k, {kStatus, kReduce});
        if (!found) return false;
        const auto [tag, bytes] = *found;
        if (tag == kStatus) outcomes[k] = receive_status(k, bytes);
        else abandon_contribution(k, bytes);
        return outcomes[k].has_value();
    }

    /// Coordinator, dropping stragglers: takes the statuses of workers 1..S-1 not settled yet
    /// (`take(k)` receives a successful worker's package, false if it came too late) until all are in, `policy.quorum`
    /// workers (worker 0 included) have succeeded, or `deadline` passes. The rest are dropped.
    /// Worker 0 ran first, in this thread, so it is never late; what arrived meanwhile counts,
    /// as ThreadsTransport keeps every worker done when it closes a round.
    template <class Take>
    void gather_until(Clock::time_point deadline, Take&& take) {
        std::size_t succeeded = outcomes[0]->ok() ? 1 : 0, quiet_passes = 0;
        const bool timed = policy.round_timeout.count() > 0;
        channel.poll([&] {
            stragglers_.drain(channel);
            bool pending = false, took = false;
            for (int k = 1; k < channel.size(); ++k) {
                if (outcomes[k]) continue;
                if (!poll_outcome(k)) {
                    pending = true;
                    continue;
                }
                took = true;
                if (outcomes[k]->ok() && take(k)) ++succeeded;
            }
            quiet_passes = took ? 0 : quiet_passes + 1;
            const bool enough = (policy.quorum && succeeded >= policy.quorum) || (timed && Clock::now() >= deadline);
            // An MPI probe sees a message only once MPI has progressed it (the first probe after
            // a while without MPI calls often does not): stop only after a few quiet passes.
            return !pending || (enough && quiet_passes >= kSettlingPasses);
        }, "the workers' results");
        for (int k = 1; k < channel.size(); ++k)
            if (!outcomes[k]) {
                outcomes[k] = Outcome::dropped(k, "did not return in time", round);
                stragglers_.mark(static_cast<std::size_t>(k), round);
            }
    }

    /// Coordinator, dropping with a round timeout: waits until `deadline` for the workers to
    /// take their subnets (`sends[k]`, posted on `bytes[k]`; MPI_REQUEST_NULL where none was
    /// sent). A worker that has not taken its subnet by then (its link is down or slow) is dropped
    /// from the round as late: it trains once the subnet arrives, and that result is discarded.
    void await_subnets_until(std::vector<std::vector<char>>& bytes, std::vector<MPI_Request>& sends,
                             Clock::time_point deadline) {
        poll_until(deadline, [&] {
            bool all = true;
            for (MPI_Request& send : sends) all = channel.test(send) && all;  // tests every one: progress
            return all;
        }, "the subnets to be taken by the workers");
        for (std::size_t k = 1; k < sends.size(); ++k) {
            if (sends[k] == MPI_REQUEST_NULL) continue;  // taken (MPI_Test resets a completed request)
            outcomes[k] = Outcome::dropped(k, "did not take its subnet in time", round);
            stragglers_.mark(k, round);
            stragglers_.adopt(Transfer{std::move(bytes[k]), sends[k]});
        }
    }

    /// Coordinator: worker k's trained package, once its successful status is in. Without a
    /// `deadline` (a round that drops nobody) or a round timeout it is awaited (up to the
    /// channel's timeout). Otherwise it has until `deadline` or round_timeout after its status,
    /// whichever is later: one not in by then (a link went down mid-transfer) drops the worker
    /// and is received in the background.
    std::optional<std::vector<char>> take_package(int k, std::optional<Clock::time_point> deadline) {
        const std::string what = "worker " + std::to_string(k) + "'s trained package";
        if (!deadline || policy.round_timeout.count() == 0) return channel.receive(k, kUp, what);
        const auto until = std::max(*deadline, Clock::now() + policy.round_timeout);
        std::optional<Transfer> package;
        poll_until(until, [&] {
            if (!package) package = channel.try_post_receive(k, kUp);
            return package && channel.test(package->request);
        }, what);
        if (package && package->request == MPI_REQUEST_NULL) return std::move(package->bytes);
        outcomes[k] = Outcome::dropped(k, "its trained package did not arrive in time", round);
        if (package) stragglers_.adopt(std::move(*package));
        else stragglers_.mark_owing_package(static_cast<std::size_t>(k), round);
        return std::nullopt;
    }

    /// Coordinator: a round starts. Late results that came in meanwhile are discarded; a worker
    /// still busy with a round it was dropped from sits this one out. Every worker learns which.
    /// Returns, per worker, whether it takes part.
    std::vector<char> open_round() {
        stragglers_.drain(channel);
        std::vector<char> taking(outcomes.size(), 1);
        std::vector<std::vector<char>> starts(outcomes.size());
        for (std::size_t k = 1; k < outcomes.size(); ++k) {
            taking[k] = !stragglers_.late(k);
            if (!taking[k]) outcomes[k] = Outcome::still_busy(k, round);
            const RoundStart start{round, static_cast<std::uint64_t>(taking[k])};
            starts[k].assign(reinterpret_cast<const char*>(&start), reinterpret_cast<const char*>(&start) + sizeof start);
        }
        stragglers_.send_each(channel, std::vector<std::span<const char>>(starts.begin(), starts.end()), kRound,
                              "the round's start to be taken by the workers");
        return taking;
    }

    /// Worker: the round's start from the coordinator; false if this worker sits the round out.
    bool receive_round_start() {
        RoundStart start;
        channel.receive_exact(0, kRound, &start, sizeof start, "the round's start");
        if (start.round != round)
            channel.fatal("the coordinator started round " + std::to_string(start.round) + " while this rank is in round " +
                          std::to_string(round) + " (the ranks run different programs)");
        return start.takes_part != 0;
    }

    /// Worker: the round's verdict from the coordinator.
    Verdict receive_verdict() {
        const std::vector<char> bytes = channel.receive(0, kVerdict, "the round's verdict");
        Verdict verdict;
        if (!Verdict::decode(bytes, verdict) || verdict.outcome.round != round)
            channel.fatal("the round's verdict is malformed or not this round's (" + std::to_string(round) + ")");
        return verdict;
    }

    /// Coordinator: blocks until every dropped worker's late result is in and every message
    /// parked for a straggler has been taken (a rank silent for timeout_seconds ends the job).
    void wait_idle() {
        if (channel.rank() != 0) return;
        channel.poll([&] { return stragglers_.settled(channel); }, "the late results of dropped workers");
    }

    /// Coordinator: the same bytes to every worker; waits until all but the stragglers took them.
    void send_to_workers(const void* data, std::size_t bytes, int tag, const std::string& what) {
        const std::span<const char> message(static_cast<const char*>(data), bytes);
        stragglers_.send_each(channel, std::vector<std::span<const char>>(static_cast<std::size_t>(channel.size()), message),
                              tag, what);
    }

    /// Coordinator, once every status is in: the round's verdict (judge, every transport's failure
    /// policy; a protocol error found meanwhile counts as worker 0's failure), sent to every worker.
    Verdict announce_verdict(bool dropping) {
        if (protocol_error_ && outcomes[0]->ok()) outcomes[0] = *protocol_error_;
        const Verdict verdict = judge(outcomes, dropping, round);
        const std::vector<char> encoded = verdict.encode();
        send_to_workers(encoded.data(), encoded.size(), kVerdict, "the round's verdict to be taken by the workers");
        return verdict;
    }

private:
    static constexpr std::size_t kSettlingPasses = 4;

    /// Polls `ready()` until it holds, or `deadline` has passed and a few more passes found it
    /// still false (MPI progresses what arrived meanwhile only inside its calls).
    template <class Ready>
    void poll_until(Clock::time_point deadline, Ready&& ready, const std::string& what) const {
        std::size_t passes_past_deadline = 0;
        channel.poll([&] {
            if (ready()) return true;
            if (Clock::now() >= deadline) ++passes_past_deadline;
            return passes_past_deadline >= kSettlingPasses;
        }, what);
    }

    /// Worker k's status, which must be this round's (a straggler's late one goes to Stragglers).
    Outcome receive_status(int k, std::size_t bytes) const {
        std::vector<char> message(bytes);
        channel.receive(k, kStatus, message.data(), bytes);
        Outcome outcome = Outcome::decode(message);
        if (outcome.round != round)
            channel.fatal("worker " + std::to_string(k) + " sent its status of round " + std::to_string(outcome.round) +
                          " in round " + std::to_string(round) + " (the ranks run different programs)");
        return outcome;
    }

    /// A contribution to an allreduce_mean the coordinator is not in: the worker is told it is
    /// abandoned, and unless worker 0 failed that is a protocol error (k calls it more often).
    void abandon_contribution(int k, std::size_t bytes) {
        std::vector<char> contribution(bytes);
        channel.receive(k, kReduce, contribution.data(), bytes);
        if (outcomes[0] && outcomes[0]->ok() && !protocol_error_)
            protocol_error_ = Outcome{ErrorKind::Logic, 0,
                "allreduce_mean: worker " + std::to_string(k) + " called it more often than worker 0; every "
                "worker must call it the same number of times"};
        channel.send(nullptr, 0, k, kReduceAbort, "an abandoned allreduce_mean");
    }

    Stragglers stragglers_;  ///< coordinator: workers dropped while still working
    MPI_Comm own_ = MPI_COMM_NULL;
    std::optional<Outcome> protocol_error_;
};

}  // namespace ist::detail::mpi
