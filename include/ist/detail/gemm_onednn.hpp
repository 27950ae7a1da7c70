#pragma once
// The oneDNN backend of ist/detail/gemm.hpp: each GEMM is a oneDNN matmul primitive, created once
// per (shape, transposes, leading dimensions, alpha, beta, precision, thread count) and kept in a
// cache of the calling thread.
//
// Per thread, because oneDNN 2.6 computes wrong products when one primitive object is executed by
// several threads at once (its brgemm matmul keeps mutable resources in the primitive object:
// measured, 1 x 10 x 4096 on 4 threads, 2359 of 80,000 products off by more than 1e-3, while
// objects of their own per thread gave 0; tests/detail/test_gemm.cpp's "gemm threads:" cases).
// oneDNN's own primitive cache still shares the compiled kernels between the threads' objects.
//
// Written against the oneDNN 2.x API of Debian 12 (2.6: matmul::desc, output scales); oneDNN 3
// replaced both (primitive descriptors built directly, scales as runtime arguments), which
// matmul_primitive below would have to follow.
//
// Threads: Debian's oneDNN runs on OpenMP, whose thread count is per calling thread. Every GEMM
// sets the calling thread's OpenMP count to blas_threads() (OpenBLAS's count, the library's one
// knob: BlasThreadsGuard gives each IST worker thread 1), fewer for small products (threads_for),
// and the count is part of the cache key, since a primitive is built for the thread count it runs
// with. The result does not depend on the count (tests/detail/test_gemm.cpp).
//
// Bf16 (GemmPrecision::Bf16): the matmul reads bf16 A and B and writes fp32 C. The operands are
// fp32 in the library, so each call rounds the parts of A and B it reads into buffers of the
// calling thread (round to nearest even, float_to_bfloat16) first; the weights are converted per
// call, not kept as bf16 shadows, so no layer, optimizer or file knows bf16 exists.
#include <omp.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ist/detail/blas_threads.hpp"
#include "ist/detail/cpu_dispatch.hpp"
#include "ist/detail/gemm_call.hpp"
#include "ist/detail/half_float.hpp"

namespace ist::detail::onednn {

/// Everything a matmul primitive is built for.
struct MatmulKey {
    std::size_t m, n, k, lda, ldb, ldc;
    std::uint32_t alpha_bits, beta_bits;
    int threads;
    bool trans_a, trans_b;
    GemmPrecision precision;
    bool operator==(const MatmulKey&) const = default;
};

struct MatmulKeyHash {
    std::size_t operator()(const MatmulKey& key) const {
        std::size_t h = 0;
        for (std::size_t v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc, std::size_t{key.alpha_bits},
                              std::size_t{key.beta_bits}, static_cast<std::size_t>(key.threads),
                              std::size_t{key.trans_a} * 2 + std::size_t{key.trans_b},
                              static_cast<std::size_t>(key.precision)})
            h = (h ^ v) * 0x100000001b3ull;
        return h;
    }
};

/// A primitive and its three operands' memory objects, whose data pointers each call sets (a
/// thread's own, like the primitive: creating them and the argument map per call cost as much as
/// a small product).
struct Matmul {
    dnnl::matmul primitive;
    dnnl::memory a, b, c;
    std::unordered_map<int, dnnl::memory> args;
};

inline dnnl::memory::dim as_dim(std::size_t v) { return static_cast<dnnl::memory::dim>(v); }

inline const dnnl::engine& cpu_engine() {
    static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
    return engine;
}

/// Held while a primitive is created. oneDNN keeps one primitive cache for all threads (and sets
/// up its global state on first use), synchronised inside libdnnl where ThreadSanitizer cannot see
/// it (the library is not instrumented): two worker threads creating primitives at once showed as
/// races on libdnnl's own cache entries and locks. Created one at a time under this lock, they are
/// ordered for TSan too; a thread creates each shape's primitive once, so it is rarely waited on.
inline std::mutex& creation_mutex() {
    static std::mutex mutex;
    return mutex;
}

/// A rows x cols row-major matrix of `type` with leading dimension ld, read transposed when
/// `transposed` (then it is stored cols x rows).
inline dnnl::memory::desc matrix_desc(std::size_t rows, std::size_t cols, std::size_t ld, bool transposed,
                                      dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
    const dnnl::memory::dims strides = transposed ? dnnl::memory::dims{1, as_dim(ld)} : dnnl::memory::dims{as_dim(ld), 1};
    return dnnl::memory::desc({as_dim(rows), as_dim(cols)}, type, strides);
}

inline Matmul matmul_primitive(const MatmulKey& key) {
    const std::lock_guard lock(creation_mutex());
    const auto input = key.precision == GemmPrecision::Bf16 ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
    const dnnl::memory::desc a = matrix_desc(key.m, key.k, key.lda, key.trans_a, input),
                             b = matrix_desc(key.k, key.n, key.ldb, key.trans_b, input),
                             c = matrix_desc(key.m, key.n, key.ldc, false);
    const dnnl::engine& engine = cpu_engine();
    Matmul mm{{}, dnnl::memory(a, engine, DNNL_MEMORY_NONE), dnnl::memory(b, engine, DNNL_MEMORY_NONE),
              dnnl::memory(c, engine, DNNL_MEMORY_NONE), {}};
    mm.args = {{DNNL_ARG_SRC, mm.a}, {DNNL_ARG_WEIGHTS, mm.b}, {DNNL_ARG_DST, mm.c}};
    dnnl::primitive_attr attr;
    const float alpha = std::bit_cast<float>(key.alpha_bits), beta = std::bit_cast<float>(key.beta_bits);
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    if (beta != 0.0f) {
        dnnl::post_ops sum;
        sum.append_sum(beta);
        attr.set_post_ops(sum);
    }
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, b, c), attr, engine);
    mm.primitive = dnnl::matmul(pd);
    return mm;
}

/// One thread's least recently used primitives, at most `capacity` (a program whose shapes keep
/// changing, e.g. Cluster-GCN batches of varying size, must not grow it without bound).
class MatmulCache {
public:
    explicit MatmulCache(std::size_t capacity) : capacity_(capacity) {}

    Matmul& get(const MatmulKey& key) {
        if (auto it = index_.find(key); it != index_.end()) {
            order_.splice(order_.begin(), order_, it->second);
            return it->second->second;
        }
        order_.emplace_front(key, matmul_primitive(key));
        index_.emplace(key, order_.begin());
        if (order_.size() > capacity_) {
            index_.erase(order_.back().first);
            order_.pop_back();
        }
        return order_.front().second;
    }

    std::size_t size() const { return order_.size(); }
    bool holds(const MatmulKey& key) const { return index_.contains(key); }

private:
    using Entry = std::pair<MatmulKey, Matmul>;
    std::size_t capacity_;
    std::list<Entry> order_;  // most recently used first
    std::unordered_map<MatmulKey, std::list<Entry>::iterator, MatmulKeyHash> index_;
};

/// The calling thread's cache.
inline MatmulCache& matmul_cache() {
    (void)cpu_engine();  // constructed first, so destroyed after every thread's primitives
    thread_local MatmulCache cache(256);
    return cache;
}

/// What a GEMM's primitive is built for, at `threads` threads.
inline MatmulKey matmul_key(const GemmCall& g, int threads) {
    return {g.m, g.n, g.k, g.lda, g.ldb, g.ldc, std::bit_cast<std::uint32_t>(g.alpha), std::bit_cast<std::uint32_t>(g.beta),
            threads, g.trans_a, g.trans_b, g.precision};
}

/// The stored matrix an operand reads: `rows` rows of which the first `cols` elements are used,
/// `ld` apart.
struct StoredOperand {
    const float* data;
    std::size_t rows, cols, ld;
};

inline StoredOperand stored_a(const GemmCall& g) { return {g.a, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, g.lda}; }
inline StoredOperand stored_b(const GemmCall& g) { return {g.b, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, g.ldb}; }

/// `from`'s used elements rounded to bfloat16 in `to`, at the same positions (leading dimension
/// kept, so the primitive is the one the fp32 layout keys); returns to's data.
inline std::uint16_t* to_bfloat16(const StoredOperand& from, std::vector<std::uint16_t>& to) {
    if (from.rows == 0) return to.data();
    to.resize(std::max(to.size(), (from.rows - 1) * from.ld + from.cols));
    for (std::size_t r = 0; r < from.rows; ++r)
        run_vectorised(
            [](const float* in, std::uint16_t* out, std::size_t n) IST_INLINE_LOOP {
                for (std::size_t i = 0; i < n; ++i) out[i] = float_to_bfloat16(in[i]);
            },
            from.data + r * from.ld, to.data() + r * from.ld, from.cols);
    return to.data();
}

/// Runs `mm` (built for g's key) on g's operands, on the calling thread's stream; bf16 operands
/// are converted first.
inline void execute(Matmul& mm, const GemmCall& g) {
    if (g.precision == GemmPrecision::Bf16) {
        thread_local std::vector<std::uint16_t> a_bf16, b_bf16;
        mm.a.set_data_handle(to_bfloat16(stored_a(g), a_bf16));
        mm.b.set_data_handle(to_bfloat16(stored_b(g), b_bf16));
    } else {
        mm.a.set_data_handle(const_cast<float*>(g.a));
        mm.b.set_data_handle(const_cast<float*>(g.b));
    }
    mm.c.set_data_handle(g.c);
    thread_local dnnl::stream stream(cpu_engine());  // a stream is not shared between threads
    mm.primitive.execute(stream, mm.args);
    stream.wait();
}

/// Threads for g: blas_threads(), but at least 2^18 multiply-adds each, as OpenBLAS 0.3.21 splits
/// a GEMM (waking an OpenMP team costs more than a small product: the model tests' 48 x 27 x 3
/// convolution GEMMs took 60-80 us each at 2 threads on a loaded machine, 20x the serial time).
inline int threads_for(const GemmCall& g) {
    const double work = static_cast<double>(g.m) * static_cast<double>(g.n) * static_cast<double>(g.k);
    return static_cast<int>(std::clamp(work / double(1 << 18), 1.0, static_cast<double>(blas_threads())));
}

/// Whether this CPU runs oneDNN's bf16 matmul (oneDNN 2.6 needs AVX-512 for it): a primitive is
/// created once to find out.
inline bool bf16_supported() {
    static const bool supported = [] {
        try {
            (void)matmul_primitive(MatmulKey{1, 1, 1, 1, 1, 1, std::bit_cast<std::uint32_t>(1.0f), 0u, 1, false, false,
                                             GemmPrecision::Bf16});
            return true;
        } catch (const dnnl::error&) {
            return false;
        }
    }();
    return supported;
}

inline void gemm(const GemmCall& g) {
    const int threads = threads_for(g);
    if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
    try {
        execute(matmul_cache().get(matmul_key(g, threads)), g);
    } catch (const dnnl::error& e) {
        throw std::runtime_error("oneDNN matmul " + std::to_string(g.m) + " x " + std::to_string(g.n) + " x " +
                                 std::to_string(g.k) + (g.trans_a ? ", A transposed" : "") +
                                 (g.trans_b ? ", B transposed" : "") + ": " + e.what());
    }
}

}  // namespace ist::detail::onednn
