#pragma once
// Layer normalisation without parameters (GIST's normalisation): each row to zero mean, unit variance.
#include <cmath>

#include <xtensor/xtensor.hpp>

#include "ist/model/layer.hpp"

namespace ist {

/// y = (x - mean_row) / sqrt(var_row + eps). It has no parameters, so it works unchanged on a
/// subnet's narrower rows; the normalisation itself absorbs the subnet's activation scale.
class LayerNorm {
public:
    static constexpr bool opens_dimension = false;
    explicit LayerNorm(float eps = 1e-5f) : eps_(eps) {}

    // Row loops over contiguous rows (vectorised by the compiler); xtensor's row-broadcast
    // expressions would be evaluated element by element through steppers.
    void forward(const Matrix& x, Matrix& y, Mode) {
        const std::size_t rows = x.shape()[0], cols = x.shape()[1];
        const auto n = static_cast<float>(cols);
        if (y.shape() != x.shape()) y.resize(x.shape());
        if (inv_std_.size() != rows) inv_std_.resize({rows});
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
            const float inv_std = 1.0f / std::sqrt(squares / n + eps_);
            for (std::size_t j = 0; j < cols; ++j) yr[j] *= inv_std;
            inv_std_(i) = inv_std;
        }
    }

    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        const std::size_t rows = dy.shape()[0], cols = dy.shape()[1];
        const auto n = static_cast<float>(cols);
        if (dx->shape() != dy.shape()) dx->resize(dy.shape());
        for (std::size_t i = 0; i < rows; ++i) {
            const float* g = dy.data() + i * cols;
            const float* yr = y.data() + i * cols;
            float* out = dx->data() + i * cols;
            float sum_dy = 0.0f, sum_dy_y = 0.0f;
            for (std::size_t j = 0; j < cols; ++j) {
                sum_dy += g[j];
                sum_dy_y += g[j] * yr[j];
            }
            const float coef = inv_std_(i) / n;
            for (std::size_t j = 0; j < cols; ++j) out[j] = coef * (n * g[j] - sum_dy - yr[j] * sum_dy_y);
        }
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

    float eps() const { return eps_; }

private:
    float eps_;
    xt::xtensor<float, 1> inv_std_;
};

}  // namespace ist
