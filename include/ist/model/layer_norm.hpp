#pragma once
// Layer normalisation without parameters (GIST's normalisation): each row to zero mean, unit variance.
#include <cmath>

#include <xtensor/xreducer.hpp>

#include "ist/model/layer.hpp"

namespace ist {

/// y = (x - mean_row) / sqrt(var_row + eps). It has no parameters, so it works unchanged on a
/// subnet's narrower rows; the normalisation itself absorbs the subnet's activation scale.
class LayerNorm {
public:
    static constexpr bool opens_dimension = false;
    explicit LayerNorm(float eps = 1e-5f) : eps_(eps) {}

    void forward(const Matrix& x, Matrix& y, Mode) {
        const auto n = static_cast<float>(x.shape()[1]);
        xt::xtensor<float, 1> mean = xt::sum(x, {1}) / n;
        y = x - xt::view(mean, xt::all(), xt::newaxis());
        inv_std_ = 1.0f / xt::sqrt(xt::sum(y * y, {1}) / n + eps_);
        y *= xt::view(inv_std_, xt::all(), xt::newaxis());
    }

    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        const auto n = static_cast<float>(dy.shape()[1]);
        xt::xtensor<float, 1> sum_dy = xt::sum(dy, {1});
        xt::xtensor<float, 1> sum_dy_y = xt::sum(dy * y, {1});
        *dx = xt::view(inv_std_ / n, xt::all(), xt::newaxis()) *
              (n * dy - xt::view(sum_dy, xt::all(), xt::newaxis()) - y * xt::view(sum_dy_y, xt::all(), xt::newaxis()));
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

private:
    float eps_;
    xt::xtensor<float, 1> inv_std_;
};

}  // namespace ist
