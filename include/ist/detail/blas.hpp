#pragma once
// Thin BLAS helpers over xtensor-blas used by the layers' hot paths.
#include <xtensor-blas/xblas.hpp>

#include "ist/core/tensor.hpp"

namespace ist::detail {

/// c = alpha * op(a) * op(b) + beta * c, with c resized to the product's shape when beta == 0.
template <class A, class B, class C>
void gemm(const A& a, const B& b, C& c, bool trans_a, bool trans_b, float alpha = 1.0f, float beta = 0.0f) {
    const std::size_t m = trans_a ? a.shape()[1] : a.shape()[0];
    const std::size_t n = trans_b ? b.shape()[0] : b.shape()[1];
    if (c.dimension() != 2 || c.shape()[0] != m || c.shape()[1] != n) {
        c.resize({m, n});
        beta = 0.0f;
    }
    xt::blas::gemm(a, b, c, trans_a, trans_b, alpha, beta);
}

/// out[j] = sum_i x(i, j): column sums through one GEMV against a vector of ones.
inline void column_sums(const Matrix& x, xt::xtensor<float, 1>& out) {
    static thread_local xt::xtensor<float, 1> ones;
    if (ones.size() != x.shape()[0]) ones = xt::ones<float>({x.shape()[0]});
    out.resize({x.shape()[1]});
    xt::blas::gemv(x, ones, out, true);
}

}  // namespace ist::detail
