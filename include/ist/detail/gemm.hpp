#pragma once
// The one GEMM entry of ist: every matrix product of the library (Dense, Conv2d's im2col GEMM,
// GraphConv, the transformer's linear maps and attention, the kNN graph builder, the bias
// gradients' column sums) is a detail::gemm call, and only this header knows which library
// computes it.
//
// Backends: OpenBLAS (cblas_sgemm, ist/detail/gemm_openblas.hpp) and oneDNN (matmul primitives,
// ist/detail/gemm_onednn.hpp). CMake's IST_GEMM=onednn|openblas picks one at configure time (default:
// oneDNN when installed) and defines IST_GEMM_ONEDNN=1 for oneDNN; a build without that definition
// has OpenBLAS only. A build with oneDNN can still switch the whole process to OpenBLAS with a
// GemmBackendGuard: the benchmarks time both in one run and the tests check both.
//
// Results: the two backends sum in different orders, so the last bits of a product differ between
// them (and so do trained weights, accuracies and the programs' checksums). Each is deterministic
// on one machine: OpenBLAS never splits a dot product across threads, and oneDNN's matmul gave the
// same bits at 1 to 4 threads and at any alignment of the operands for every shape the library
// uses (tests/detail/test_gemm.cpp checks both on the machine that runs the tests).
//
// Precision (ist/core/precision.hpp): each GemmCall carries one, by default the calling thread's
// (GemmPrecisionGuard). Bf16 needs oneDNN: OpenBLAS 0.3.21 (Debian's) has no bf16 GEMM, and a bf16
// request it would silently compute in fp32 is refused instead (check_gemm_precision).
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/detail/gemm_call.hpp"
#include "ist/detail/gemm_openblas.hpp"
#include "ist/detail/setting_guard.hpp"

#ifndef IST_GEMM_ONEDNN
#define IST_GEMM_ONEDNN 0
#endif
#if IST_GEMM_ONEDNN
#include "ist/detail/gemm_onednn.hpp"
#endif

namespace ist::detail {

enum class GemmBackend : std::uint8_t { OpenBlas, OneDnn };

/// The backend this build was configured with (IST_GEMM).
inline constexpr GemmBackend kConfiguredGemmBackend = IST_GEMM_ONEDNN ? GemmBackend::OneDnn : GemmBackend::OpenBlas;

inline bool gemm_backend_built(GemmBackend backend) { return backend == GemmBackend::OpenBlas || IST_GEMM_ONEDNN; }

inline const char* gemm_backend_name(GemmBackend backend) {
    return backend == GemmBackend::OneDnn ? "onednn" : "openblas";
}

/// The backend called `name` ("openblas" or "onednn"), whether or not this build has it.
inline std::optional<GemmBackend> gemm_backend_named(std::string_view name) {
    for (const GemmBackend backend : {GemmBackend::OpenBlas, GemmBackend::OneDnn})
        if (name == gemm_backend_name(backend)) return backend;
    return std::nullopt;
}

/// `backend`, refused (ConfigError, its message after `context`) when this build lacks it.
inline GemmBackend check_gemm_backend_built(GemmBackend backend, const std::string& context = "") {
    require(gemm_backend_built(backend), context + "GEMM backend " + gemm_backend_name(backend) +
                                             ": this build has no oneDNN (configure with IST_GEMM=onednn and "
                                             "libdnnl-dev installed)");
    return backend;
}

/// "openblas" or "onednn", refused with a message when unknown or not built in.
inline GemmBackend parse_gemm_backend(std::string_view name) {
    const std::optional<GemmBackend> backend = gemm_backend_named(name);
    require(backend.has_value(), "GEMM backend '" + std::string(name) + "' is not one of openblas, onednn");
    return check_gemm_backend_built(*backend);
}

inline std::atomic<GemmBackend>& current_gemm_backend() {
    static std::atomic<GemmBackend> backend{kConfiguredGemmBackend};
    return backend;
}

/// The backend every GEMM of the process uses now.
inline GemmBackend gemm_backend() { return current_gemm_backend().load(std::memory_order_relaxed); }

/// Switches the whole process to `backend` for the guard's lifetime (benchmarks and tests; switch
/// while no other thread computes, or a step would mix the backends' roundings).
class GemmBackendGuard : public SettingGuard<std::atomic<GemmBackend>> {
public:
    explicit GemmBackendGuard(GemmBackend backend) : SettingGuard(current_gemm_backend(), built(backend)) {}

private:
    static GemmBackend built(GemmBackend backend) {
        require(gemm_backend_built(backend),
                std::string("GemmBackendGuard: this build has no ") + gemm_backend_name(backend));
        return backend;
    }
};

/// Whether `precision`'s GEMMs can run on `backend` on this CPU.
inline bool gemm_precision_supported(GemmPrecision precision, [[maybe_unused]] GemmBackend backend) {
    if (precision == GemmPrecision::Fp32) return true;
#if IST_GEMM_ONEDNN
    if (backend == GemmBackend::OneDnn) return onednn::bf16_supported();
#endif
    return false;
}

/// Returns `precision`, refused when the process's GEMM backend cannot compute it, naming the
/// backend (the trainer calls it before any work; gemm() again for every product).
inline GemmPrecision check_gemm_precision(GemmPrecision precision) {
    const GemmBackend backend = gemm_backend();
    if (gemm_precision_supported(precision, backend)) return precision;
    if (backend == GemmBackend::OpenBlas)
        throw ConfigError(std::string("precision ") + precision_name(precision) +
                          ": the GEMM backend openblas has no bf16 GEMM (it would compute in fp32); use the onednn "
                          "backend (IST_GEMM=onednn, libdnnl-dev) or precision fp32");
    throw ConfigError(std::string("precision ") + precision_name(precision) +
                      ": oneDNN has no bf16 matmul on this CPU (it needs AVX-512); use precision fp32");
}

/// Sets the calling thread's GEMM precision for the guard's lifetime (refused, before anything
/// runs, where the backend cannot compute it).
class GemmPrecisionGuard : public SettingGuard<GemmPrecision> {
public:
    explicit GemmPrecisionGuard(GemmPrecision precision)
        : SettingGuard(thread_gemm_precision(), check_gemm_precision(precision)) {}
};

/// Refuses leading dimensions shorter than the rows they step over (a caller's indexing bug).
inline void check_leading_dimensions(const GemmCall& g) {
    const std::size_t a_cols = g.trans_a ? g.m : g.k, b_cols = g.trans_b ? g.k : g.n;
    require<std::logic_error>(g.lda >= std::max<std::size_t>(1, a_cols) && g.ldb >= std::max<std::size_t>(1, b_cols) &&
                                  g.ldc >= std::max<std::size_t>(1, g.n),
                              "gemm: a leading dimension is shorter than its matrix's rows (lda " + std::to_string(g.lda) +
                                  ", ldb " + std::to_string(g.ldb) + ", ldc " + std::to_string(g.ldc) + " for " +
                                  std::to_string(g.m) + " x " + std::to_string(g.n) + " x " + std::to_string(g.k) + ")");
}

/// C = beta * C: the product of an empty inner dimension (BLAS's rule; beta == 0 writes zeros).
inline void scale_output(const GemmCall& g) {
    for (std::size_t i = 0; i < g.m; ++i) {
        float* row = g.c + i * g.ldc;
        if (g.beta == 0.0f) std::fill_n(row, g.n, 0.0f);
        else std::transform(row, row + g.n, row, [&](float v) { return g.beta * v; });
    }
}

/// The entry every GEMM of the library goes through (see GemmCall for the arithmetic).
inline void gemm(const GemmCall& g) {
    check_leading_dimensions(g);
    if (g.m == 0 || g.n == 0) return;
    if (g.k == 0) return scale_output(g);
    if (g.precision != GemmPrecision::Fp32) check_gemm_precision(g.precision);
#if IST_GEMM_ONEDNN
    if (gemm_backend() == GemmBackend::OneDnn) return onednn::gemm(g);
#endif
    openblas::gemm(g);
}

/// c = alpha * op(a) * op(b) + beta * c for row-major containers (Matrix, Tensor); a c of another
/// shape is resized to the product's and beta taken as 0.
template <class A, class B, class C>
void gemm(const A& a, const B& b, C& c, bool trans_a, bool trans_b, float alpha = 1.0f, float beta = 0.0f,
          GemmPrecision precision = thread_gemm_precision()) {
    require<DataError>(a.dimension() == 2 && b.dimension() == 2, "gemm: the operands must be matrices, got " +
                                                                     std::to_string(a.dimension()) + "-d and " +
                                                                     std::to_string(b.dimension()) + "-d");
    const std::size_t m = a.shape()[trans_a ? 1 : 0], k = a.shape()[trans_a ? 0 : 1];
    const std::size_t b_k = b.shape()[trans_b ? 1 : 0], n = b.shape()[trans_b ? 0 : 1];
    require<DataError>(k == b_k, "gemm: op(A) is " + std::to_string(m) + " x " + std::to_string(k) + " but op(B) is " +
                                     std::to_string(b_k) + " x " + std::to_string(n));
    if (c.dimension() != 2 || c.shape()[0] != m || c.shape()[1] != n) {
        c.resize({m, n});
        beta = 0.0f;
    }
    const auto ld = [](std::size_t cols) { return std::max<std::size_t>(1, cols); };
    gemm(GemmCall{trans_a, trans_b, m, n, k, alpha, a.data(), ld(a.shape()[1]), b.data(), ld(b.shape()[1]), beta,
                  c.data(), ld(n), precision});
}

/// out[j] = sum_i x(i, j): one product of x^T with a vector of ones, always in fp32 (a gradient's
/// accumulation over the batch: bf16 would round every term).
inline void column_sums(const Matrix& x, xt::xtensor<float, 1>& out) {
    const std::size_t rows = x.shape()[0], cols = x.shape()[1];
    static thread_local xt::xtensor<float, 1> ones;
    if (ones.size() != rows) ones = xt::ones<float>({rows});
    out.resize({cols});
    if (rows == 0 || cols == 0) {
        std::fill(out.begin(), out.end(), 0.0f);
        return;
    }
#if IST_GEMM_ONEDNN
    if (gemm_backend() == GemmBackend::OneDnn)
        return gemm(GemmCall{false, false, 1, cols, rows, 1.0f, ones.data(), rows, x.data(), cols, 0.0f, out.data(), cols,
                             GemmPrecision::Fp32});
#endif
    openblas::column_sums(x.data(), rows, cols, ones.data(), out.data());
}

}  // namespace ist::detail
