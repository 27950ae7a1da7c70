#pragma once
// Shared by gist-train (examples/gist.cpp) and gist-memory (bench/gist_memory.cpp):
//
//  * gist::worker_footprint: the bytes one worker holds while it trains a (sub-)GCN
//    GraphConv -> LayerNorm -> ReLU -> ... -> GraphConv, computed from the shapes alone and
//    itemised by what ist keeps alive in a worker (tensors of Network, GraphConv, LayerNorm,
//    Adam and IstTrainer's local step).
//  * an allocation counter: this header REPLACES the global operator new / delete, so include it
//    in exactly one translation unit of a program. Every allocation is charged to the thread
//    that made it (a 16-byte header remembers which), whichever thread frees it, so the peak of
//    a transport's worker thread is the peak of that worker's live heap bytes during the real
//    training. OpenBLAS's own buffers (C malloc / mmap) and thread stacks are not counted.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>
#include <vector>

namespace gist {

// ----------------------------------------------------------------------------------------------
// The formula

/// One worker's sub-GCN and what it trains on in one local step.
struct WorkerShape {
    /// The worker's widths: [input columns it reads, hidden widths it holds..., classes].
    std::vector<std::size_t> widths;
    std::size_t rows = 0;            ///< B: nodes in one local step (all N with the whole graph)
    std::size_t nodes = 0;           ///< N of the whole graph
    std::size_t input_features = 0;  ///< F: columns of the data set (all of them, before a split)
    bool split_input = false;        ///< the worker reads only widths[0] of the F columns (a copy)
    bool clusters = false;           ///< Cluster-GCN batch: rows are a copy, each layer builds its matrix
    std::size_t batch_entries = 0;   ///< clusters: stored entries of a batch's normalised matrix
};

/// Bytes, itemised.
struct Footprint {
    double parameters = 0, gradients = 0, adam = 0;  ///< 4 P bytes each for values and gradients, 8 P for m and v
    double activations = 0;  ///< forward outputs and backward input-gradients the Network keeps per layer
    double scratch = 0;      ///< GraphConv's product buffer, LayerNorm's 1/std, dlogits, the batch's row list
    double batch = 0;        ///< input copies (split input / cluster batch) and per-layer batch matrices
    double transient = 0;    ///< the largest short-lived allocation on top (loss temporaries, a new batch)
    double total() const { return parameters + gradients + adam + activations + scratch + batch + transient; }
};

/// Peak bytes of one worker during its local steps (from the second step on every buffer exists).
/// Mirrors what ist allocates: Network keeps each layer's output (acts) and, for every layer but
/// the first, the gradient w.r.t. its input; GraphConv keeps one product buffer of
/// B x min(in, out) and a bias-gradient copy; LayerNorm keeps 1/std per row; the loss allocates
/// two B x C temporaries (shifted logits, log-probabilities); Adam holds m and v.
inline Footprint worker_footprint(const WorkerShape& w) {
    constexpr double f = sizeof(float), u32 = sizeof(std::uint32_t), u64 = sizeof(std::size_t);
    const std::size_t L = w.widths.size() - 1;
    const auto B = static_cast<double>(w.rows);
    const auto C = static_cast<double>(w.widths.back());
    Footprint out;
    double P = 0, bias = 0;
    for (std::size_t l = 1; l <= L; ++l) {
        const auto in = static_cast<double>(w.widths[l - 1]), o = static_cast<double>(w.widths[l]);
        P += in * o + o;  // weight + bias
        bias += o;
        out.activations += B * o;                 // GraphConv output
        if (l > 1) out.activations += B * in;     // gradient w.r.t. its input (not for the first layer)
        out.scratch += B * std::min(in, o);       // GraphConv::mixed_
        if (l < L) {
            out.activations += 4 * B * o;         // LayerNorm and ReLU outputs, and their input gradients
            out.scratch += B;                     // LayerNorm 1/std
        }
    }
    out.parameters = f * P;
    out.gradients = f * P;
    out.adam = 2 * f * P;
    out.activations *= f;
    out.scratch = f * (out.scratch + bias + B * C) + u32 * B;  // + bias-gradient copies, dlogits, row list
    double batch_build = 0;
    if (w.split_input) out.batch += f * B * static_cast<double>(w.widths[0]);
    if (w.clusters) {
        out.batch += f * B * static_cast<double>(w.input_features) + u32 * B;  // x and y copies
        const double matrix = u64 * (B + 1) + (u32 + f) * static_cast<double>(w.batch_entries);
        out.batch += static_cast<double>(L) * (matrix + u32 * B);             // each layer: matrix + its rows
        // A new batch (set_batch_rows) builds its matrix while the old one still exists: an O(N)
        // position table, the subgraph before normalisation and the new matrix. Batches differ in
        // size, so a buffer resized to a new batch exists twice for a moment (xtensor allocates
        // the new storage before freeing the old): at most the input copy or the widest layer.
        double widest = 0;
        for (std::size_t width : w.widths) widest = std::max(widest, static_cast<double>(width));
        batch_build = std::max({u32 * static_cast<double>(w.nodes) + u64 * (B + 1) +
                                    (u32 + f) * static_cast<double>(w.batch_entries - std::min(w.batch_entries, w.rows)) +
                                    matrix,
                                f * B * static_cast<double>(w.input_features), f * B * widest});
    }
    out.transient = std::max(f * (2 * B * C + 2 * B), batch_build);
    return out;
}

/// What a worker machine holds besides its own state: the node features, labels (train and test
/// copies) and the graph (plain adjacency and A_hat, `entries` = stored entries of A_hat). In
/// gist-train's threads they are shared by every worker of the process.
inline double shared_bytes(std::size_t nodes, std::size_t features, std::size_t entries) {
    const auto N = static_cast<double>(nodes), E = static_cast<double>(entries);
    return 4.0 * N * static_cast<double>(features) + 2 * 4.0 * N +  // features, two label vectors
           2 * 8.0 * (N + 1) + 8.0 * E + 8.0 * (E - N);                // two CSR graphs (A_hat has N more)
}

/// The widest share of `width` indices cut into S chunks (the first width % S take one more).
inline std::size_t held(std::size_t width, std::size_t S) { return (width + S - 1) / S; }

inline std::string human(double bytes) {
    char buf[32];
    if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) std::snprintf(buf, sizeof buf, "%.1f MiB", bytes / (1024.0 * 1024));
    else std::snprintf(buf, sizeof buf, "%.1f KiB", bytes / 1024.0);
    return buf;
}

// ----------------------------------------------------------------------------------------------
// The allocation counter

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

inline void release(void* p, std::size_t align) noexcept {
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

}  // namespace gist

// Replacement allocation functions (one translation unit per program).
void* operator new(std::size_t n) {
    if (void* p = gist::alloc_detail::allocate(n, 0)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void* operator new(std::size_t n, std::align_val_t a) {
    if (void* p = gist::alloc_detail::allocate(n, static_cast<std::size_t>(a))) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t a) { return ::operator new(n, a); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return gist::alloc_detail::allocate(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return gist::alloc_detail::allocate(n, 0); }
void operator delete(void* p) noexcept { gist::alloc_detail::release(p, 0); }
void operator delete[](void* p) noexcept { gist::alloc_detail::release(p, 0); }
void operator delete(void* p, std::size_t) noexcept { gist::alloc_detail::release(p, 0); }
void operator delete[](void* p, std::size_t) noexcept { gist::alloc_detail::release(p, 0); }
void operator delete(void* p, std::align_val_t a) noexcept { gist::alloc_detail::release(p, static_cast<std::size_t>(a)); }
void operator delete[](void* p, std::align_val_t a) noexcept { gist::alloc_detail::release(p, static_cast<std::size_t>(a)); }
void operator delete(void* p, std::size_t, std::align_val_t a) noexcept {
    gist::alloc_detail::release(p, static_cast<std::size_t>(a));
}
void operator delete[](void* p, std::size_t, std::align_val_t a) noexcept {
    gist::alloc_detail::release(p, static_cast<std::size_t>(a));
}
void operator delete(void* p, const std::nothrow_t&) noexcept { gist::alloc_detail::release(p, 0); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { gist::alloc_detail::release(p, 0); }
