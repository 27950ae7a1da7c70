#pragma once
// A heap-byte counter per thread for ist's programs that measure a worker's memory (gist-train
// in examples/cli, gist-memory in bench) against the formula of <ist/model/graph/footprint.hpp>. Not
// part of the library and never installed: this header REPLACES the global operator new /
// delete, so include it in exactly one translation unit of a program.
//
// Every allocation is charged to the thread that made it (a 16-byte header remembers which),
// whichever thread frees it, so the peak of a transport's worker thread is the peak of that
// worker's live heap bytes during the real training. OpenBLAS's own buffers (C malloc / mmap)
// and thread stacks are not counted.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>

namespace heap_counter {

/// Bytes as the programs print them: KiB, MiB or GiB.
inline std::string human(double bytes) {
    char buf[32];
    if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
    else std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
    return buf;
}

/// Live and peak bytes of the allocations one thread made.
struct ThreadRecord {
    std::atomic<long long> live{0};
    std::atomic<long long> peak{0};
    std::uint64_t generation = 0;
    bool coordinator = false;
    ThreadRecord* next = nullptr;
};

namespace alloc_detail {
inline std::atomic<ThreadRecord*> records{nullptr};
inline std::atomic<std::uint64_t> generation{1};
inline thread_local ThreadRecord* mine = nullptr;

inline ThreadRecord* record() {
    if (!mine) {  // C malloc: never through operator new, never freed (a few bytes per thread)
        void* raw = std::malloc(sizeof(ThreadRecord));
        if (!raw) std::abort();
        auto* r = new (raw) ThreadRecord;
        r->generation = generation.load();
        r->next = records.load();
        while (!records.compare_exchange_weak(r->next, r)) {}
        mine = r;
    }
    return mine;
}

struct alignas(16) Header {
    ThreadRecord* owner;
    std::size_t bytes;
};
static_assert(sizeof(Header) == 16);

inline void* allocate(std::size_t n, std::size_t align) {
    const std::size_t head = std::max<std::size_t>(sizeof(Header), align);
    void* base = align > alignof(std::max_align_t) ? std::aligned_alloc(align, (n + head + align - 1) / align * align)
                                                   : std::malloc(n + head);
    if (!base) return nullptr;
    auto* user = static_cast<char*>(base) + head;
    auto* h = reinterpret_cast<Header*>(user) - 1;
    ThreadRecord* r = record();
    h->owner = r;
    h->bytes = n;
    const long long now = r->live.fetch_add(static_cast<long long>(n), std::memory_order_relaxed) + static_cast<long long>(n);
    if (now > r->peak.load(std::memory_order_relaxed)) r->peak.store(now, std::memory_order_relaxed);
    return user;
}

// Not inlined: inlined into a delete of memory GCC saw come from operator new, reading the header
// before the pointer looks to it like an out-of-bounds read and a mismatched free (it is neither:
// this TU's operator new made that header).
[[gnu::noinline]] inline void release(void* p, std::size_t align) noexcept {
    if (!p) return;
    auto* h = static_cast<Header*>(p) - 1;
    h->owner->live.fetch_sub(static_cast<long long>(h->bytes), std::memory_order_relaxed);
    std::free(static_cast<char*>(p) - std::max<std::size_t>(sizeof(Header), align));
}
}  // namespace alloc_detail

/// Marks the calling thread as the coordinator: its allocations are not a worker's.
inline void mark_coordinator() { alloc_detail::record()->coordinator = true; }

/// Starts a new measurement: threads created from now on belong to it.
inline std::uint64_t new_generation() { return ++alloc_detail::generation; }

/// The largest peak of a non-coordinator thread created in `generation` (a transport's worker).
inline long long worker_peak(std::uint64_t generation) {
    long long best = 0;
    for (ThreadRecord* r = alloc_detail::records.load(); r; r = r->next)
        if (!r->coordinator && r->generation == generation) best = std::max(best, r->peak.load());
    return best;
}

/// The calling thread's live bytes, and a reset of its peak to them (for measuring a section).
inline long long thread_live() { return alloc_detail::record()->live.load(); }
inline long long thread_peak() { return alloc_detail::record()->peak.load(); }
inline void reset_thread_peak() {
    auto* r = alloc_detail::record();
    r->peak.store(r->live.load());
}

/// Peak resident set size since the last reset_peak_rss(), and the current one (Linux /proc).
inline long long proc_status_kib(const char* key) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::string k = std::string(key) + ":";
    while (std::getline(in, line))
        if (line.rfind(k, 0) == 0) return std::atoll(line.c_str() + k.size());
    return -1;
}
inline bool reset_peak_rss() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    return static_cast<bool>(out.flush());
}

}  // namespace heap_counter

// Replacement allocation functions (one translation unit per program).
void* operator new(std::size_t n) {
    if (void* p = heap_counter::alloc_detail::allocate(n, 0)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = heap_counter::alloc_detail::allocate(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return heap_counter::alloc_detail::allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return heap_counter::alloc_detail::allocate(n, 0); }
void operator delete(void* p) noexcept { heap_counter::alloc_detail::release(p, 0); }
void operator delete[](void* p) noexcept { heap_counter::alloc_detail::release(p, 0); }
void operator delete(void* p, std::size_t) noexcept { heap_counter::alloc_detail::release(p, 0); }
void operator delete[](void* p, std::size_t) noexcept { heap_counter::alloc_detail::release(p, 0); }
void operator delete(void* p, std::align_val_t a) noexcept { heap_counter::alloc_detail::release(p, static_cast<std::size_t>(a)); }
void operator delete[](void* p, std::align_val_t a) noexcept { heap_counter::alloc_detail::release(p, static_cast<std::size_t>(a)); }
void operator delete(void* p, std::size_t, std::align_val_t a) noexcept {
    heap_counter::alloc_detail::release(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::size_t, std::align_val_t a) noexcept {
    heap_counter::alloc_detail::release(p, static_cast<std::size_t>(a));
}
void operator delete(void* p, const std::nothrow_t&) noexcept { heap_counter::alloc_detail::release(p, 0); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { heap_counter::alloc_detail::release(p, 0); }
