#pragma once
// The state the worker threads of one in-process round share (ThreadsTransport's internals): a
// barrier for the all-reduces and a turn semaphore limiting how many compute at once.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cstdint>
#include <semaphore>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/ordered_mean.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail {

/// State the workers of one in-process round share: a barrier for all-reduce and a turn
/// semaphore limiting how many compute at once.
class ThreadGroup {
public:
    static constexpr bool in_process = true;  ///< every worker is a thread of this process
    ThreadGroup(std::size_t workers, std::size_t concurrency)
        : workers_(workers), slots_(workers), messages_(workers), codings_(workers),
          barrier_(static_cast<std::ptrdiff_t>(workers), Resize{this}),
          turn_(static_cast<std::ptrdiff_t>(concurrency)) {}

    std::uint64_t bytes = 0;  ///< each way, per worker, over the round's all-reduces (written by worker 0)

    void acquire_turn() { turn_.acquire(); }
    void release_turn() { turn_.release(); }

    /// Called by a worker that failed: lets the others through the barrier and makes them abort.
    void abandon() {
        failed_ = true;
        barrier_.arrive_and_drop();
    }

    /// Each worker averages its own slice of the elements over every worker's buffer; the floats'
    /// bytes count each way.
    void allreduce_mean(std::size_t s, std::span<float> data) {
        slots_[s] = data;
        sync();
        // Every worker sees every length, so all of them refuse a mismatch (no slice reads past a buffer).
        for (const auto& slot : slots_)
            if (slot.size() != result_.size()) fail(FloatMessages{}.wrong_length(0, 0));
        const std::size_t n = data.size(), lo = n * s / workers_, hi = n * (s + 1) / workers_;
        OrderedMean mean(std::span<float>(result_).subspan(lo, hi - lo));
        for (const auto& slot : slots_) mean.add(slot.subspan(lo, hi - lo));
        mean.finish(std::span<float>(result_).subspan(lo, hi - lo));
        sync();
        std::copy(result_.begin(), result_.end(), data.begin());
        count(s, data.size_bytes());
        sync();
    }

    /// Worker 0 plays the coordinator of the MPI transport, with the same arithmetic
    /// (MessageMean over the coded messages, then the mean coded once by worker 0's coding).
    void allreduce_coded_mean(std::size_t s, std::span<const char> contribution, std::span<float> mean,
                              ReductionCoding& coding) {
        slots_[s] = mean;
        messages_[s] = contribution;
        codings_[s] = &coding;
        sync();
        // Every worker checks every length against worker 0's coding, so all refuse the same one.
        const CodedMessages coordinator{*codings_[0]};
        for (std::size_t k = 0; k < workers_; ++k)
            if (messages_[k].size() != coordinator.message_bytes())
                fail(coordinator.wrong_length(k, messages_[k].size()));
        if (s == 0) {
            MessageMean<CodedMessages> reduction(coordinator, mean.size(), result_, contribution_);
            for (const auto& message : messages_) reduction.add(message);
            reduction.finish(mean, mean_message_);
        }
        sync();
        if (s != 0) coding.decode(mean_message_, mean);
        count(s, mean_message_.size());
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
    [[noreturn]] void fail(const std::string& what) {
        failed_ = true;
        throw std::logic_error(what);
    }
    /// Every worker makes the same all-reduce calls: worker 0 counts each message once, as
    /// CoordinatorReduction::bytes does; the round's ledger counts it for every worker, each way.
    void count(std::size_t s, std::uint64_t message) {
        if (s == 0) bytes += message;
    }

    std::size_t workers_;
    std::vector<std::span<float>> slots_;
    std::vector<float> result_;
    // allreduce_coded_mean: each worker's message and coding; worker 0's scratch and the mean's message
    std::vector<std::span<const char>> messages_;
    std::vector<ReductionCoding*> codings_;
    std::vector<float> contribution_;
    std::vector<char> mean_message_;
    std::barrier<Resize> barrier_;
    std::counting_semaphore<> turn_;
    std::atomic<bool> failed_{false};
};

}  // namespace ist::detail
