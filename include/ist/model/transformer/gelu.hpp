#pragma once
// The Gaussian error linear unit, a transformer's feed-forward activation.
#include <cmath>
#include <numbers>
#include <span>

#include "ist/model/layer.hpp"

namespace ist {

namespace detail {

/// y = x * Phi(x), the exact (erf) form PyTorch's nn.GELU computes by default.
inline void gelu(const Matrix& x, Matrix& y) {
    if (y.shape() != x.shape()) y.resize(x.shape());
    const float* in = x.data();
    float* out = y.data();
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = 0.5f * in[i] * (1.0f + std::erf(in[i] * std::numbers::sqrt2_v<float> / 2));
}

/// dx = dy * (Phi(x) + x * phi(x)).
inline void gelu_backward(const Matrix& x, const Matrix& dy, Matrix& dx) {
    if (dx.shape() != x.shape()) dx.resize(x.shape());
    const float inv_sqrt_2pi = std::numbers::inv_sqrtpi_v<float> / std::numbers::sqrt2_v<float>;
    const float* in = x.data();
    const float* g = dy.data();
    float* out = dx.data();
    for (std::size_t i = 0; i < x.size(); ++i) {
        const float cdf = 0.5f * (1.0f + std::erf(in[i] * std::numbers::sqrt2_v<float> / 2));
        out[i] = g[i] * (cdf + in[i] * inv_sqrt_2pi * std::exp(-0.5f * in[i] * in[i]));
    }
}

}  // namespace detail

/// GELU as a layer: y = x * Phi(x).
class Gelu {
public:
    static constexpr bool opens_dimension = false;
    void forward(const Matrix& x, Matrix& y, Mode) { detail::gelu(x, y); }
    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) {
        if (dx) detail::gelu_backward(x, dy, *dx);
    }
    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }
};

}  // namespace ist
