#pragma once
// The round every transport runs, apart from how it moves packages or their bytes: written once
// here for ThreadsTransport, MpiTransport and WireTransport. A worker's work runs through
// run_work (its exception caught, its seconds timed); a RoundLedger keeps each worker's package,
// counts the bytes each way, and turns the round's verdict (judge, outcome.hpp) into the
// RoundResult. With one worker per rank (MPI, a Wire) the whole round is here too:
// coordinate_on_rank_0 and work_on_own_rank, over links that say how its messages travel (MPI's
// links also keep its deadlines and stragglers).
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/outcome.hpp"
#include "ist/transport/pack.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail {

/// Runs worker `worker`'s `work` on `package`, its all-reduces through `group`, and returns how it
/// ended with its wall seconds; its exception, if any, is left in `error` (rethrown as it was where
/// the round's failure is this process's own). `after_work(computed)` runs inside the timed part
/// once the work has succeeded (ThreadsTransport's simulated slow device).
template <class P, class Work, class Group, class AfterWork>
Outcome run_work(P& package, Work& work, Group& group, std::size_t worker, std::size_t workers,
                 std::exception_ptr& error, AfterWork&& after_work) {
    const auto start = std::chrono::steady_clock::now();
    try {
        GroupCommunicator<Group> comm(group, worker, workers);
        work(package, comm);
        after_work(std::chrono::steady_clock::now() - start);
    } catch (...) {
        error = std::current_exception();
    }
    Outcome outcome = Outcome::from(error, worker);
    outcome.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return outcome;
}

template <class P, class Work, class Group>
Outcome run_work(P& package, Work& work, Group& group, std::size_t worker, std::size_t workers, std::exception_ptr& error) {
    return run_work(package, work, group, worker, workers, error, [](std::chrono::steady_clock::duration) {});
}

/// One round's record at one process: each worker's package (cut here, or taken back), the bytes
/// each worker received and sent, and, once the round's verdict is in, its RoundResult. A process
/// accounts for every worker (in-process, or the coordinator), or only for its own worker (a
/// worker's rank): it counts only their bytes.
template <class P>
class RoundLedger {
public:
    /// `own_worker`: the one worker this process accounts for (a worker's rank); none: every worker.
    RoundLedger(std::size_t workers, Replicas replicas, std::optional<std::size_t> own_worker = std::nullopt)
        : traffic(workers), packages_(workers), scalars_(workers), replicas_(replicas), own_worker_(own_worker) {}

    std::size_t workers() const { return packages_.size(); }
    /// Whether packages travel each round (else every process keeps its replica: Replicas::Persistent).
    bool per_round() const { return replicas_ == Replicas::PerRound; }
    P& package(std::size_t s) { return *packages_[s]; }

    /// Worker s's package, `extract(s)`: cut from the full model (on a worker's rank: the skeleton
    /// its subnet's bytes overwrite). With Replicas::PerRound it travels to the worker: counted.
    template <class Extract>
    P& cut(std::size_t s, Extract& extract) {
        P& p = packages_[s].emplace(extract(s));
        if (per_round()) traffic.received[s] += payload_bytes(p);
        return p;
    }

    /// What worker s sends back: its trained package, or only its scalars where replicas persist.
    std::vector<char> returned(std::size_t s) {
        return pack(package(s), per_round() ? PackedParts::TensorsAndScalars : PackedParts::ScalarsOnly);
    }

    /// The coordinator takes what worker k sent back (returned(k) there): its trained package,
    /// unpacked into package(k), or its scalars, kept for replicate. A package of another length
    /// is refused (DataError naming the worker) before anything is decoded.
    void take_back(std::size_t k, std::vector<char> bytes) {
        if (!per_round()) {
            scalars_[k] = std::move(bytes);
            return;
        }
        const std::size_t expected = packed_size(package(k));
        if (bytes.size() != expected)
            throw DataError("worker " + std::to_string(k) + " returned " + std::to_string(bytes.size()) + " bytes, " +
                            std::to_string(expected) + " expected");
        unpack(package(k), bytes);
        if (taken_back_) taken_back_(k);
    }

    /// `taken_back(k)` is called once worker k's trained package is in package(k) (take_back);
    /// an empty function: not called.
    void on_taken_back(std::function<void(std::size_t)> taken_back) { taken_back_ = std::move(taken_back); }

    /// The round's result once its `verdict` is in (a failing one rethrown already): who was dropped
    /// and why; the package of every worker not dropped, in worker order, counted as sent back
    /// (Replicas::PerRound) and handed over where this process holds them (it accounts for every
    /// worker, or replicas persist); each worker's seconds from `outcomes` where this process
    /// accounts for every worker. Every worker made the same all-reduce calls: `reduction_bytes`
    /// each way for every worker this process accounts for.
    RoundResult<P> result(Verdict verdict, std::span<const std::optional<Outcome>> outcomes, std::uint64_t reduction_bytes) {
        count_reductions(reduction_bytes);
        RoundResult<P> out;
        const bool holds_packages = !own_worker_ || !per_round();
        for (std::size_t s = 0; s < workers(); ++s) {
            if (verdict.dropped_worker(s) || !packages_[s]) continue;  // a dropped straggler may still use its own
            if (per_round() && accounts_for(s)) traffic.sent[s] += payload_bytes(package(s));
            if (holds_packages) out.packages.push_back(std::move(package(s)));
        }
        if (!own_worker_)
            for (const std::optional<Outcome>& o : outcomes) out.worker_seconds.push_back(o ? o->seconds : 0.0);
        out.traffic = traffic;
        out.dropped = std::move(verdict.dropped);
        out.failures = std::move(verdict.failures);
        return out;
    }

    /// A round with one worker per rank, at rank `me`, once its verdict is in: with
    /// Replicas::Persistent every package becomes a copy of `me`'s replica (they are equal by
    /// construction), keeping its own worker's scalars where they came back (else `me`'s), so every
    /// rank can merge; then the result.
    template <class Extract>
    RoundResult<P> finish(Verdict verdict, std::span<const std::optional<Outcome>> outcomes, std::uint64_t reduction_bytes,
                          std::size_t me, Extract& extract) {
        if (!per_round()) replicate(me, extract);
        return result(std::move(verdict), outcomes, reduction_bytes);
    }

    RoundTraffic traffic;  ///< per worker, each way (only the workers this process accounts for)

private:
    bool accounts_for(std::size_t s) const { return !own_worker_ || *own_worker_ == s; }

    void count_reductions(std::uint64_t bytes) {
        for (std::size_t s = 0; s < workers(); ++s)
            if (accounts_for(s)) {
                traffic.received[s] += bytes;
                traffic.sent[s] += bytes;
            }
    }

    template <class Extract>
    void replicate(std::size_t me, Extract& extract) {
        const std::vector<Tensor*> source = package(me).tensors();
        for (std::size_t s = 0; s < workers(); ++s) {
            if (s == me) continue;
            P& copy = packages_[s].emplace(extract(s));
            const std::vector<Tensor*> target = copy.tensors();
            for (std::size_t i = 0; i < target.size(); ++i) *target[i] = *source[i];
            const std::span<double> mine(package(me).scalars()), theirs(copy.scalars());
            if (scalars_[s].size() == theirs.size() * sizeof(double)) unpack(copy, scalars_[s], PackedParts::ScalarsOnly);
            else std::copy(mine.begin(), mine.end(), theirs.begin());
        }
    }

    std::vector<std::optional<P>> packages_;
    std::vector<std::vector<char>> scalars_;  ///< Replicas::Persistent, the coordinator: each worker's, as returned
    Replicas replicas_;
    std::optional<std::size_t> own_worker_;
    std::function<void(std::size_t)> taken_back_;
};

/// Rank 0's merges during a round (the MergesDuringRound hook): each worker's package handed to
/// `merges` in worker order on a thread of its own, as soon as it and every earlier one is in
/// (arrived), so that rank 0 merges while it takes the others' packages back. keep() once the
/// round is judged ok; otherwise every merge is undone, the latest first, when this goes away.
template <class P>
class MergesInOrder {
public:
    MergesInOrder(RoundLedger<P>& ledger, RoundMerge<P>* merges) : ledger_(ledger), merges_(merges), in_(ledger.workers(), 0) {
        if (!merges_ || !ledger_.per_round()) return;  // nothing travels back to merge
        ledger_.on_taken_back([this](std::size_t k) { arrived(k); });
        thread_ = std::thread([this] { merge_as_they_come(); });
    }
    MergesInOrder(const MergesInOrder&) = delete;
    MergesInOrder& operator=(const MergesInOrder&) = delete;
    ~MergesInOrder() {
        finish_merging();
        ledger_.on_taken_back({});
        for (std::size_t k = merged_; k-- > 0;) merges_->undo(k, ledger_.package(k));
    }

    /// Worker k's trained package is in ledger.package(k).
    void arrived(std::size_t k) {
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(mutex_);
            in_[k] = 1;
        }
        changed_.notify_one();
    }

    /// The round is judged ok: the merges of the packages in are finished and stay (a merge's
    /// exception is rethrown; then they are undone).
    void keep() {
        finish_merging();
        if (error_) std::rethrow_exception(error_);
        merged_ = 0;
    }

private:
    void finish_merging() {
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        changed_.notify_one();
        thread_.join();
    }

    /// The merge thread: the next worker's package once it is in, until told to stop (the packages
    /// in by then are merged first).
    void merge_as_they_come() {
        std::unique_lock lock(mutex_);
        for (;;) {
            changed_.wait(lock, [&] { return stopping_ || next_is_in(); });
            if (!next_is_in() || error_) return;
            const std::size_t k = merged_;
            lock.unlock();
            try {
                merges_->merge(k, ledger_.package(k));
            } catch (...) {
                error_ = std::current_exception();
            }
            lock.lock();
            if (!error_) ++merged_;
        }
    }

    bool next_is_in() const { return merged_ < in_.size() && in_[merged_]; }

    RoundLedger<P>& ledger_;
    RoundMerge<P>* merges_;
    std::vector<char> in_;    ///< per worker, whether its package is in
    std::size_t merged_ = 0;  ///< workers 0..merged_-1 are merged
    bool stopping_ = false;
    std::exception_ptr error_;  ///< a merge's exception: no more merges
    std::mutex mutex_;
    std::condition_variable changed_;
    std::thread thread_;
};

// Links: how the ranks of a round (one worker per rank, rank 0 the coordinator) talk.
// Rank 0's link:
//   send_subnet(ledger, s)             worker s's subnet (1..S-1), just cut, on its way (it may return
//                                      before the worker has it)
//   subnets_sent()                     waits until the workers have taken their subnets
//   settle_own(outcome)                how worker 0's work ended
//   take_back(ledger)                  every other worker's status and, if it succeeded, what it returns
//                                      (ledger.take_back)
//   announce_verdict()                 the round judged (judge) and its verdict sent to every rank
// A worker's link (ranks 1..S-1):
//   take_subnet(bytes)                 its subnet's bytes (exactly `bytes` long, or the link refuses them)
//   send_status(message)               how its work ended (Outcome::encode)
//   send_package(message)              what it returns (RoundLedger::returned)
//   take_verdict()                     the round's Verdict

/// Rank 0, Replicas::PerRound: the subnet of every other worker that takes part cut and sent on its
/// way at once, then worker 0's own cut on a thread of its own while they travel (rank 0 trains
/// once both are done). Rethrows the cut's exception.
template <class Link, class P, class Extract>
void cut_and_send_subnets(Link& link, RoundLedger<P>& ledger, Extract& extract, const std::vector<char>& taking_part) {
    for (std::size_t s = 1; s < ledger.workers(); ++s) {
        if (!taking_part[s]) continue;
        ledger.cut(s, extract);
        link.send_subnet(ledger, s);
    }
    std::exception_ptr cut_error;
    {
        std::jthread own_cut([&] {
            try {
                ledger.cut(0, extract);
            } catch (...) {
                cut_error = std::current_exception();
            }
        });
        link.subnets_sent();
    }
    if (cut_error) std::rethrow_exception(cut_error);
}

/// Rank 0's side of a round, worker 0 on the coordinator: the subnets of the workers that take part
/// cut and sent (Replicas::PerRound; else only worker 0's own replica is cut), worker 0's work run,
/// the others' outcomes and packages taken back, the verdict announced. With `merges` (the
/// MergesDuringRound hook) each package is merged in worker order as soon as it is in, worker 0's
/// while the others' come back, and every merge undone if the round fails. Rethrows the round's
/// failure (worker 0's own exception as it was when the failure is its); returns the verdict.
template <class Link, class P, class Extract, class Work, class Group>
Verdict coordinate_on_rank_0(Link& link, RoundLedger<P>& ledger, Extract& extract, Work& work, Group& group,
                             const std::vector<char>& taking_part, RoundMerge<P>* merges = nullptr) {
    if (ledger.per_round()) cut_and_send_subnets(link, ledger, extract, taking_part);
    else ledger.cut(0, extract);  // worker 0's own replica
    std::exception_ptr error;
    Outcome own = run_work(ledger.package(0), work, group, 0, ledger.workers(), error);
    const bool own_ok = own.ok();
    link.settle_own(std::move(own));
    MergesInOrder<P> merging(ledger, merges);
    if (own_ok) merging.arrived(0);
    link.take_back(ledger);
    Verdict verdict = link.announce_verdict();
    if (verdict.outcome.ok()) merging.keep();
    rethrow_unless_ok(verdict.outcome, 0, error);
    return verdict;
}

/// Worker `me` (1..S-1) on a rank of its own: its package cut here (the skeleton: with
/// Replicas::PerRound its subnet's bytes overwrite it), its work run, its status and what it
/// returns sent to the coordinator, the round's verdict taken. Rethrows the round's failure (this
/// worker's own exception as it was when the failure is its); returns the verdict otherwise.
template <class Link, class P, class Extract, class Work, class Group>
Verdict work_on_own_rank(Link& link, RoundLedger<P>& ledger, Extract& extract, std::size_t me, Work& work, Group& group,
                         std::uint64_t round) {
    P& mine = ledger.cut(me, extract);
    if (ledger.per_round()) unpack(mine, link.take_subnet(packed_size(mine)));
    std::exception_ptr error;
    Outcome outcome = run_work(mine, work, group, me, ledger.workers(), error);
    outcome.round = round;  // tells a straggler's late status from the current round's
    link.send_status(outcome.encode());
    if (outcome.ok()) link.send_package(ledger.returned(me));
    Verdict verdict = link.take_verdict();
    rethrow_unless_ok(verdict.outcome, me, error);
    return verdict;
}

}  // namespace ist::detail
