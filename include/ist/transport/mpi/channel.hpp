#pragma once
// MpiTransport's wire: message tags, how a worker's outcome is encoded, the build fingerprint
// compared in the handshake, and Channel, point-to-point messages whose every wait has a
// deadline (a timeout or an MPI error prints a message naming the rank and what it waited for,
// then MPI_Abort ends the whole job: nothing hangs).
#include <mpi.h>

#include <array>
#include <chrono>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/outcome.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail::mpi {

/// A transfer MPI runs on its own bytes (MPI_Isend / MPI_Irecv); `request` turns MPI_REQUEST_NULL
/// once MPI_Test finds it complete. Moving it keeps the bytes where MPI sees them (a vector's
/// storage moves along).
struct Transfer {
    std::vector<char> bytes;
    MPI_Request request = MPI_REQUEST_NULL;
};

enum Tag : int {
    kHello = 0x1570,  // handshake record, on the user's communicator
    kWelcome,         // handshake verdict
    kDown,            // coordinator -> worker: the worker's package
    kUp,              // worker -> coordinator: the trained package (or only its scalars)
    kStatus,          // worker -> coordinator: how the local work ended
    kVerdict,         // coordinator -> worker: how the round ended
    kReduce,          // worker -> coordinator: an allreduce_mean contribution
    kResult,          // coordinator -> worker: the allreduce_mean result
    kReduceAbort,     // coordinator -> worker: the allreduce_mean was abandoned
    kAgree,           // coordinator -> worker: a decision
    kBroadcast,       // coordinator -> worker: tensors
    kRound,           // coordinator -> worker: a round starts (its number; whether the worker takes part)
    kGather,          // worker -> coordinator: tensors (error-feedback residuals for a checkpoint; shards)
    kShardDown,       // sharded node: an owner's pieces of a worker's subnet (mpi_shard.hpp)
    kShardUp,         // sharded node: a worker's trained pieces back to their owner
    kReduceChunk,     // worker -> worker: an allreduce_mean's chunk (its reduce-scatter and all-gather)
    kTagEnd
};

/// What crossed the wire at this rank, per tag (index: tag - kHello), as MPI itself counts it:
/// the count of every send posted, and MPI_Get_count of every received message's status. Tests
/// compare these with the transport's byte accounting (RoundMetrics::bytes) and the codecs' formulas.
struct WireCounters {
    static constexpr std::size_t kTags = kTagEnd - kHello + 1;  // the last counts any other tag
    std::array<std::uint64_t, kTags> sent_bytes{}, received_bytes{}, sent_messages{}, received_messages{};

    std::uint64_t sent(Tag tag) const { return sent_bytes[index(tag)]; }
    std::uint64_t received(Tag tag) const { return received_bytes[index(tag)]; }
    void clear() { *this = WireCounters{}; }

    static std::size_t index(int tag) { return tag >= kHello && tag < kTagEnd ? static_cast<std::size_t>(tag - kHello) : kTags - 1; }
};

using ist::detail::Outcome;  // how a worker's work ended (transport/outcome.hpp)

/// Identifies the build for the handshake: protocol, compiler, MPI implementation, type sizes.
inline std::uint64_t build_fingerprint() {
    Fingerprint f;
    f.add(std::string_view("ist-mpi-protocol-4"));  // 4: allreduce_mean by direct exchange between workers
#ifdef __VERSION__
    f.add(std::string_view(__VERSION__));
#endif
#ifdef OMPI_MAJOR_VERSION
    f.add(OMPI_MAJOR_VERSION).add(OMPI_MINOR_VERSION).add(OMPI_RELEASE_VERSION);
#endif
    f.add(MPI_VERSION).add(MPI_SUBVERSION).add(sizeof(void*)).add(sizeof(float)).add(sizeof(double));
    return f.value();
}

/// Point-to-point messages with a deadline: every wait polls (yielding, then sleeping briefly)
/// and ends the job with a clear message when the peer does not answer in time.
class Channel {
public:
    Channel(MPI_Comm comm, double timeout_seconds) : comm_(comm), timeout_(timeout_seconds) {
        MPI_Comm_rank(comm_, &rank_);
        MPI_Comm_size(comm_, &size_);
    }

    int rank() const { return rank_; }
    int size() const { return size_; }
    MPI_Comm comm() const { return comm_; }
    void set_comm(MPI_Comm comm) { comm_ = comm; }
    double timeout() const { return timeout_; }

    [[noreturn]] void fatal(const std::string& message) const {
        std::fprintf(stderr, "ist::MpiTransport: rank %d of %d: %s; aborting the job\n", rank_, size_, message.c_str());
        std::fflush(stderr);
        MPI_Abort(comm_, 3);
        std::abort();
    }

    void check(int rc, const char* call) const {
        if (rc == MPI_SUCCESS) return;
        char text[MPI_MAX_ERROR_STRING];
        int length = 0;
        MPI_Error_string(rc, text, &length);
        fatal(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
    }

    /// How a wait polls: backing off to a sleep of 1 ms once it has waited 0.2 s (a status, a
    /// late result), or busily (a bulk transfer, which MPI moves only inside its calls: a sleeping
    /// rank leaves both directions of its link idle).
    enum class Pace { Backoff, Busy };

    /// Polls `ready()` until it returns true or the timeout expires.
    template <class Ready>
    void poll(Ready&& ready, const std::string& what, Pace pace = Pace::Backoff) const {
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        for (;;) {
            if (ready()) return;
            const double waited = std::chrono::duration<double>(clock::now() - start).count();
            if (waited > timeout_)
                fatal("timed out after " + std::to_string(static_cast<long>(timeout_)) + " s waiting for " + what +
                      " (a rank died or stalled, or the ranks run different programs or options; "
                      "raise the timeout with IST_MPI_TIMEOUT=seconds if rounds are this slow)");
            if (waited < 2e-3 || pace == Pace::Busy) std::this_thread::yield();
            else if (waited < 0.2) std::this_thread::sleep_for(std::chrono::microseconds(50));
            else std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    void wait_all(std::vector<MPI_Request>& requests, const std::string& what, Pace pace = Pace::Backoff) const {
        if (requests.empty()) return;
        poll([&] {
            int done = 0;
            check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
                  "MPI_Testall");
            return done != 0;
        }, what, pace);
        requests.clear();
    }

    MPI_Request isend(const void* data, std::size_t bytes, int dest, int tag) const {
        MPI_Request request;
        check(MPI_Isend(data, count(bytes), MPI_BYTE, dest, tag, comm_, &request), "MPI_Isend");
        counters_.sent_bytes[WireCounters::index(tag)] += bytes;
        ++counters_.sent_messages[WireCounters::index(tag)];
        return request;
    }

    /// Posts the receive of a probed message (its size is known) into `out`, counted now.
    MPI_Request irecv(void* out, std::size_t bytes, int source, int tag) const {
        MPI_Request request;
        check(MPI_Irecv(out, count(bytes), MPI_BYTE, source, tag, comm_, &request), "MPI_Irecv");
        counters_.received_bytes[WireCounters::index(tag)] += bytes;
        ++counters_.received_messages[WireCounters::index(tag)];
        return request;
    }

    bool test(MPI_Request& request) const {
        int done = 0;
        check(MPI_Test(&request, &done, MPI_STATUS_IGNORE), "MPI_Test");
        return done != 0;
    }

    /// The bytes of every message this rank sent or received so far, per tag (see WireCounters).
    const WireCounters& counters() const { return counters_; }
    void clear_counters() { counters_.clear(); }

    void send(const void* data, std::size_t bytes, int dest, int tag, const std::string& what) const {
        std::vector<MPI_Request> request{isend(data, bytes, dest, tag)};
        wait_all(request, what + " to be taken by rank " + std::to_string(dest));
    }

    /// Coordinator: sends the same bytes to every other rank and waits until all have taken them.
    void send_to_others(const void* data, std::size_t bytes, int tag, const std::string& what) const {
        std::vector<MPI_Request> sends;
        for (int k = 1; k < size_; ++k) sends.push_back(isend(data, bytes, k, tag));
        wait_all(sends, what);
    }

    /// The tag and size of a message from `source` with one of `tags` if one is there (no wait).
    std::optional<std::pair<int, std::size_t>> try_probe(int source, std::initializer_list<int> tags) const {
        for (int t : tags) {
            int flag = 0, bytes = 0;
            MPI_Status status;
            check(MPI_Iprobe(source, t, comm_, &flag, &status), "MPI_Iprobe");
            if (flag) {
                MPI_Get_count(&status, MPI_BYTE, &bytes);
                return std::pair<int, std::size_t>{t, static_cast<std::size_t>(bytes)};
            }
        }
        return std::nullopt;
    }

    /// The receive of the next message with `tag` from `source`, posted (its length probed) if MPI
    /// shows one; none otherwise. No wait.
    std::optional<Transfer> try_post_receive(int source, int tag) const {
        const auto found = try_probe(source, {tag});
        if (!found) return std::nullopt;
        Transfer message{std::vector<char>(found->second)};
        message.request = irecv(message.bytes.data(), message.bytes.size(), source, tag);
        return std::optional<Transfer>(std::move(message));
    }

    /// Waits for the next message from `source` with one of `tags`; returns its tag and size.
    std::pair<int, std::size_t> probe(int source, std::initializer_list<int> tags, const std::string& what) const {
        std::optional<std::pair<int, std::size_t>> found;
        poll([&] { return (found = try_probe(source, tags)).has_value(); }, what + " from rank " + std::to_string(source));
        return *found;
    }

    /// Receives a probed message (its size is known) into `out`.
    void receive(int source, int tag, void* out, std::size_t bytes) const {
        MPI_Status status;
        check(MPI_Recv(out, count(bytes), MPI_BYTE, source, tag, comm_, &status), "MPI_Recv");
        int got = 0;
        check(MPI_Get_count(&status, MPI_BYTE, &got), "MPI_Get_count");
        counters_.received_bytes[WireCounters::index(tag)] += static_cast<std::uint64_t>(got);
        ++counters_.received_messages[WireCounters::index(tag)];
    }

    std::vector<char> receive(int source, int tag, const std::string& what) const {
        const auto [t, bytes] = probe(source, {tag}, what);
        std::vector<char> out(bytes);
        receive(source, t, out.data(), bytes);
        return out;
    }

    /// Receives exactly `bytes` bytes; any other size means the ranks disagree on the model.
    void receive_exact(int source, int tag, void* out, std::size_t bytes, const std::string& what) const {
        const auto [t, got] = probe(source, {tag}, what);
        if (got != bytes)
            fatal(what + " from rank " + std::to_string(source) + " has " + std::to_string(got) + " bytes, " +
                  std::to_string(bytes) + " expected: the ranks do not hold the same model");
        receive(source, t, out, bytes);
    }

private:
    int count(std::size_t bytes) const {
        if (bytes > static_cast<std::size_t>(INT_MAX))
            fatal("a message of " + std::to_string(bytes) + " bytes exceeds MPI's 2 GiB count limit");
        return static_cast<int>(bytes);
    }

    MPI_Comm comm_;
    double timeout_;
    int rank_ = 0, size_ = 1;
    mutable WireCounters counters_;  // bookkeeping only: sends and receives stay logically const
};

/// The handshake: every rank sends rank 0 its launch record (protocol, build, process count,
/// S, parameter count, configuration fingerprint); rank 0 names the first field in which each
/// rank differs and sends that verdict (empty: all agree) to every rank, which returns it.
inline std::string compare_launches(const Channel& hello, const std::uint64_t (&mine)[6]) {
    std::string verdict;
    if (hello.rank() == 0) {
        static const char* names[6] = {"protocol", "build (compiler, MPI or ist version)", "process count",
                                       "worker count S", "model parameter count", "training configuration"};
        for (int k = 1; k < hello.size(); ++k) {
            std::uint64_t theirs[6];
            hello.receive_exact(k, kHello, theirs, sizeof theirs, "the handshake");
            for (int f = 0; f < 6; ++f)
                if (theirs[f] != mine[f]) {
                    verdict += (verdict.empty() ? "" : "; ") + std::string("rank ") + std::to_string(k) +
                               " differs from rank 0 in its " + names[f];
                    if (f >= 2 && f <= 4) verdict += " (" + std::to_string(theirs[f]) + " vs " + std::to_string(mine[f]) + ")";
                    break;
                }
        }
        hello.send_to_others(verdict.data(), verdict.size(), kWelcome, "the handshake verdict to be taken");
    } else {
        hello.send(mine, sizeof mine, 0, kHello, "the handshake");
        const auto bytes = hello.receive(0, kWelcome, "the handshake verdict");
        verdict.assign(bytes.begin(), bytes.end());
    }
    return verdict;
}

inline double default_timeout() {
    if (const char* env = std::getenv("IST_MPI_TIMEOUT")) {
        char* end = nullptr;
        const double seconds = std::strtod(env, &end);
        if (end != env && seconds > 0) return seconds;
    }
    return 300.0;
}

}  // namespace ist::detail::mpi
