#pragma once
// Splits element-wise (or per-feature) work over the threads the GEMMs are allowed (blas_threads),
// so that the non-GEMM parts of a step (BatchNorm, ReLU, the SGD update) scale with the GEMMs around them.
// Only ranges of independent items are split: an item is computed by exactly the same code on
// whichever thread, and no reduction crosses a split, so results are bit-identical at any thread
// count. IST workers run with one BLAS thread each, and then everything stays on the calling
// thread with no thread started.
#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

#include <xtensor/xadapt.hpp>

#include "ist/detail/blas_threads.hpp"

namespace ist::detail {

/// Threads the non-GEMM work may use: as many as the GEMMs (blas_threads).
inline std::size_t elementwise_threads() { return static_cast<std::size_t>(blas_threads()); }

/// Calls body(begin, end) on disjoint ranges covering [0, items), in parallel when
/// items * cost_per_item is at least min_cost (starting a thread costs some tens of microseconds,
/// as much as ~64k simple float operations). Range ends are multiples of `align` items (but the
/// last), so that vectorised loops see the same element groups as one pass over everything.
/// The ranges are claimed from a shared counter, a few per thread, so that on a busy machine a
/// helper the scheduler starts late leaves its share to the threads already running.
template <class Body>
void parallel_ranges(std::size_t items, std::size_t cost_per_item, Body&& body, std::size_t align = 16,
                     std::size_t min_cost = std::size_t{1} << 16) {
    const std::size_t blocks = (items + align - 1) / align;
    const std::size_t threads = std::min(elementwise_threads(), blocks);
    if (threads <= 1 || items * cost_per_item < min_cost) {
        if (items) body(std::size_t{0}, items);
        return;
    }
    const std::size_t ranges = std::min(blocks, 4 * threads);
    std::atomic<std::size_t> next{0};
    auto work = [&] {
        for (std::size_t r; (r = next.fetch_add(1, std::memory_order_relaxed)) < ranges;)
            body(std::min(items, blocks * r / ranges * align), std::min(items, blocks * (r + 1) / ranges * align));
    };
    std::vector<std::jthread> helpers;
    helpers.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
    work();
}  // the helpers join here

/// Items [from, to) of a contiguous buffer as a 1-d xtensor view, so that a range evaluates the
/// very expression a whole-tensor pass does.
template <class T>
auto flat_range(T* data, std::size_t from, std::size_t to) {
    return xt::adapt(data + from, to - from, xt::no_ownership(), std::array<std::size_t, 1>{to - from});
}

}  // namespace ist::detail
