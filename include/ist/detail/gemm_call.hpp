#pragma once
// One GEMM as the library asks for it, whichever backend computes it (ist/detail/gemm.hpp).
#include <cstddef>
#include <cstdint>

namespace ist::detail {

/// The arithmetic of a GEMM. Only fp32 today; a bf16 path (bf16 inputs, fp32 accumulation and
/// output) is meant to become a second value here, so that every layer passes it through the same
/// entry and each backend refuses what it cannot compute.
enum class GemmPrecision : std::uint8_t { F32 };

/// Row-major C (m x n, leading dimension ldc) = alpha * op(A) op(B) + beta * C, where op(A) is
/// m x k and op(B) is k x n; A is stored k x m when trans_a (leading dimension lda), B is stored
/// n x k when trans_b. Leading dimensions are in elements. beta == 0 ignores C's old contents
/// (NaN included), as BLAS does.
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
    GemmPrecision precision = GemmPrecision::F32;
};

}  // namespace ist::detail
