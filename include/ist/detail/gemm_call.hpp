#pragma once
// One GEMM as the library asks for it, whichever backend computes it (ist/detail/gemm.hpp).
#include <cstddef>
#include <cstdint>

#include "ist/core/precision.hpp"

namespace ist::detail {

/// The arithmetic of a GEMM (ist/core/precision.hpp); a backend refuses what it cannot compute.
using GemmPrecision = Precision;

/// The precision of the GEMMs the calling thread asks for (GemmPrecisionGuard in gemm.hpp sets
/// it: the trainer, for its workers' local steps and its evaluation). Per thread, so that worker
/// threads of runs in different precisions, and the data loaders' products, never mix.
inline GemmPrecision& thread_gemm_precision() {
    thread_local GemmPrecision precision = GemmPrecision::Fp32;
    return precision;
}

/// Row-major C (m x n, leading dimension ldc) = alpha * op(A) op(B) + beta * C, where op(A) is
/// m x k and op(B) is k x n; A is stored k x m when trans_a (leading dimension lda), B is stored
/// n x k when trans_b. Leading dimensions are in elements. beta == 0 ignores C's old contents
/// (NaN included), as BLAS does. `precision` is the calling thread's unless given.
struct GemmCall {
    bool trans_a = false, trans_b = false;
    std::size_t m = 0, n = 0, k = 0;
    float alpha = 1.0f;
    const float* a = nullptr;
    std::size_t lda = 0;
    const float* b = nullptr;
    std::size_t ldb = 0;
    float beta = 0.0f;
    float* c = nullptr;
    std::size_t ldc = 0;
    GemmPrecision precision = thread_gemm_precision();
};

}  // namespace ist::detail
