#pragma once
// Layer normalisation: each row to zero mean, unit variance; without parameters (GIST's
// normalisation) or with a learned per-column gain and bias (a transformer's LayerNorm).
#include <array>
#include <cmath>
#include <string>

#include <xtensor/xtensor.hpp>

#include "ist/core/error.hpp"
#include "ist/model/layer.hpp"

namespace ist {

namespace detail {

/// y = (x - mean_row) / sqrt(var_row + eps), keeping 1 / std of every row for the backward pass.
// Row loops over contiguous rows (vectorised by the compiler); xtensor's row-broadcast
// expressions would be evaluated element by element through steppers.
inline void normalise_rows(const Matrix& x, Matrix& y, xt::xtensor<float, 1>& inv_std, float eps) {
    const std::size_t rows = x.shape()[0], cols = x.shape()[1];
    const auto n = static_cast<float>(cols);
    if (y.shape() != x.shape()) y.resize(x.shape());
    if (inv_std.size() != rows) inv_std.resize({rows});
    for (std::size_t i = 0; i < rows; ++i) {
        const float* xr = x.data() + i * cols;
        float* yr = y.data() + i * cols;
        float sum = 0.0f;
        for (std::size_t j = 0; j < cols; ++j) sum += xr[j];
        const float mean = sum / n;
        float squares = 0.0f;
        for (std::size_t j = 0; j < cols; ++j) {
            yr[j] = xr[j] - mean;
            squares += yr[j] * yr[j];
        }
        const float row_inv_std = 1.0f / std::sqrt(squares / n + eps);
        for (std::size_t j = 0; j < cols; ++j) yr[j] *= row_inv_std;
        inv_std(i) = row_inv_std;
    }
}

/// dx from dL/d(normalised) `dy`, the normalised rows `y` and normalise_rows' `inv_std`.
inline void normalise_rows_backward(const Matrix& y, const Matrix& dy, const xt::xtensor<float, 1>& inv_std, Matrix& dx) {
    const std::size_t rows = dy.shape()[0], cols = dy.shape()[1];
    const auto n = static_cast<float>(cols);
    if (dx.shape() != dy.shape()) dx.resize(dy.shape());
    for (std::size_t i = 0; i < rows; ++i) {
        const float* g = dy.data() + i * cols;
        const float* yr = y.data() + i * cols;
        float* out = dx.data() + i * cols;
        float sum_dy = 0.0f, sum_dy_y = 0.0f;
        for (std::size_t j = 0; j < cols; ++j) {
            sum_dy += g[j];
            sum_dy_y += g[j] * yr[j];
        }
        const float coef = inv_std(i) / n;
        for (std::size_t j = 0; j < cols; ++j) out[j] = coef * (n * g[j] - sum_dy - yr[j] * sum_dy_y);
    }
}

}  // namespace detail

/// y = (x - mean_row) / sqrt(var_row + eps). It has no parameters, so it works unchanged on a
/// subnet's narrower rows; the normalisation itself absorbs the subnet's activation scale.
class LayerNorm {
public:
    static constexpr bool opens_dimension = false;
    explicit LayerNorm(float eps = 1e-5f) : eps_(detail::checked_eps(eps, "LayerNorm")) {}

    void forward(const Matrix& x, Matrix& y, Mode) { detail::normalise_rows(x, y, inv_std_, eps_); }

    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        if (dx) detail::normalise_rows_backward(y, dy, inv_std_, *dx);
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

    float eps() const { return eps_; }

private:
    float eps_;
    xt::xtensor<float, 1> inv_std_;
};

/// The normalisation of AffineLayerNorm over parameters it does not own (gain, bias: each of the
/// row width), so a transformer block can keep every parameter of its sub-layers in one array.
class AffineLayerNormKernel {
public:
    explicit AffineLayerNormKernel(float eps = 1e-5f) : eps_(detail::checked_eps(eps, "AffineLayerNorm")) {}

    void forward(const Parameter& gain, const Parameter& bias, const Matrix& x, Matrix& y) {
        const std::size_t cols = x.shape()[1];
        detail::require<DataError>(cols == gain.value.size(), "AffineLayerNorm: input has " + std::to_string(cols) +
                                                                  " columns, the layer normalises " +
                                                                  std::to_string(gain.value.size()));
        detail::normalise_rows(x, normalised_, inv_std_, eps_);
        if (y.shape() != x.shape()) y.resize(x.shape());
        const float* g = gain.value.data();
        const float* b = bias.value.data();
        for (std::size_t i = 0; i < x.shape()[0]; ++i) {
            const float* nr = normalised_.data() + i * cols;
            float* yr = y.data() + i * cols;
            for (std::size_t j = 0; j < cols; ++j) yr[j] = g[j] * nr[j] + b[j];
        }
    }

    /// Writes gain.grad and bias.grad, and dx when given.
    void backward(Parameter& gain, Parameter& bias, const Matrix& dy, Matrix* dx) {
        const std::size_t rows = dy.shape()[0], cols = dy.shape()[1];
        gain.grad = Tensor::from_shape({cols});
        bias.grad = Tensor::from_shape({cols});
        gain.grad.fill(0.0f);
        bias.grad.fill(0.0f);
        if (dnormalised_.shape() != dy.shape()) dnormalised_.resize(dy.shape());
        float* dg = gain.grad.data();
        float* db = bias.grad.data();
        const float* g = gain.value.data();
        for (std::size_t i = 0; i < rows; ++i) {
            const float* dr = dy.data() + i * cols;
            const float* nr = normalised_.data() + i * cols;
            float* out = dnormalised_.data() + i * cols;
            for (std::size_t j = 0; j < cols; ++j) {
                dg[j] += dr[j] * nr[j];
                db[j] += dr[j];
                out[j] = dr[j] * g[j];
            }
        }
        if (dx) detail::normalise_rows_backward(normalised_, dnormalised_, inv_std_, *dx);
    }

    float eps() const { return eps_; }

private:
    float eps_;
    Matrix normalised_, dnormalised_;
    xt::xtensor<float, 1> inv_std_;
};

/// y = gain * (x - mean_row) / sqrt(var_row + eps) + bias, gain starting at 1 and bias at 0
/// (PyTorch's LayerNorm). Gain and bias index the row's columns (axis Out of the width it keeps).
class AffineLayerNorm {
public:
    static constexpr bool opens_dimension = false;

    explicit AffineLayerNorm(std::size_t width, float eps = 1e-5f) : kernel_(eps) {
        detail::require(width > 0, "AffineLayerNorm: the width must be positive");
        params_[0] = {"gain", Tensor::from_shape({width}), {}, {Axis::Out}};
        params_[1] = {"bias", Tensor::from_shape({width}), {}, {Axis::Out}};
        params_[0].value.fill(1.0f);
        params_[1].value.fill(0.0f);
    }

    void forward(const Matrix& x, Matrix& y, Mode) { kernel_.forward(params_[0], params_[1], x, y); }
    void backward(const Matrix&, const Matrix&, const Matrix& dy, Matrix* dx) {
        kernel_.backward(params_[0], params_[1], dy, dx);
    }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }
    float eps() const { return kernel_.eps(); }

private:
    std::array<Parameter, 2> params_;
    AffineLayerNormKernel kernel_;
};

}  // namespace ist
