#pragma once
// MpiTransport: one IST worker per MPI rank. Rank 0 is the parameter node: it holds the full
// model, is also worker 0, cuts the subnets, sends each worker its own, gets it back and merges.
// MpiEnvironment: MPI_Init_thread / MPI_Finalize for the lifetime of a scope.
//
// Link ist::mpi (CMake) to use this header; nothing else in ist needs MPI. See docs/cluster.md.
//
// What crosses the network per round (count_exchange = true, IST and local SGD): rank 0 sends
// worker s its package (subnet tensors + scalars) and gets it back; nothing else but a few
// status bytes. Data parallel (count_exchange = false): replicas persist on every rank, so no
// model travels; gradients are averaged through rank 0 every step (allreduce_mean), summing
// workers 0..S-1 in order so the result is bit-identical to ThreadsTransport.
//
// Failure behaviour: every wait polls with a timeout (Options::timeout_seconds, environment
// IST_MPI_TIMEOUT); a timeout or an MPI error prints a message naming the rank and what it
// waited for, then MPI_Abort ends the whole job. An exception in a worker's local work is sent
// to rank 0 and rethrown on every rank (same type for ist's errors, same message), so a failing
// round throws everywhere and leaves the model as it was, exactly as in-process.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/blas_threads.hpp"
#include "ist/transport/threads.hpp"
#include "ist/transport/transport.hpp"

namespace ist {

/// MPI for the lifetime of a scope: MPI_Init_thread on construction (unless MPI is already
/// initialised, in which case it does nothing), MPI_Finalize on destruction. Destroyed during
/// stack unwinding it calls MPI_Abort instead, since the other ranks may be waiting for this one.
class MpiEnvironment {
public:
    MpiEnvironment() : MpiEnvironment(nullptr, nullptr) {}
    MpiEnvironment(int& argc, char**& argv) : MpiEnvironment(&argc, &argv) {}
    MpiEnvironment(int* argc, char*** argv, int required = MPI_THREAD_FUNNELED) {
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (initialised) {
            MPI_Query_thread(&provided_);
            return;
        }
        if (MPI_Init_thread(argc, argv, required, &provided_) != MPI_SUCCESS)
            throw std::runtime_error("MpiEnvironment: MPI_Init_thread failed");
        owner_ = true;
        uncaught_ = std::uncaught_exceptions();
    }
    MpiEnvironment(const MpiEnvironment&) = delete;
    MpiEnvironment& operator=(const MpiEnvironment&) = delete;
    ~MpiEnvironment() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!owner_ || finalized) return;
        if (std::uncaught_exceptions() > uncaught_) {
            std::fprintf(stderr, "ist: rank %d is unwinding an exception; aborting the MPI job\n", rank());
            std::fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        MPI_Finalize();
    }

    static int rank() {
        int r = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
        return r;
    }
    static int size() {
        int n = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &n);
        return n;
    }
    int thread_level() const { return provided_; }

    /// Prints `message` (prefixed with the rank) to stderr and ends every process of the job.
    [[noreturn]] static void abort(const std::string& message, int code = 1) {
        std::fprintf(stderr, "[rank %d] %s\n", rank(), message.c_str());
        std::fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
        std::abort();
    }

private:
    bool owner_ = false;
    int provided_ = 0;
    int uncaught_ = 0;
};

namespace detail::mpi {

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
};

/// How a worker's local work ended; `code` picks the exception type rethrown on every rank.
struct Outcome {
    enum Code : std::int32_t { Ok = 0, Aborted, Training, Config, Data, Logic, Other };
    std::int32_t code = Ok;
    std::int32_t worker = 0;
    std::string message;

    bool ok() const { return code == Ok; }

    static Outcome from(std::exception_ptr error, std::size_t worker) {
        Outcome o{Other, static_cast<std::int32_t>(worker), "unknown exception"};
        try { std::rethrow_exception(error); }
        catch (const RoundAborted& e) { o.code = Aborted, o.message = e.what(); }
        catch (const TrainingError& e) { o.code = Training, o.message = e.what(); }
        catch (const ConfigError& e) { o.code = Config, o.message = e.what(); }
        catch (const DataError& e) { o.code = Data, o.message = e.what(); }
        catch (const std::logic_error& e) { o.code = Logic, o.message = e.what(); }
        catch (const std::exception& e) { o.code = Other, o.message = e.what(); }
        catch (...) {}
        return o;
    }

    [[noreturn]] void rethrow() const {
        switch (code) {
            case Aborted: throw RoundAborted(message);
            case Training: throw TrainingError(message);
            case Config: throw ConfigError(message);
            case Data: throw DataError(message);
            case Logic: throw std::logic_error(message);
            default: throw std::runtime_error(message);
        }
    }

    std::vector<char> encode() const {
        std::vector<char> out(2 * sizeof(std::int32_t) + message.size());
        std::memcpy(out.data(), &code, sizeof code);
        std::memcpy(out.data() + sizeof code, &worker, sizeof worker);
        std::memcpy(out.data() + 2 * sizeof code, message.data(), message.size());
        return out;
    }
    static Outcome decode(const std::vector<char>& in) {
        Outcome o;
        if (in.size() < 2 * sizeof(std::int32_t)) return {Other, 0, "malformed status message"};
        std::memcpy(&o.code, in.data(), sizeof o.code);
        std::memcpy(&o.worker, in.data() + sizeof o.code, sizeof o.worker);
        o.message.assign(in.data() + 2 * sizeof o.code, in.size() - 2 * sizeof o.code);
        return o;
    }
};

/// Identifies the build for the handshake: protocol, compiler, MPI implementation, type sizes.
inline std::uint64_t build_fingerprint() {
    Fingerprint f;
    f.add(std::string_view("ist-mpi-protocol-1"));
#ifdef __VERSION__
    f.add(std::string_view(__VERSION__));
#endif
#ifdef OMPI_MAJOR_VERSION
    f.add(OMPI_MAJOR_VERSION).add(OMPI_MINOR_VERSION).add(OMPI_RELEASE_VERSION);
#endif
    f.add(MPI_VERSION).add(MPI_SUBVERSION).add(sizeof(void*)).add(sizeof(float)).add(sizeof(double));
    return f.value();
}

/// Package <-> contiguous bytes: every tensor's floats in order, then the scalars.
template <class P>
std::size_t packed_size(P& p, bool with_tensors = true) {
    std::size_t n = 0;
    if (with_tensors)
        for (const Tensor* t : p.tensors()) n += t->size() * sizeof(float);
    return n + std::span<double>(p.scalars()).size() * sizeof(double);
}

template <class P>
std::vector<char> pack(P& p, bool with_tensors = true) {
    std::vector<char> out(packed_size(p, with_tensors));
    char* at = out.data();
    if (with_tensors)
        for (const Tensor* t : p.tensors()) {
            std::memcpy(at, t->data(), t->size() * sizeof(float));
            at += t->size() * sizeof(float);
        }
    const std::span<double> scalars(p.scalars());
    if (!scalars.empty()) std::memcpy(at, scalars.data(), scalars.size() * sizeof(double));
    return out;
}

template <class P>
void unpack(P& p, const std::vector<char>& in, bool with_tensors = true) {
    const char* at = in.data();
    if (with_tensors)
        for (Tensor* t : p.tensors()) {
            std::memcpy(t->data(), at, t->size() * sizeof(float));
            at += t->size() * sizeof(float);
        }
    const std::span<double> scalars(p.scalars());
    if (!scalars.empty()) std::memcpy(scalars.data(), at, scalars.size() * sizeof(double));
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

    /// Polls `ready()` until it returns true or the timeout expires.
    template <class Ready>
    void poll(Ready&& ready, const std::string& what) const {
        using clock = std::chrono::steady_clock;
        const auto start = clock::now();
        for (;;) {
            if (ready()) return;
            const double waited = std::chrono::duration<double>(clock::now() - start).count();
            if (waited > timeout_)
                fatal("timed out after " + std::to_string(static_cast<long>(timeout_)) + " s waiting for " + what +
                      " (a rank died or stalled, or the ranks run different programs or options; "
                      "raise the timeout with IST_MPI_TIMEOUT=seconds if rounds are this slow)");
            if (waited < 2e-3) std::this_thread::yield();
            else if (waited < 0.2) std::this_thread::sleep_for(std::chrono::microseconds(50));
            else std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }

    void wait_all(std::vector<MPI_Request>& requests, const std::string& what) const {
        if (requests.empty()) return;
        poll([&] {
            int done = 0;
            check(MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
                  "MPI_Testall");
            return done != 0;
        }, what);
        requests.clear();
    }

    MPI_Request isend(const void* data, std::size_t bytes, int dest, int tag) const {
        MPI_Request request;
        check(MPI_Isend(data, count(bytes), MPI_BYTE, dest, tag, comm_, &request), "MPI_Isend");
        return request;
    }

    void send(const void* data, std::size_t bytes, int dest, int tag, const std::string& what) const {
        std::vector<MPI_Request> request{isend(data, bytes, dest, tag)};
        wait_all(request, what + " to be taken by rank " + std::to_string(dest));
    }

    /// Waits for the next message from `source` with one of `tags`; returns its tag and size.
    std::pair<int, std::size_t> probe(int source, std::initializer_list<int> tags, const std::string& what) const {
        int tag = -1, bytes = 0;
        poll([&] {
            for (int t : tags) {
                int flag = 0;
                MPI_Status status;
                check(MPI_Iprobe(source, t, comm_, &flag, &status), "MPI_Iprobe");
                if (flag) {
                    tag = t;
                    MPI_Get_count(&status, MPI_BYTE, &bytes);
                    return true;
                }
            }
            return false;
        }, what + " from rank " + std::to_string(source));
        return {tag, static_cast<std::size_t>(bytes)};
    }

    /// Receives a probed message (its size is known) into `out`.
    void receive(int source, int tag, void* out, std::size_t bytes) const {
        check(MPI_Recv(out, count(bytes), MPI_BYTE, source, tag, comm_, MPI_STATUS_IGNORE), "MPI_Recv");
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
};

inline double default_timeout() {
    if (const char* env = std::getenv("IST_MPI_TIMEOUT")) {
        char* end = nullptr;
        const double seconds = std::strtod(env, &end);
        if (end != env && seconds > 0) return seconds;
    }
    return 300.0;
}

}  // namespace detail::mpi

/// One worker per MPI rank; rank 0 holds the full model (the parameter node) and is worker 0.
/// Copies share one state (communicator, handshake), so passing it by value is fine.
class MpiTransport {
public:
    struct Options {
        MPI_Comm comm = MPI_COMM_WORLD;
        double timeout_seconds = detail::mpi::default_timeout();  ///< longest wait for any message
        int blas_threads = 1;  ///< OpenBLAS threads during a round (as ThreadsTransport); 0 = unchanged
    };

    MpiTransport() : MpiTransport(Options{}) {}
    explicit MpiTransport(Options options) : options_(options) {
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (!initialised)
            throw ConfigError("MpiTransport: MPI is not initialised; create an ist::MpiEnvironment first");
        detail::require(options.timeout_seconds > 0, "MpiTransport: timeout_seconds must be positive");
        state_ = std::make_shared<State>(options);
    }

    bool is_coordinator() const { return state_->channel.rank() == 0; }
    int rank() const { return state_->channel.rank(); }
    int size() const { return state_->channel.size(); }
    const Options& options() const { return options_; }

    /// Checks that this launch can run S workers (np == S on every rank: a ConfigError naming
    /// both otherwise) and that every rank runs the same build, model size and configuration.
    void handshake(std::size_t workers, std::uint64_t parameters, std::uint64_t config) {
        State& st = *state_;
        const int np = st.channel.size();
        if (workers != static_cast<std::size_t>(np))
            throw ConfigError("MpiTransport: S = " + std::to_string(workers) + " workers but the MPI job has np = " +
                              std::to_string(np) + " processes; MpiTransport runs one worker per rank, so launch "
                              "with mpirun -np " + std::to_string(workers) + " (or use S = " + std::to_string(np) + ")");
        detail::mpi::Channel hello(options_.comm, options_.timeout_seconds);
        const std::uint64_t mine[6] = {0x15717a11u, detail::mpi::build_fingerprint(), static_cast<std::uint64_t>(np),
                                       workers, parameters, config};
        std::string verdict;
        if (st.channel.rank() == 0) {
            static const char* names[6] = {"protocol", "build (compiler, MPI or ist version)", "process count",
                                           "worker count S", "model parameter count", "training configuration"};
            for (int k = 1; k < np; ++k) {
                std::uint64_t theirs[6];
                hello.receive_exact(k, detail::mpi::kHello, theirs, sizeof theirs, "the handshake");
                for (int f = 0; f < 6; ++f)
                    if (theirs[f] != mine[f]) {
                        verdict += (verdict.empty() ? "" : "; ") + std::string("rank ") + std::to_string(k) +
                                   " differs from rank 0 in its " + names[f];
                        if (f >= 2 && f <= 4) verdict += " (" + std::to_string(theirs[f]) + " vs " + std::to_string(mine[f]) + ")";
                        break;
                    }
            }
            std::vector<MPI_Request> sends;
            for (int k = 1; k < np; ++k) sends.push_back(hello.isend(verdict.data(), verdict.size(), k, detail::mpi::kWelcome));
            hello.wait_all(sends, "the handshake verdict to be taken");
        } else {
            hello.send(mine, sizeof mine, 0, detail::mpi::kHello, "the handshake");
            const auto bytes = hello.receive(0, detail::mpi::kWelcome, "the handshake verdict");
            verdict.assign(bytes.begin(), bytes.end());
        }
        if (!verdict.empty())
            throw ConfigError("MpiTransport: mismatched launch: " + verdict +
                              "; every rank must run the same ist-train build with the same options and data");
        st.ready(workers);
    }

    /// The coordinator's decision, on every rank.
    bool agree(bool decision) {
        State& st = *state_;
        st.require_ready();
        char value = decision ? 1 : 0;
        if (st.channel.rank() == 0) {
            std::vector<MPI_Request> sends;
            for (int k = 1; k < st.channel.size(); ++k) sends.push_back(st.channel.isend(&value, 1, k, detail::mpi::kAgree));
            st.channel.wait_all(sends, "a decision to be taken by the workers");
        } else {
            st.channel.receive_exact(0, detail::mpi::kAgree, &value, 1, "the coordinator's decision");
        }
        return value != 0;
    }

    /// Overwrites `tensors` on every rank with the coordinator's values (same shapes everywhere).
    void broadcast(std::span<Tensor* const> tensors) {
        State& st = *state_;
        st.require_ready();
        std::size_t bytes = 0;
        for (const Tensor* t : tensors) bytes += t->size() * sizeof(float);
        std::vector<char> buffer(bytes);
        if (st.channel.rank() == 0) {
            char* at = buffer.data();
            for (const Tensor* t : tensors) at = std::copy_n(reinterpret_cast<const char*>(t->data()), t->size() * sizeof(float), at);
            std::vector<MPI_Request> sends;
            for (int k = 1; k < st.channel.size(); ++k)
                sends.push_back(st.channel.isend(buffer.data(), bytes, k, detail::mpi::kBroadcast));
            st.channel.wait_all(sends, "the model broadcast to be taken by the workers");
        } else {
            st.channel.receive_exact(0, detail::mpi::kBroadcast, buffer.data(), bytes, "the model broadcast");
            const char* at = buffer.data();
            for (Tensor* t : tensors) {
                std::memcpy(t->data(), at, t->size() * sizeof(float));
                at += t->size() * sizeof(float);
            }
        }
    }

    /// One round (see the Transport concept). On rank 0 it returns every worker's package; on
    /// other ranks none, except with count_exchange = false, where every rank returns S copies
    /// of its own replica (replicas are equal by construction) so that every rank can merge.
    template <class Extract, class Work>
    auto round(std::size_t workers, Extract&& extract, Work&& work, bool count_exchange) {
        using P = std::invoke_result_t<Extract&, std::size_t>;
        State& st = *state_;
        if (!st.ready_for || *st.ready_for != workers) handshake(workers, 0, 0);
        const detail::mpi::Channel& ch = st.channel;
        const int me = ch.rank();
        const std::size_t S = workers;
        RoundResult<P> result;
        result.traffic = RoundTraffic(S);
        st.begin_round();
        detail::BlasThreadsGuard blas(options_.blas_threads);

        // Every rank builds its package skeleton locally (same shapes as the coordinator's);
        // with exchange, the coordinator's values then overwrite it.
        std::vector<std::optional<P>> packages(S);
        if (me == 0 && count_exchange) {
            for (std::size_t s = 0; s < S; ++s) packages[s].emplace(extract(s));
            std::vector<std::vector<char>> buffers(S);
            std::vector<MPI_Request> sends;
            for (std::size_t s = 1; s < S; ++s) {
                buffers[s] = detail::mpi::pack(*packages[s]);
                sends.push_back(ch.isend(buffers[s].data(), buffers[s].size(), static_cast<int>(s), detail::mpi::kDown));
            }
            ch.wait_all(sends, "the subnets to be taken by the workers");
            for (std::size_t s = 0; s < S; ++s) result.traffic.received[s] += payload_bytes(*packages[s]);
        } else {
            packages[me].emplace(extract(static_cast<std::size_t>(me)));
            if (count_exchange) {
                P& mine = *packages[me];
                std::vector<char> buffer(detail::mpi::packed_size(mine));
                ch.receive_exact(0, detail::mpi::kDown, buffer.data(), buffer.size(), "this worker's subnet");
                detail::mpi::unpack(mine, buffer);
                result.traffic.received[me] += payload_bytes(mine);
            }
        }

        P& mine = *packages[me];
        std::exception_ptr error;
        try {
            Comm comm(st, static_cast<std::size_t>(me), S);
            work(mine, comm);
        } catch (...) {
            error = std::current_exception();
        }
        detail::mpi::Outcome outcome = error ? detail::mpi::Outcome::from(error, me) : detail::mpi::Outcome{};

        if (me == 0) {
            if (outcome.ok() && st.protocol_error) outcome = *st.protocol_error;
            st.outcomes[0] = outcome;
            std::vector<std::vector<char>> scalars(S);
            for (std::size_t k = 1; k < S; ++k) {
                st.await_outcome(static_cast<int>(k));
                if (!st.outcomes[k]->ok()) continue;
                std::vector<char> buffer = ch.receive(static_cast<int>(k), detail::mpi::kUp, "worker " + std::to_string(k) + "'s trained package");
                if (count_exchange) {
                    if (buffer.size() != detail::mpi::packed_size(*packages[k]))
                        ch.fatal("worker " + std::to_string(k) + " returned " + std::to_string(buffer.size()) +
                                 " bytes, " + std::to_string(detail::mpi::packed_size(*packages[k])) + " expected");
                    detail::mpi::unpack(*packages[k], buffer);
                } else {
                    scalars[k] = std::move(buffer);
                }
            }
            if (st.protocol_error && st.outcomes[0]->ok()) st.outcomes[0] = *st.protocol_error;
            const detail::mpi::Outcome verdict = st.first_failure();
            const std::vector<char> encoded = verdict.encode();
            std::vector<MPI_Request> sends;
            for (std::size_t k = 1; k < S; ++k) sends.push_back(ch.isend(encoded.data(), encoded.size(), static_cast<int>(k), detail::mpi::kVerdict));
            ch.wait_all(sends, "the round's verdict to be taken by the workers");
            if (!verdict.ok()) {
                if (verdict.worker == 0 && error) std::rethrow_exception(error);
                verdict.rethrow();
            }
            for (std::size_t s = 0; s < S; ++s) {
                if (count_exchange) result.traffic.sent[s] += payload_bytes(*packages[s]);
                // Every worker made the same allreduce_mean calls as this one.
                result.traffic.received[s] += st.reduced_bytes;
                result.traffic.sent[s] += st.reduced_bytes;
            }
            if (!count_exchange) replicate(packages, 0, extract, &scalars);
        } else {
            const std::vector<char> status = outcome.encode();
            ch.send(status.data(), status.size(), 0, detail::mpi::kStatus, "this worker's status");
            if (outcome.ok()) {
                const std::vector<char> buffer = detail::mpi::pack(mine, count_exchange);
                ch.send(buffer.data(), buffer.size(), 0, detail::mpi::kUp, "this worker's trained package");
                if (count_exchange) result.traffic.sent[me] += payload_bytes(mine);
            }
            const detail::mpi::Outcome verdict =
                detail::mpi::Outcome::decode(ch.receive(0, detail::mpi::kVerdict, "the round's verdict"));
            if (!verdict.ok()) {
                if (verdict.worker == me && error) std::rethrow_exception(error);
                verdict.rethrow();
            }
            result.traffic.received[me] += st.reduced_bytes;
            result.traffic.sent[me] += st.reduced_bytes;
            if (count_exchange) return result;
            replicate(packages, static_cast<std::size_t>(me), extract, nullptr);
        }
        for (auto& p : packages) result.packages.push_back(std::move(*p));
        return result;
    }

private:
    struct State {
        detail::mpi::Channel channel;
        MPI_Comm own = MPI_COMM_NULL;
        std::optional<std::size_t> ready_for;
        // Per round (coordinator): how each worker's work ended, and allreduce bookkeeping.
        std::vector<std::optional<detail::mpi::Outcome>> outcomes;
        std::optional<detail::mpi::Outcome> protocol_error;
        std::uint64_t reduced_bytes = 0;
        std::vector<float> sum, scratch;

        explicit State(const Options& o) : channel(o.comm, o.timeout_seconds) {}
        State(const State&) = delete;
        State& operator=(const State&) = delete;
        ~State() {
            int finalized = 0;
            MPI_Finalized(&finalized);
            if (own != MPI_COMM_NULL && !finalized) MPI_Comm_free(&own);
        }

        /// After a successful handshake: a private communicator whose errors return codes.
        void ready(std::size_t workers) {
            if (own == MPI_COMM_NULL) {
                channel.check(MPI_Comm_dup(channel.comm(), &own), "MPI_Comm_dup");
                channel.check(MPI_Comm_set_errhandler(own, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
                channel.set_comm(own);
            }
            ready_for = workers;
        }
        void require_ready() const {
            if (!ready_for) throw std::logic_error("MpiTransport: handshake() must come first (IstTrainer does it)");
        }
        void begin_round() {
            outcomes.assign(static_cast<std::size_t>(channel.size()), std::nullopt);
            protocol_error.reset();
            reduced_bytes = 0;
        }

        /// Coordinator: receives worker k's status. A worker still in allreduce_mean (worker 0
        /// failed, or k calls it more often) is told the reduction is abandoned.
        void await_outcome(int k) {
            const auto& sk = std::to_string(k);
            while (!outcomes[k]) {
                const auto [tag, bytes] = channel.probe(k, {detail::mpi::kStatus, detail::mpi::kReduce},
                                                        "worker " + sk + "'s status");
                std::vector<char> message(bytes);
                channel.receive(k, tag, message.data(), bytes);
                if (tag == detail::mpi::kStatus) {
                    outcomes[k] = detail::mpi::Outcome::decode(message);
                    continue;
                }
                if (outcomes[0] && outcomes[0]->ok() && !protocol_error)
                    protocol_error = detail::mpi::Outcome{detail::mpi::Outcome::Logic, 0,
                        "allreduce_mean: worker " + sk + " called it more often than worker 0; every worker must call "
                        "it the same number of times"};
                channel.send(nullptr, 0, k, detail::mpi::kReduceAbort, "an abandoned allreduce_mean");
            }
        }

        /// The error the round ends with: the first real failure in worker order, else the first abort.
        detail::mpi::Outcome first_failure() const {
            const detail::mpi::Outcome* aborted = nullptr;
            for (const auto& o : outcomes) {
                if (o->ok()) continue;
                if (o->code != detail::mpi::Outcome::Aborted) return *o;
                if (!aborted) aborted = &*o;
            }
            return aborted ? *aborted : detail::mpi::Outcome{};
        }

        /// Element-wise mean over workers, summed 0..S-1 in order then scaled by 1/S (exactly
        /// as ThreadsTransport), through the coordinator.
        void allreduce_mean(std::size_t worker, std::size_t S, std::span<float> data) {
            const std::size_t n = data.size(), bytes = n * sizeof(float);
            if (worker != 0) {
                channel.send(data.data(), bytes, 0, detail::mpi::kReduce, "an allreduce_mean contribution");
                const auto [tag, got] = channel.probe(0, {detail::mpi::kResult, detail::mpi::kReduceAbort},
                                                      "an allreduce_mean result");
                if (tag == detail::mpi::kReduceAbort) {
                    channel.receive(0, tag, nullptr, 0);
                    throw RoundAborted("round aborted: another worker failed");
                }
                if (got != bytes) channel.fatal("allreduce_mean result of the wrong length");
                channel.receive(0, tag, data.data(), bytes);
                reduced_bytes += bytes;
                return;
            }
            sum.assign(n, 0.0f);
            for (std::size_t i = 0; i < n; ++i) sum[i] += data[i];
            std::vector<int> contributed;
            std::optional<std::string> failure;
            bool aborted = false;
            for (std::size_t k = 1; k < S; ++k) {
                const int rank = static_cast<int>(k);
                const auto sk = std::to_string(k);
                if (outcomes[k]) { aborted = true; continue; }
                const auto [tag, got] = channel.probe(rank, {detail::mpi::kReduce, detail::mpi::kStatus},
                                                      "worker " + sk + "'s allreduce_mean contribution");
                if (tag == detail::mpi::kStatus) {
                    std::vector<char> message(got);
                    channel.receive(rank, tag, message.data(), got);
                    outcomes[k] = detail::mpi::Outcome::decode(message);
                    if (outcomes[k]->ok() && !failure)
                        failure = "allreduce_mean: worker " + sk + " finished its local work while worker 0 was still "
                                  "averaging; every worker must call it the same number of times";
                    aborted = true;
                    continue;
                }
                scratch.resize(std::max(scratch.size(), got / sizeof(float) + 1));
                channel.receive(rank, tag, scratch.data(), got);
                contributed.push_back(rank);
                if (got != bytes) {
                    if (!failure) failure = "allreduce_mean: workers passed buffers of different lengths";
                    aborted = true;
                }
                if (!aborted)
                    for (std::size_t i = 0; i < n; ++i) sum[i] += scratch[i];
            }
            if (aborted) {
                for (int k : contributed) channel.send(nullptr, 0, k, detail::mpi::kReduceAbort, "an abandoned allreduce_mean");
                if (failure) throw std::logic_error(*failure);
                throw RoundAborted("round aborted: another worker failed");
            }
            const float inv = 1.0f / static_cast<float>(S);
            for (std::size_t i = 0; i < n; ++i) data[i] = sum[i] * inv;
            std::vector<MPI_Request> sends;
            for (std::size_t k = 1; k < S; ++k) sends.push_back(channel.isend(data.data(), bytes, static_cast<int>(k), detail::mpi::kResult));
            channel.wait_all(sends, "an allreduce_mean result to be taken by the workers");
            reduced_bytes += bytes;
        }
    };

    class Comm final : public Communicator {
    public:
        Comm(State& state, std::size_t worker, std::size_t workers) : state_(state), worker_(worker), workers_(workers) {}
        std::size_t worker() const override { return worker_; }
        std::size_t workers() const override { return workers_; }
        void allreduce_mean(std::span<float> data) override { state_.allreduce_mean(worker_, workers_, data); }

    private:
        State& state_;
        std::size_t worker_, workers_;
    };

    /// Replicas persist (count_exchange = false): every package slot becomes a copy of this
    /// rank's trained replica; on the coordinator each keeps its own worker's scalars.
    template <class P, class Extract>
    static void replicate(std::vector<std::optional<P>>& packages, std::size_t me, Extract& extract,
                          const std::vector<std::vector<char>>* scalars) {
        const std::vector<Tensor*> source = packages[me]->tensors();
        for (std::size_t s = 0; s < packages.size(); ++s) {
            if (s == me) continue;
            packages[s].emplace(extract(s));
            const std::vector<Tensor*> target = packages[s]->tensors();
            for (std::size_t i = 0; i < target.size(); ++i) *target[i] = *source[i];
            const std::span<double> mine(packages[me]->scalars()), theirs(packages[s]->scalars());
            if (scalars && (*scalars)[s].size() == theirs.size() * sizeof(double))
                detail::mpi::unpack(*packages[s], (*scalars)[s], false);
            else
                std::copy(mine.begin(), mine.end(), theirs.begin());
        }
    }

    Options options_;
    std::shared_ptr<State> state_;
};

}  // namespace ist
