#pragma once
// The oneDNN backend of ist/detail/gemm.hpp: each GEMM is a oneDNN matmul primitive, created once
// per (shape, transposes, leading dimensions, alpha, beta, input type, thread count) and kept in a
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
// Bf16 (GemmPrecision::Bf16): inputs rounded to bf16 (round to nearest even, float_to_bfloat16),
// their products exact, the sums and the output fp32. The operands are fp32 in the library, so each
// call rounds the parts of A and B it reads into buffers of the calling thread first; the weights
// are rounded per call, not kept as bf16 shadows, so no layer, optimizer or file knows bf16 exists.
// Two kernels compute that arithmetic (Bf16Kernel): oneDNN's bf16 matmul on the rounded values
// stored as bf16, or its fp32 matmul on the rounded values stored as fp32 (a product of two 8-bit
// significands is exact in fp32, so the fp32 FMAs add exactly the bf16 products). Which is faster
// is the CPU's: AVX512_BF16's dot product (vdpbf16ps) runs at half the fp32 FMA rate on Intel's
// AVX-512 cores (measured on a Xeon without AMX: 86.6 against 176 GFLOP/s, oneDNN's bf16 matmul
// 80 GFLOP/s against its fp32 matmul's 130), while AMX's tile multiplies outrun the FMAs many times.
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <list>
#include <mutex>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include <oneapi/dnnl/dnnl.hpp>

#include "ist/detail/blas_threads.hpp"
#include "ist/detail/cpu_dispatch.hpp"
#include "ist/detail/gemm_call.hpp"
#include "ist/detail/half_float.hpp"
#include "ist/detail/setting_guard.hpp"

namespace ist::detail::onednn {

/// How a bf16 GEMM is computed; both give the same arithmetic (bf16 inputs, exact products, fp32
/// sums) and differ only in the order of the sums (and vdpbf16ps takes subnormals as zero).
enum class Bf16Kernel : std::uint8_t {
    BfloatMatmul,       ///< oneDNN's bf16 matmul on the inputs stored as bf16
    RoundedFp32Matmul,  ///< oneDNN's fp32 matmul on the inputs rounded to bf16, stored as fp32
};

inline const char* bf16_kernel_name(Bf16Kernel kernel) {
    return kernel == Bf16Kernel::BfloatMatmul ? "bf16-matmul" : "rounded-fp32-matmul";
}

/// The faster kernel on this CPU: the bf16 matmul where oneDNN finds AMX (tile multiplies, many
/// times the FMA rate), else the fp32 matmul (AVX512_BF16's vdpbf16ps alone runs at half the fp32
/// FMA rate on Intel's cores). Decided from the ISA, never from a timing, so every run on one
/// machine computes the same bits.
inline Bf16Kernel fastest_bf16_kernel() {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa()), amx = unsigned{dnnl_cpu_isa_avx512_core_amx};
    return (isa & amx) == amx ? Bf16Kernel::BfloatMatmul : Bf16Kernel::RoundedFp32Matmul;
}

inline std::atomic<Bf16Kernel>& current_bf16_kernel() {
    static std::atomic<Bf16Kernel> kernel{fastest_bf16_kernel()};
    return kernel;
}

/// The kernel every bf16 GEMM of the process uses now.
inline Bf16Kernel bf16_kernel() { return current_bf16_kernel().load(std::memory_order_relaxed); }

/// Switches the whole process's bf16 GEMMs to `kernel` for the guard's lifetime (benchmarks and
/// tests; switch while no other thread computes, as with GemmBackendGuard).
class Bf16KernelGuard : public SettingGuard<std::atomic<Bf16Kernel>> {
public:
    explicit Bf16KernelGuard(Bf16Kernel kernel) : SettingGuard(current_bf16_kernel(), kernel) {}
};

/// Everything a matmul primitive is built for.
struct MatmulKey {
    std::size_t m, n, k, lda, ldb, ldc;
    std::uint32_t alpha_bits, beta_bits;
    int threads;
    bool trans_a, trans_b;
    bool bf16_inputs;  ///< the bf16 matmul (else fp32: fp32 GEMMs and Bf16Kernel::RoundedFp32Matmul)
    bool operator==(const MatmulKey&) const = default;
};

struct MatmulKeyHash {
    std::size_t operator()(const MatmulKey& key) const {
        std::size_t h = 0;
        for (std::size_t v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc, std::size_t{key.alpha_bits},
                              std::size_t{key.beta_bits}, static_cast<std::size_t>(key.threads),
                              std::size_t{key.trans_a} * 2 + std::size_t{key.trans_b},
                              std::size_t{key.bf16_inputs}})
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
    const auto input = key.bf16_inputs ? dnnl::memory::data_type::bf16 : dnnl::memory::data_type::f32;
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
    const bool bf16_inputs = g.precision == GemmPrecision::Bf16 && bf16_kernel() == Bf16Kernel::BfloatMatmul;
    return {g.m, g.n, g.k, g.lda, g.ldb, g.ldc, std::bit_cast<std::uint32_t>(g.alpha), std::bit_cast<std::uint32_t>(g.beta),
            threads, g.trans_a, g.trans_b, bf16_inputs};
}

/// The stored matrix an operand reads: `rows` rows of which the first `cols` elements are used,
/// `ld` apart.
struct StoredOperand {
    const float* data;
    std::size_t rows, cols, ld;
};

inline StoredOperand stored_a(const GemmCall& g) { return {g.a, g.trans_a ? g.k : g.m, g.trans_a ? g.m : g.k, g.lda}; }
inline StoredOperand stored_b(const GemmCall& g) { return {g.b, g.trans_b ? g.n : g.k, g.trans_b ? g.k : g.n, g.ldb}; }

/// A bfloat16's bits as the kernel stores it: themselves, or the fp32 value they stand for.
template <class Stored>
Stored stored_bfloat16(std::uint16_t bits) {
    if constexpr (std::is_same_v<Stored, float>) return bfloat16_to_float(bits);
    else return bits;
}

/// `from`'s used elements rounded to bfloat16 in `to` (as bf16 bits or as floats), at the same
/// positions (leading dimension kept, so the primitive is the one the fp32 layout keys); returns
/// to's data.
template <class Stored>
Stored* rounded_to_bfloat16(const StoredOperand& from, std::vector<Stored>& to) {
    if (from.rows == 0) return to.data();
    to.resize(std::max(to.size(), (from.rows - 1) * from.ld + from.cols));
    for (std::size_t r = 0; r < from.rows; ++r)
        run_vectorised(
            [](const float* in, Stored* out, std::size_t n) IST_INLINE_LOOP {
                for (std::size_t i = 0; i < n; ++i) out[i] = stored_bfloat16<Stored>(float_to_bfloat16(in[i]));
            },
            from.data + r * from.ld, to.data() + r * from.ld, from.cols);
    return to.data();
}

/// Runs `mm` (built for g's key) on operands a and b (g's, or their rounded copies), on the
/// calling thread's stream.
inline void execute(Matmul& mm, const GemmCall& g, const void* a, const void* b) {
    mm.a.set_data_handle(const_cast<void*>(a));
    mm.b.set_data_handle(const_cast<void*>(b));
    mm.c.set_data_handle(g.c);
    thread_local dnnl::stream stream(cpu_engine());  // a stream is not shared between threads
    mm.primitive.execute(stream, mm.args);
    stream.wait();
}

/// Runs `mm` (built for g's key) on g's operands; bf16 operands are rounded first, into buffers of
/// the calling thread in the type the key's kernel reads.
inline void execute(Matmul& mm, const GemmCall& g) {
    if (g.precision == GemmPrecision::Fp32) return execute(mm, g, g.a, g.b);
    if (bf16_kernel() == Bf16Kernel::BfloatMatmul) {
        thread_local std::vector<std::uint16_t> a_bf16, b_bf16;
        return execute(mm, g, rounded_to_bfloat16(stored_a(g), a_bf16), rounded_to_bfloat16(stored_b(g), b_bf16));
    }
    thread_local std::vector<float> a_rounded, b_rounded;
    execute(mm, g, rounded_to_bfloat16(stored_a(g), a_rounded), rounded_to_bfloat16(stored_b(g), b_rounded));
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
            (void)matmul_primitive(MatmulKey{1, 1, 1, 1, 1, 1, std::bit_cast<std::uint32_t>(1.0f), 0u, 1, false, false, true});
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
