#pragma once
// The state the worker threads of one in-process round share (ThreadsTransport's internals): a
// barrier for the all-reduce and a turn semaphore limiting how many compute at once.
#include <algorithm>
#include <atomic>
#include <barrier>
#include <semaphore>
#include <span>
#include <stdexcept>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/ordered_mean.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail {

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

    /// Each worker averages its own slice of the elements over every worker's buffer; the traffic
    /// counts `counted_bytes` each way (the floats' bytes, or their coding's).
    void allreduce_mean(std::size_t s, std::span<float> data, std::uint64_t counted_bytes) {
        slots_[s] = data;
        sync();
        // Every worker sees every length, so all of them refuse a mismatch (no slice reads past a buffer).
        for (const auto& slot : slots_)
            if (slot.size() != result_.size()) fail("allreduce_mean: workers passed buffers of different lengths");
        const std::size_t n = data.size(), lo = n * s / workers_, hi = n * (s + 1) / workers_;
        OrderedMean mean(std::span<float>(result_).subspan(lo, hi - lo));
        for (const auto& slot : slots_) mean.add(slot.subspan(lo, hi - lo));
        mean.finish(std::span<float>(result_).subspan(lo, hi - lo));
        sync();
        std::copy(result_.begin(), result_.end(), data.begin());
        traffic_.received[s] += counted_bytes;
        traffic_.sent[s] += counted_bytes;
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

}  // namespace ist::detail
