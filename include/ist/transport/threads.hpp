#pragma once
// In-process transports: one std::thread per worker (ThreadsTransport), or the same with only
// one worker computing at a time (SerialTransport, a deterministic reference). The round's steps
// are every transport's (round_ledger.hpp: the work, the packages and their bytes, the verdict);
// what is here is the threads, the shared memory (a package is handed over, never copied), and
// deadlines, quorums and stragglers in process.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <exception>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/blas_threads.hpp"
#include "ist/transport/round_ledger.hpp"
#include "ist/transport/thread_group.hpp"
#include "ist/transport/transport.hpp"

namespace ist {

/// One std::thread per worker per round. Workers share the process's memory, so "sending" a
/// subnet is building it; the bytes are counted as a networked transport would move them.
///
/// BLAS threads: S workers already occupy the cores, so by default each round runs OpenBLAS
/// single-threaded (restored afterwards); `blas_threads = 0` leaves it alone.
///
/// Faulty workers: by default a worker's exception aborts the round and is rethrown. With
/// `drop_failed_workers`, a `round_timeout` or a `quorum`, a worker that throws, has not returned
/// by the deadline, or is not among the first `quorum` to return is dropped for that round: its
/// subnet keeps the previous values, RoundResult::dropped names it (the subnet it was sent still
/// counts in its bytes). A straggler keeps running
/// in the background and its worker sits out the following rounds until it has finished (its
/// data stream is not shared). Gradient-synchronised rounds (data parallel) cannot lose a worker
/// mid-step: a failure there aborts the round whatever the options.
///
/// Simulated slow devices (a benchmark knob, not a real device model): with `slowdown`, worker s
/// sleeps (slowdown[s] - 1) x its measured compute time after its work, so a 2x worker really
/// takes twice as long and deadlines and quorums see it. RoundResult::worker_seconds reports each
/// worker's time, slowdown included.
class ThreadsTransport {
public:
    struct Options {
        std::size_t concurrency = 0;  ///< workers computing at once; 0 = all
        int blas_threads = 1;         ///< OpenBLAS threads during a round; 0 = unchanged
        bool drop_failed_workers = false;               ///< drop a throwing worker instead of aborting
        std::chrono::milliseconds round_timeout{0};     ///< from when all have their subnets; 0 = none
        std::size_t quorum = 0;                         ///< return once this many are back; 0 = all
        std::vector<double> slowdown{};                 ///< simulation: per worker, >= 1; empty = none
    };

    static constexpr bool in_process = true;  ///< RunsInProcess: every worker is a thread of this process

    ThreadsTransport() = default;
    explicit ThreadsTransport(Options options) : options_(options) {}
    ThreadsTransport(const ThreadsTransport& other) : options_(other.options_) {}
    ThreadsTransport& operator=(const ThreadsTransport& other) {
        wait_idle();
        options_ = other.options_;
        return *this;
    }
    ~ThreadsTransport() { wait_idle(); }

    bool is_coordinator() const { return true; }
    /// One process: nothing to agree on; only the slowdown profile and the quorum must fit the S workers.
    void handshake(std::size_t workers, std::uint64_t, std::uint64_t) const { check_fits(workers); }
    bool agree(bool decision) { return decision; }
    void broadcast(std::span<Tensor* const>) {}

    /// Blocks until every straggler from earlier rounds has finished.
    void wait_idle() {
        for (auto& t : stragglers_)
            if (t.joinable()) t.join();
    }

    template <class Extract, class Work>
    auto round(std::size_t workers, Extract&& extract, Work&& work, Replicas replicas) {
        using P = std::invoke_result_t<Extract&, std::size_t>;
        const std::size_t concurrency = options_.concurrency ? std::min(options_.concurrency, workers) : workers;
        check_fits(workers);
        auto state = std::make_shared<RoundState<P>>(workers, concurrency, replicas, std::forward<Extract>(extract),
                                                     std::forward<Work>(work), options_.slowdown);
        if (busy_.size() < workers) {
            busy_.resize(workers);
            stragglers_.resize(workers);
        }
        std::vector<std::jthread> threads(workers);
        {
            detail::BlasThreadsGuard blas(options_.blas_threads);
            for (std::size_t s = 0; s < workers; ++s) {
                if (still_running(s)) {
                    state->sit_out(s);
                    continue;
                }
                busy_[s] = std::make_shared<std::atomic<bool>>(true);
                threads[s] = std::jthread([state, s, busy = busy_[s]] {
                    state->run_worker(s);
                    *busy = false;
                });
            }
            wait_for_workers(*state, may_drop(replicas));
        }
        for (std::size_t s = 0; s < workers; ++s)  // the unfinished finish in the background
            if (threads[s].joinable() && !state->returned(s)) stragglers_[s] = std::move(threads[s]);
        threads.clear();
        return state->collect(may_drop(replicas));
    }

private:
    /// What a round's worker threads share. Each worker's package lives in the ledger from its cut
    /// on (no copy); a straggler keeps working on its own after the round is closed.
    template <class P>
    struct RoundState {
        using Outcome = detail::Outcome;

        template <class E, class W>
        RoundState(std::size_t workers, std::size_t concurrency, Replicas replicas, E&& e, W&& w,
                   std::vector<double> slowdown_)
            : ledger(workers, replicas), group(workers, concurrency), outcomes(workers),
              errors(workers), extract(std::forward<E>(e)), work(std::forward<W>(w)), slowdown(std::move(slowdown_)) {}

        void run_worker(std::size_t s) {
            group.acquire_turn();
            std::exception_ptr error;
            Outcome outcome = cut_and_work(s, error);
            if (error) group.abandon();
            group.release_turn();
            std::lock_guard lock(mutex);
            if (closed) return;  // the coordinator moved on: a straggler's result is discarded
            outcomes[s] = std::move(outcome);
            errors[s] = error;
            ++finished;
            succeeded += error ? 0 : 1;
            changed.notify_all();
        }

        /// Worker s's package cut (the subnet travels to it) and trained.
        Outcome cut_and_work(std::size_t s, std::exception_ptr& error) {
            P* package = nullptr;
            try {
                package = &ledger.cut(s, extract);
            } catch (...) {
                error = std::current_exception();
            }
            extracted_one();
            if (error) return Outcome::from(error, s);
            return detail::run_work(*package, work, group, s, ledger.workers(), error,
                                    [&](std::chrono::steady_clock::duration computed) { simulate_slowdown(s, computed); });
        }

        /// A slow device: sleeps (factor - 1) x the measured compute, off its turn so the
        /// others' compute is not held up.
        void simulate_slowdown(std::size_t s, std::chrono::steady_clock::duration computed) {
            if (slowdown.empty() || slowdown[s] <= 1.0) return;
            group.release_turn();
            std::this_thread::sleep_for(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                computed * (slowdown[s] - 1.0)));
            group.acquire_turn();
        }

        /// Extraction reads the full model, which the coordinator overwrites once the round is
        /// over: the round never ends before every started worker has its subnet.
        void extracted_one() {
            std::lock_guard lock(mutex);
            ++extracted;
            changed.notify_all();
        }

        void sit_out(std::size_t s) {
            std::lock_guard lock(mutex);
            ++extracted;
            outcomes[s] = Outcome::still_busy(s);
            ++finished;
        }

        bool returned(std::size_t s) {
            std::lock_guard lock(mutex);
            return outcomes[s].has_value();
        }

        /// Closes the round: a worker not back is late; the verdict (the original exception
        /// rethrown where it fails) and what came back.
        RoundResult<P> collect(bool dropping) {
            std::lock_guard lock(mutex);
            closed = true;
            for (std::size_t s = 0; s < outcomes.size(); ++s)
                if (!outcomes[s]) outcomes[s] = Outcome::dropped(s, "did not return in time");
            detail::Verdict verdict = detail::judge(outcomes, dropping);
            const auto deciding = static_cast<std::size_t>(verdict.outcome.worker);
            detail::rethrow_unless_ok(verdict.outcome, deciding, errors[deciding]);
            return ledger.result(std::move(verdict), outcomes, group.bytes);
        }

        detail::RoundLedger<P> ledger;
        detail::ThreadGroup group;
        std::vector<std::optional<Outcome>> outcomes;  ///< per worker, once it is back (or sits out)
        std::vector<std::exception_ptr> errors;        ///< per worker, its exception as thrown
        std::function<P(std::size_t)> extract;
        std::function<void(P&, Communicator&)> work;
        std::vector<double> slowdown;
        std::mutex mutex;
        std::condition_variable changed;
        std::size_t finished = 0, succeeded = 0, extracted = 0;
        bool closed = false;
    };

    /// Whether this round may go on without some workers. Never when gradients are synchronised
    /// (Replicas::Persistent): every worker is in every all-reduce, so a worker left behind by a
    /// deadline would sit out the next round and leave the others waiting at its barrier for ever.
    bool may_drop(Replicas replicas) const {
        return replicas == Replicas::PerRound &&
               (options_.drop_failed_workers || options_.round_timeout.count() > 0 || options_.quorum > 0);
    }

    /// Throws ConfigError unless the quorum is at most S (a larger one could never be reached and
    /// would silently wait for everyone) and the slowdown profile is empty or one factor >= 1 per worker.
    void check_fits(std::size_t workers) const {
        detail::require(options_.quorum <= workers, "ThreadsTransport: quorum = " + std::to_string(options_.quorum) +
                                                        " but a round has only S = " + std::to_string(workers) + " workers");
        const auto& f = options_.slowdown;
        if (f.empty()) return;
        detail::require(f.size() == workers, "ThreadsTransport: " + std::to_string(f.size()) +
                                                 " slowdown factors for S = " + std::to_string(workers) +
                                                 " workers; give one per worker");
        for (std::size_t s = 0; s < f.size(); ++s)
            detail::require(f[s] >= 1.0 && std::isfinite(f[s]),
                            "ThreadsTransport: worker " + std::to_string(s) + "'s slowdown is " +
                                std::to_string(f[s]) + "; each factor must be a finite number >= 1");
    }

    /// Whether worker s's thread from an earlier round is still working (joins it if it is done).
    bool still_running(std::size_t s) {
        if (!stragglers_[s].joinable()) return false;
        if (*busy_[s]) return true;
        stragglers_[s].join();
        return false;
    }

    template <class P>
    void wait_for_workers(RoundState<P>& state, bool dropping) {
        std::unique_lock lock(state.mutex);
        const std::size_t all = state.outcomes.size();
        state.changed.wait(lock, [&] { return state.extracted == all; });
        auto enough = [&] {
            return state.finished == all || (dropping && options_.quorum && state.succeeded >= options_.quorum);
        };
        if (dropping && options_.round_timeout.count() > 0) state.changed.wait_for(lock, options_.round_timeout, enough);
        else state.changed.wait(lock, enough);
    }

    Options options_;
    std::vector<std::jthread> stragglers_;                    ///< per worker, a thread still running
    std::vector<std::shared_ptr<std::atomic<bool>>> busy_;   ///< per worker, set while its thread runs
};

/// The deterministic reference: the same worker threads, one computing at a time.
class SerialTransport : public ThreadsTransport {
public:
    SerialTransport() : ThreadsTransport(Options{1, 1}) {}
};

}  // namespace ist
