#pragma once
// y = s * x W^T + b over parameters owned elsewhere: the projections inside attention and the
// feed-forward part of a transformer block, which keep every parameter in one array.
#include <string>

#include <xtensor/xtensor.hpp>

#include "ist/core/error.hpp"
#include "ist/detail/gemm.hpp"

namespace ist::detail {

/// y = scale * x W^T + b, W out x in, b of out.
inline void linear_forward(const Matrix& x, const Parameter& w, const Parameter& b, Matrix& y, float scale = 1.0f) {
    require<DataError>(x.shape()[1] == w.value.shape()[1], w.name + ": input has " + std::to_string(x.shape()[1]) +
                                                               " columns, the weight takes " +
                                                               std::to_string(w.value.shape()[1]));
    gemm(x, w.value, y, false, true, scale);
    const std::size_t rows = y.shape()[0], cols = y.shape()[1];
    const float* bias = b.value.data();
    for (std::size_t i = 0; i < rows; ++i) {
        float* yr = y.data() + i * cols;
        for (std::size_t j = 0; j < cols; ++j) yr[j] += bias[j];
    }
}

/// Fills w.grad and b.grad from dL/dy; dx (when given) = dy W, added to *dx when `accumulate`.
inline void linear_backward(const Matrix& x, const Matrix& dy, Parameter& w, Parameter& b, Matrix* dx,
                            float scale = 1.0f, bool accumulate = false) {
    gemm(dy, x, w.grad, true, false, scale);
    thread_local xt::xtensor<float, 1> sums;
    column_sums(dy, sums);
    b.grad = sums;
    if (dx) gemm(dy, w.value, *dx, false, false, scale, accumulate ? 1.0f : 0.0f);
}

}  // namespace ist::detail
