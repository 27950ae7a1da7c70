#pragma once
// MpiTransport's round protocol beyond the subnets themselves: the word that opens a round for
// each worker, when the coordinator stops waiting (StragglerPolicy), and the sends to stragglers
// that it does not wait for (the verdict that closes a round is every transport's: outcome.hpp). Stragglers (IST: Yuan et al. 2019; the threads transport does
// the same in-process) are dropped for the round and rejoin once their late result is in.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ist/transport/mpi/channel.hpp"

namespace ist::detail::mpi {

/// Coordinator -> worker, first message of every round: which round (every rank counts its
/// rounds and checks) and whether the worker takes part or sits out (still busy, as far as the
/// coordinator knows, with a round it was dropped from).
struct RoundStart {
    std::uint64_t round = 0;
    std::uint64_t takes_part = 1;
};

/// When a round stops waiting for workers (MpiTransport::Options; the same as ThreadsTransport's).
struct StragglerPolicy {
    std::chrono::milliseconds round_timeout{0};  ///< 0 = no deadline
    std::size_t quorum = 0;                      ///< 0 = all
    bool drop_failed_workers = false;
    bool dropping() const { return drop_failed_workers || round_timeout.count() > 0 || quorum > 0; }
};

/// Coordinator: transfers the round has stopped waiting for: messages to a straggler, which takes
/// them only once it has caught up, and the late packages of dropped workers. Each keeps its own
/// bytes until MPI is done with them; they are checked off as they complete.
class ParkedRequests {
public:
    ParkedRequests() = default;
    ParkedRequests(const ParkedRequests&) = delete;
    ParkedRequests& operator=(const ParkedRequests&) = delete;
    /// Transfers still pending when the transport goes away (only after a failure: train() waits
    /// for every straggler): MPI may still use their buffers, so those are leaked, not freed.
    ~ParkedRequests() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        for (auto& p : parked_)
            if (!finalized && p.request != MPI_REQUEST_NULL) MPI_Request_free(&p.request);
        if (!parked_.empty()) new std::list<Transfer>(std::move(parked_));  // NOLINT: deliberately leaked
    }

    void post(const Channel& channel, const void* data, std::size_t bytes, int rank, int tag) {
        Transfer copy{std::vector<char>(static_cast<const char*>(data), static_cast<const char*>(data) + bytes)};
        copy.request = channel.isend(copy.bytes.data(), copy.bytes.size(), rank, tag);
        adopt(std::move(copy));
    }

    /// A transfer already posted.
    void adopt(Transfer&& transfer) { parked_.push_back(std::move(transfer)); }

    /// Forgets the transfers that have completed; true when none is left.
    bool reap(const Channel& channel) {
        for (auto it = parked_.begin(); it != parked_.end();)
            it = channel.test(it->request) ? parked_.erase(it) : std::next(it);
        return parked_.empty();
    }

private:
    std::list<Transfer> parked_;
};

/// Coordinator: the workers dropped while still working (stragglers). Their late results are
/// received and dropped as they come in; messages to them are parked until they catch up.
class Stragglers {
public:
    using Clock = std::chrono::steady_clock;

    bool late(std::size_t k) const { return k < late_.size() && late_[k]; }
    bool none() const { return std::none_of(late_.begin(), late_.end(), [](const auto& l) { return l.has_value(); }); }

    /// Worker k, dropped from `round` as late, is still working.
    void mark(std::size_t k, std::uint64_t round) { mark(k, Late{round, Clock::now(), false}); }

    /// Worker k, dropped from `round` although its status is in: its package has not shown up yet.
    void mark_owing_package(std::size_t k, std::uint64_t round) { mark(k, Late{round, Clock::now(), true}); }

    /// A transfer the round stopped waiting for (see ParkedRequests).
    void adopt(Transfer&& transfer) { parked_.adopt(std::move(transfer)); }

    /// Takes the late results that have come in (no wait): the status, which must be of the
    /// round the worker was dropped from, and the package that follows it (received in the
    /// background and discarded). A contribution to an allreduce_mean the round has left behind
    /// is answered as abandoned. A straggler silent for the channel's timeout ends the job.
    void drain(const Channel& channel) {
        for (std::size_t k = 1; k < late_.size(); ++k) {
            if (!late_[k]) continue;
            const std::string sk = std::to_string(k);
            if (std::chrono::duration<double>(Clock::now() - late_[k]->since).count() > channel.timeout())
                channel.fatal("timed out after " + std::to_string(static_cast<long>(channel.timeout())) +
                              " s waiting for the late result of worker " + sk + " (dropped from round " +
                              std::to_string(late_[k]->round) + ") from rank " + sk +
                              " (a rank died or stalled; raise the timeout with IST_MPI_TIMEOUT=seconds)");
            if (!late_[k]->status_in && !take_late_status(channel, k)) continue;
            if (take_late_package(channel, k)) late_[k].reset();
        }
        parked_.reap(channel);
    }

    /// `messages[k]` to worker k for k >= 1; waits until all but the stragglers took theirs
    /// (those are parked: a straggler takes them when it has caught up).
    void send_each(const Channel& channel, const std::vector<std::span<const char>>& messages, int tag,
                   const std::string& what) {
        std::vector<MPI_Request> sends;
        for (std::size_t k = 1; k < messages.size(); ++k) {
            const int rank = static_cast<int>(k);
            if (late(k)) parked_.post(channel, messages[k].data(), messages[k].size(), rank, tag);
            else sends.push_back(channel.isend(messages[k].data(), messages[k].size(), rank, tag));
        }
        channel.wait_all(sends, what);
        parked_.reap(channel);
    }

    /// Whether every straggler has sent its late result and taken what was parked for it.
    bool settled(const Channel& channel) {
        drain(channel);
        return none() && parked_.reap(channel);
    }

private:
    struct Late {
        std::uint64_t round;      ///< the round it was dropped from
        Clock::time_point since;  ///< when
        bool status_in;           ///< its status has come; its package has not
    };

    void mark(std::size_t k, Late late) {
        late_.resize(std::max(late_.size(), k + 1));
        late_[k] = late;
    }

    /// Worker k's late status if it is in; true if it succeeded (a package follows). A failed
    /// worker sends none, and is done.
    bool take_late_status(const Channel& channel, std::size_t k) {
        const int rank = static_cast<int>(k);
        const std::string sk = std::to_string(k);
        const auto found = channel.try_probe(rank, {kStatus, kReduce});
        if (!found) return false;
        std::vector<char> message(found->second);
        channel.receive(rank, found->first, message.data(), message.size());
        if (found->first == kReduce) {
            channel.send(nullptr, 0, rank, kReduceAbort, "an abandoned allreduce_mean");
            return false;
        }
        const Outcome outcome = Outcome::decode(message);
        if (outcome.round != late_[k]->round)
            channel.fatal("worker " + sk + " sent its status of round " + std::to_string(outcome.round) +
                          " where round " + std::to_string(late_[k]->round) + "'s was due (the ranks run different programs)");
        if (!outcome.ok()) late_[k].reset();
        else late_[k]->status_in = true;
        return outcome.ok();
    }

    /// Worker k's late package, once MPI shows it: its receive is posted and parked, never
    /// waited for (the link it comes over may go down again).
    bool take_late_package(const Channel& channel, std::size_t k) {
        std::optional<Transfer> package = channel.try_post_receive(static_cast<int>(k), kUp);
        if (package) parked_.adopt(std::move(*package));
        return package.has_value();
    }

    std::vector<std::optional<Late>> late_;
    ParkedRequests parked_;
};

}  // namespace ist::detail::mpi
