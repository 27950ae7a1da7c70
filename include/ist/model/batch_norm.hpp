#pragma once
// Batch normalisation over the batch axis, with batch statistics in training AND evaluation,
// as the reference IST MLP does (BatchNorm1d with track_running_stats=False).
#include <array>
#include <cmath>

#include "ist/core/error.hpp"
#include "ist/detail/blas.hpp"
#include "ist/model/layer.hpp"

namespace ist {

/// y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta, per feature. `affine = false` drops gamma
/// and beta: the reference net ends with such a norm before the softmax, which absorbs the ~1/S
/// scale of a subnet's pre-activations. Evaluation also uses the statistics of the batch given,
/// so evaluate in large batches.
class BatchNorm {
public:
    static constexpr bool opens_dimension = false;

    explicit BatchNorm(std::size_t features, bool affine = true, float eps = 1e-5f)
        : affine_(affine), eps_(eps) {
        detail::require(features > 0, "BatchNorm: features must be positive");
        if (affine_) {
            params_[0] = {"gamma", xt::ones<float>({features}), {}, {Axis::Out}};
            params_[1] = {"beta", xt::zeros<float>({features}), {}, {Axis::Out}};
        }
    }

    void forward(const Matrix& x, Matrix& y, Mode) {
        const auto batch = static_cast<float>(x.shape()[0]);
        detail::require<DataError>(x.shape()[0] > 1, "BatchNorm: batch statistics need at least 2 rows");
        detail::require<DataError>(!affine_ || x.shape()[1] == params_[0].value.size(),
                                   "BatchNorm: input has " + std::to_string(x.shape()[1]) +
                                       " features, the layer expects " + std::to_string(params_[0].value.size()));
        detail::column_sums(x, mean_);
        mean_ /= batch;
        y = x - xt::view(mean_, xt::newaxis(), xt::all());
        detail::column_sums(y * y, inv_std_);  // y holds x - mean here
        inv_std_ = 1.0f / xt::sqrt(inv_std_ / batch + eps_);
        y *= xt::view(inv_std_, xt::newaxis(), xt::all());
        if (!affine_) return;
        xhat_ = y;
        y = y * xt::view(params_[0].value, xt::newaxis(), xt::all()) + xt::view(params_[1].value, xt::newaxis(), xt::all());
    }

    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        const Matrix& xhat = affine_ ? xhat_ : y;
        xt::xtensor<float, 1> sum_dy, sum_dy_xhat;
        detail::column_sums(dy, sum_dy);
        detail::column_sums(dy * xhat, sum_dy_xhat);
        if (affine_) {
            params_[0].grad = sum_dy_xhat;
            params_[1].grad = sum_dy;
        }
        if (!dx) return;
        // dL/dx = gamma * inv_std / B * (B dy - sum(dy) - xhat * sum(dy * xhat))
        const auto batch = static_cast<float>(dy.shape()[0]);
        xt::xtensor<float, 1> coef = inv_std_ / batch;
        if (affine_) coef *= params_[0].value;
        *dx = xt::view(coef, xt::newaxis(), xt::all()) *
              (batch * dy - xt::view(sum_dy, xt::newaxis(), xt::all()) -
               xhat * xt::view(sum_dy_xhat, xt::newaxis(), xt::all()));
    }

    std::span<Parameter> parameters() { return {params_.data(), affine_ ? 2u : 0u}; }
    std::span<const Parameter> parameters() const { return {params_.data(), affine_ ? 2u : 0u}; }

private:
    std::array<Parameter, 2> params_;
    bool affine_;
    float eps_;
    xt::xtensor<float, 1> mean_, inv_std_;
    Matrix xhat_;
};

}  // namespace ist
