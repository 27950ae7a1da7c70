#pragma once
// The OpenBLAS backend of ist/detail/gemm.hpp: cblas_sgemm and cblas_sgemv, exactly the calls the
// layers made through xtensor-blas before the seam existed (so its results are bit for bit those).
#include <xtensor-blas/xblas.hpp>  // xtensor-blas (xflens) declares the cblas_* functions

#include "ist/detail/gemm_call.hpp"

namespace ist::detail::openblas {

inline void gemm(const GemmCall& g) {
    cblas_sgemm(CblasRowMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans,
                static_cast<int>(g.m), static_cast<int>(g.n), static_cast<int>(g.k), g.alpha, g.a,
                static_cast<int>(g.lda), g.b, static_cast<int>(g.ldb), g.beta, g.c, static_cast<int>(g.ldc));
}

/// out[j] = sum_i x[i * cols + j] for a rows x cols row-major x: one GEMV of x^T against ones.
inline void column_sums(const float* x, std::size_t rows, std::size_t cols, const float* ones, float* out) {
    cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(rows), static_cast<int>(cols), 1.0f, x,
                static_cast<int>(cols), ones, 1, 0.0f, out, 1);
}

}  // namespace ist::detail::openblas
