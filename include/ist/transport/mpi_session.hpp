#pragma once
// The state every copy of an MpiTransport shares: its channel and private communicator, and
// per round the workers' outcomes as the coordinator learns them, and allreduce_mean through
// the coordinator (summed in worker order exactly as ThreadsTransport sums).
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/mpi_channel.hpp"
#include "ist/transport/ordered_mean.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail::mpi {

class Session {
public:
    Channel channel;
    std::optional<std::size_t> ready_for;  ///< S of the last successful handshake
    // Per round (coordinator): how each worker's work ended; allreduce bytes (every rank).
    std::vector<std::optional<Outcome>> outcomes;
    std::uint64_t reduced_bytes = 0;

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
        outcomes.assign(static_cast<std::size_t>(channel.size()), std::nullopt);
        protocol_error_.reset();
        reduced_bytes = 0;
    }

    /// Coordinator: how worker 0's own work ended (a protocol error found meanwhile wins over success).
    void record_own_outcome(Outcome outcome) {
        if (outcome.ok() && protocol_error_) outcome = *protocol_error_;
        outcomes[0] = std::move(outcome);
    }

    /// Coordinator: receives worker k's status. A worker still in allreduce_mean (worker 0
    /// failed, or k calls it more often) is told the reduction is abandoned.
    void await_outcome(int k) {
        while (!outcomes[k]) {
            const auto [tag, bytes] = channel.probe(k, {kStatus, kReduce}, "worker " + std::to_string(k) + "'s status");
            if (tag == kStatus) {
                outcomes[k] = receive_status(k, bytes);
                continue;
            }
            std::vector<char> contribution(bytes);
            channel.receive(k, tag, contribution.data(), bytes);
            if (outcomes[0] && outcomes[0]->ok() && !protocol_error_)
                protocol_error_ = Outcome{ErrorKind::Logic, 0,
                    "allreduce_mean: worker " + std::to_string(k) + " called it more often than worker 0; every "
                    "worker must call it the same number of times"};
            channel.send(nullptr, 0, k, kReduceAbort, "an abandoned allreduce_mean");
        }
    }

    /// Coordinator, once every status is in: the round's verdict (ok, or the error it ends
    /// with), sent to every worker.
    Outcome announce_verdict() {
        if (protocol_error_ && outcomes[0]->ok()) outcomes[0] = *protocol_error_;
        std::vector<ErrorKind> kinds;
        for (const auto& o : outcomes) kinds.push_back(o->kind);
        const auto deciding = deciding_failure(kinds);
        const Outcome verdict = deciding ? *outcomes[*deciding] : Outcome{};
        const std::vector<char> encoded = verdict.encode();
        channel.send_to_others(encoded.data(), encoded.size(), kVerdict, "the round's verdict to be taken by the workers");
        return verdict;
    }

    /// Element-wise mean over the workers (one per rank) through the coordinator (see OrderedMean).
    void allreduce_mean(std::size_t worker, std::span<float> data) {
        if (worker == 0) reduce(static_cast<std::size_t>(channel.size()), data);
        else contribute(data);
    }

private:
    /// What the coordinator learnt while gathering one allreduce_mean's contributions.
    struct Gathering {
        std::vector<int> contributed;
        std::optional<std::string> failure;
        bool abandoned = false;
    };

    Outcome receive_status(int k, std::size_t bytes) const {
        std::vector<char> message(bytes);
        channel.receive(k, kStatus, message.data(), bytes);
        return Outcome::decode(message);
    }

    /// A worker's side: send the contribution, wait for the mean (or the news that it was abandoned).
    void contribute(std::span<float> data) {
        const std::size_t bytes = data.size_bytes();
        channel.send(data.data(), bytes, 0, kReduce, "an allreduce_mean contribution");
        const auto [tag, got] = channel.probe(0, {kResult, kReduceAbort}, "an allreduce_mean result");
        if (tag == kReduceAbort) {
            channel.receive(0, tag, nullptr, 0);
            throw RoundAborted("round aborted: another worker failed");
        }
        if (got != bytes) channel.fatal("allreduce_mean result of the wrong length");
        channel.receive(0, tag, data.data(), bytes);
        reduced_bytes += bytes;
    }

    /// The coordinator's side: add the contributions in worker order, send the mean back.
    void reduce(std::size_t workers, std::span<float> data) {
        const std::size_t bytes = data.size_bytes();
        sum_.resize(data.size());
        OrderedMean mean(sum_);
        mean.add(data);
        Gathering gathering;
        for (std::size_t k = 1; k < workers; ++k) gather(static_cast<int>(k), bytes, mean, gathering);
        if (gathering.abandoned) {
            for (int k : gathering.contributed) channel.send(nullptr, 0, k, kReduceAbort, "an abandoned allreduce_mean");
            if (gathering.failure) throw std::logic_error(*gathering.failure);
            throw RoundAborted("round aborted: another worker failed");
        }
        mean.finish(data);
        channel.send_to_others(data.data(), bytes, kResult, "an allreduce_mean result to be taken by the workers");
        reduced_bytes += bytes;
    }

    /// Takes worker k's contribution, added unless the reduction is already abandoned. A status
    /// instead (k failed or finished its work) abandons it.
    void gather(int k, std::size_t bytes, OrderedMean& mean, Gathering& g) {
        const std::string sk = std::to_string(k);
        if (outcomes[k]) {
            g.abandoned = true;
            return;
        }
        const auto [tag, got] = channel.probe(k, {kReduce, kStatus}, "worker " + sk + "'s allreduce_mean contribution");
        if (tag == kStatus) {
            outcomes[k] = receive_status(k, got);
            if (outcomes[k]->ok() && !g.failure)
                g.failure = "allreduce_mean: worker " + sk + " finished its local work while worker 0 was still "
                            "averaging; every worker must call it the same number of times";
            g.abandoned = true;
            return;
        }
        scratch_.resize(std::max(scratch_.size(), got / sizeof(float) + 1));
        channel.receive(k, tag, scratch_.data(), got);
        g.contributed.push_back(k);
        if (got != bytes) {
            if (!g.failure) g.failure = "allreduce_mean: workers passed buffers of different lengths";
            g.abandoned = true;
        }
        if (!g.abandoned) mean.add(std::span<const float>(scratch_.data(), bytes / sizeof(float)));
    }

    MPI_Comm own_ = MPI_COMM_NULL;
    std::optional<Outcome> protocol_error_;
    std::vector<float> sum_, scratch_;
};

}  // namespace ist::detail::mpi
