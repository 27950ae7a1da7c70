#pragma once
// In-process transports: one std::thread per worker (ThreadsTransport), or the same with only
// one worker computing at a time (SerialTransport, a deterministic reference).
#include <algorithm>
#include <atomic>
#include <barrier>
#include <exception>
#include <optional>
#include <semaphore>
#include <stdexcept>
#include <thread>
#include <type_traits>

#include "ist/detail/blas_threads.hpp"
#include "ist/transport/transport.hpp"

namespace ist {

/// Thrown in the surviving workers of a round in which another worker failed.
class RoundAborted : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {

/// State the workers of one in-process round share: a barrier for all-reduce and a turn
/// semaphore limiting how many compute at once.
class ThreadGroup {
public:
    ThreadGroup(std::size_t workers, std::size_t concurrency, RoundTraffic& traffic)
        : workers_(workers), slots_(workers), barrier_(static_cast<std::ptrdiff_t>(workers), Resize{this}),
          turn_(static_cast<std::ptrdiff_t>(concurrency)), traffic_(traffic) {}

    void acquire_turn() { turn_.acquire(); }
    void release_turn() { turn_.release(); }

    /// Called by a worker that failed: lets the others through the barrier and makes them abort.
    void abandon() {
        failed_ = true;
        barrier_.arrive_and_drop();
    }

    void allreduce_mean(std::size_t s, std::span<float> data) {
        slots_[s] = data;
        sync();
        if (data.size() != result_.size()) fail("allreduce_mean: workers passed buffers of different lengths");
        const std::size_t n = data.size(), lo = n * s / workers_, hi = n * (s + 1) / workers_;
        const float inv = 1.0f / static_cast<float>(workers_);
        for (std::size_t k = lo; k < hi; ++k) {
            float sum = 0.0f;
            for (const auto& slot : slots_) sum += slot[k];
            result_[k] = sum * inv;
        }
        sync();
        std::copy(result_.begin(), result_.end(), data.begin());
        traffic_.received[s] += n * sizeof(float);
        traffic_.sent[s] += n * sizeof(float);
        sync();
    }

private:
    struct Resize {
        ThreadGroup* group;
        void operator()() noexcept { group->result_.resize(group->slots_[0].size()); }
    };

    void sync() {
        release_turn();
        barrier_.arrive_and_wait();
        acquire_turn();
        if (failed_) throw RoundAborted("round aborted: another worker failed");
    }
    [[noreturn]] void fail(const char* what) {
        failed_ = true;
        throw std::logic_error(what);
    }

    std::size_t workers_;
    std::vector<std::span<float>> slots_;
    std::vector<float> result_;
    std::barrier<Resize> barrier_;
    std::counting_semaphore<> turn_;
    std::atomic<bool> failed_{false};
    RoundTraffic& traffic_;
};

class ThreadCommunicator final : public Communicator {
public:
    ThreadCommunicator(ThreadGroup& group, std::size_t worker, std::size_t workers)
        : group_(group), worker_(worker), workers_(workers) {}
    std::size_t worker() const override { return worker_; }
    std::size_t workers() const override { return workers_; }
    void allreduce_mean(std::span<float> data) override { group_.allreduce_mean(worker_, data); }

private:
    ThreadGroup& group_;
    std::size_t worker_, workers_;
};

}  // namespace detail

/// One std::thread per worker per round. Workers share the process's memory, so "sending" a
/// subnet is building it; the bytes are counted as a networked transport would move them.
///
/// BLAS threads: S workers already occupy the cores, so by default each round runs OpenBLAS
/// single-threaded (restored afterwards); `blas_threads = 0` leaves it alone.
class ThreadsTransport {
public:
    struct Options {
        std::size_t concurrency = 0;  ///< workers computing at once; 0 = all
        int blas_threads = 1;         ///< OpenBLAS threads during a round; 0 = unchanged
    };

    ThreadsTransport() = default;
    explicit ThreadsTransport(Options options) : options_(options) {}

    bool is_coordinator() const { return true; }
    // One process: nothing to check, agree on or copy.
    void handshake(std::size_t, std::uint64_t, std::uint64_t) {}
    bool agree(bool decision) { return decision; }
    void broadcast(std::span<Tensor* const>) {}

    template <class Extract, class Work>
    auto round(std::size_t workers, Extract&& extract, Work&& work, bool count_exchange) {
        using P = std::invoke_result_t<Extract&, std::size_t>;
        RoundResult<P> result{{}, RoundTraffic(workers)};
        const std::size_t concurrency = options_.concurrency ? std::min(options_.concurrency, workers) : workers;
        detail::ThreadGroup group(workers, concurrency, result.traffic);
        std::vector<std::optional<P>> packages(workers);
        std::vector<std::exception_ptr> errors(workers);
        {
            detail::BlasThreadsGuard blas(options_.blas_threads);
            std::vector<std::jthread> threads;
            threads.reserve(workers);
            for (std::size_t s = 0; s < workers; ++s)
                threads.emplace_back([&, s] {
                    group.acquire_turn();
                    try {
                        packages[s].emplace(extract(s));
                        if (count_exchange) result.traffic.received[s] += payload_bytes(*packages[s]);
                        detail::ThreadCommunicator comm(group, s, workers);
                        work(*packages[s], comm);
                        if (count_exchange) result.traffic.sent[s] += payload_bytes(*packages[s]);
                    } catch (...) {
                        errors[s] = std::current_exception();
                        group.abandon();
                    }
                    group.release_turn();
                });
        }
        rethrow_first_failure(errors);
        for (auto& p : packages) result.packages.push_back(std::move(*p));
        return result;
    }

private:
    /// The original failure matters, not the RoundAborted it caused in the other workers.
    static void rethrow_first_failure(const std::vector<std::exception_ptr>& errors) {
        std::exception_ptr aborted;
        for (const auto& e : errors) {
            if (!e) continue;
            try { std::rethrow_exception(e); }
            catch (const RoundAborted&) { aborted = e; }
            catch (...) { throw; }
        }
        if (aborted) std::rethrow_exception(aborted);
    }

    Options options_;
};

/// The deterministic reference: the same worker threads, one computing at a time.
class SerialTransport : public ThreadsTransport {
public:
    SerialTransport() : ThreadsTransport(Options{1, 1}) {}
};

}  // namespace ist
