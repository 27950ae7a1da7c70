#pragma once
// Batch normalisation over the batch axis, with batch statistics in training AND evaluation by
// default, as the reference IST MLP does (BatchNorm1d with track_running_stats=False); running
// statistics for evaluation are an option.
#include <algorithm>
#include <array>
#include <cmath>

#include <xtensor/xnoalias.hpp>

#include "ist/core/error.hpp"
#include "ist/detail/parallel_ranges.hpp"
#include "ist/model/layer.hpp"
#include "ist/model/running_statistics.hpp"

namespace ist {

/// y = gamma * (x - mean_B) / sqrt(var_B + eps) + beta, per feature. `affine = false` drops gamma
/// and beta: the reference net ends with such a norm before the softmax, which absorbs the ~1/S
/// scale of a subnet's pre-activations. By default evaluation also uses the statistics of the
/// batch given, so evaluate in large batches. With `momentum` > 0 the layer keeps running
/// statistics (detail::RunningStatistics) from its training-mode passes and evaluates with them.
class BatchNorm {
public:
    static constexpr bool opens_dimension = false;

    explicit BatchNorm(std::size_t features, bool affine = true, float eps = 1e-5f, float momentum = 0.0f)
        : features_(features), affine_(affine), eps_(detail::checked_eps(eps, "BatchNorm")), running_(features, momentum, "BatchNorm") {
        detail::require(features > 0, "BatchNorm: features must be positive");
        if (affine_) {
            params_[0] = {"gamma", xt::ones<float>({features}), {}, {Axis::Out}};
            params_[1] = {"beta", xt::zeros<float>({features}), {}, {Axis::Out}};
        }
    }

    // Hot path (a 4096-wide layer normalises 128 x 4096 values per step, twice per direction):
    // raw row loops, because xtensor evaluates a row-broadcast expression such as
    // x - view(mean, newaxis, all) element by element through steppers, about ten times slower
    // than these loops, which the compiler vectorises along the contiguous feature axis. Buffers
    // are members so that no step allocates. Column statistics are accumulated row by row, each
    // feature on one thread: ranges of features run in parallel when BLAS has several threads.
    void forward(const Matrix& x, Matrix& y, Mode mode) {
        const std::size_t rows = x.shape()[0], cols = x.shape()[1];
        detail::require<DataError>(!affine_ || cols == params_[0].value.size(),
                                   "BatchNorm: input has " + std::to_string(cols) +
                                       " features, the layer expects " + std::to_string(params_[0].value.size()));
        // Without parameters the output is x-hat itself, so backward reads it from y.
        Matrix& xhat = affine_ ? xhat_ : y;
        resize(xhat, rows, cols);
        zero(mean_, cols);
        zero(inv_std_, cols);
        const bool frozen = mode == Mode::Eval && running_.enabled();
        if (frozen) running_.normalisers(mean_, inv_std_, eps_, "BatchNorm");
        else batch_statistics(x, xhat, mode);
        if (affine_) resize(y, rows, cols);
        detail::parallel_ranges(cols, rows, [&](std::size_t from, std::size_t to) { normalise(x, xhat, y, frozen, from, to); });
    }

    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        const Matrix& xhat = affine_ ? xhat_ : y;
        const std::size_t rows = dy.shape()[0], cols = dy.shape()[1];
        zero(sum_dy_, cols);
        zero(sum_dy_xhat_, cols);
        // dL/dx = gamma * inv_std / B * (B dy - sum(dy) - xhat * sum(dy * xhat))
        const auto batch = static_cast<float>(rows);
        if (dx) {
            if (affine_) xt::noalias(coef_) = inv_std_ / batch * params_[0].value;
            else xt::noalias(coef_) = inv_std_ / batch;
            resize(*dx, rows, cols);
        }
        detail::parallel_ranges(cols, rows, [&](std::size_t from, std::size_t to) {
            gradient_sums(dy, xhat, from, to);
            if (dx) input_gradient(dy, xhat, *dx, from, to);
        });
        if (affine_) {
            xt::noalias(params_[0].grad) = sum_dy_xhat_;
            xt::noalias(params_[1].grad) = sum_dy_;
        }
    }

    std::span<Parameter> parameters() { return {params_.data(), affine_ ? 2u : 0u}; }
    std::span<const Parameter> parameters() const { return {params_.data(), affine_ ? 2u : 0u}; }

    std::size_t features() const { return features_; }
    bool affine() const { return affine_; }
    float eps() const { return eps_; }
    /// The running statistics (enabled() is false unless built with a momentum).
    detail::RunningStatistics& running_statistics() { return running_; }
    const detail::RunningStatistics& running_statistics() const { return running_; }

private:
    /// Mean and 1 / std of the batch into mean_ and inv_std_, x - mean into xhat; folds the batch
    /// into the running statistics in training mode.
    void batch_statistics(const Matrix& x, Matrix& xhat, Mode mode) {
        const std::size_t rows = x.shape()[0], cols = x.shape()[1];
        detail::require<DataError>(rows > 1, "BatchNorm: batch statistics need at least 2 rows");
        detail::parallel_ranges(cols, rows, [&](std::size_t from, std::size_t to) { centre(x, xhat, from, to); });
        if (mode == Mode::Train) running_.update(mean_.data(), inv_std_.data(), cols, rows);  // inv_std holds the squares here
        const auto batch = static_cast<float>(rows);
        float* inv_std = inv_std_.data();
        for (std::size_t j = 0; j < cols; ++j) inv_std[j] = 1.0f / std::sqrt(inv_std[j] / batch + eps_);
    }

    /// Features [from, to): their batch means into mean_, x - mean into xhat, the sums of its
    /// squares into inv_std_.
    void centre(const Matrix& x, Matrix& xhat, std::size_t from, std::size_t to) {
        const std::size_t rows = x.shape()[0], cols = x.shape()[1];
        const auto batch = static_cast<float>(rows);
        float* mean = mean_.data();
        float* inv_std = inv_std_.data();
        for (std::size_t i = 0; i < rows; ++i) {
            const float* xr = x.data() + i * cols;
            for (std::size_t j = from; j < to; ++j) mean[j] += xr[j];
        }
        for (std::size_t j = from; j < to; ++j) mean[j] /= batch;
        for (std::size_t i = 0; i < rows; ++i) {
            const float* xr = x.data() + i * cols;
            float* hr = xhat.data() + i * cols;
            for (std::size_t j = from; j < to; ++j) {
                hr[j] = xr[j] - mean[j];
                inv_std[j] += hr[j] * hr[j];
            }
        }
    }

    /// Features [from, to): x-hat scaled by 1 / std (centred first when `frozen`: running
    /// statistics), then y = gamma x-hat + beta.
    void normalise(const Matrix& x, Matrix& xhat, Matrix& y, bool frozen, std::size_t from, std::size_t to) {
        const std::size_t rows = x.shape()[0], cols = x.shape()[1];
        const float* mean = mean_.data();
        const float* inv_std = inv_std_.data();
        const float* gamma = affine_ ? params_[0].value.data() : nullptr;
        const float* beta = affine_ ? params_[1].value.data() : nullptr;
        for (std::size_t i = 0; i < rows; ++i) {
            float* hr = xhat.data() + i * cols;
            if (frozen) {  // batch_statistics centred x-hat itself
                const float* xr = x.data() + i * cols;
                for (std::size_t j = from; j < to; ++j) hr[j] = xr[j] - mean[j];
            }
            for (std::size_t j = from; j < to; ++j) hr[j] *= inv_std[j];
            if (!affine_) continue;
            float* yr = y.data() + i * cols;
            for (std::size_t j = from; j < to; ++j) yr[j] = hr[j] * gamma[j] + beta[j];
        }
    }

    /// Features [from, to): sum(dy) and sum(dy * x-hat) over the batch, row by row.
    void gradient_sums(const Matrix& dy, const Matrix& xhat, std::size_t from, std::size_t to) {
        const std::size_t rows = dy.shape()[0], cols = dy.shape()[1];
        float* sum_dy = sum_dy_.data();
        float* sum_dy_xhat = sum_dy_xhat_.data();
        for (std::size_t i = 0; i < rows; ++i) {
            const float* g = dy.data() + i * cols;
            const float* h = xhat.data() + i * cols;
            for (std::size_t j = from; j < to; ++j) {
                sum_dy[j] += g[j];
                sum_dy_xhat[j] += g[j] * h[j];
            }
        }
    }

    /// Features [from, to) of dL/dx, from coef_ and the sums of gradient_sums.
    void input_gradient(const Matrix& dy, const Matrix& xhat, Matrix& dx, std::size_t from, std::size_t to) const {
        const std::size_t rows = dy.shape()[0], cols = dy.shape()[1];
        const auto batch = static_cast<float>(rows);
        const float* sum_dy = sum_dy_.data();
        const float* sum_dy_xhat = sum_dy_xhat_.data();
        const float* coef = coef_.data();
        for (std::size_t i = 0; i < rows; ++i) {
            const float* g = dy.data() + i * cols;
            const float* h = xhat.data() + i * cols;
            float* out = dx.data() + i * cols;
            for (std::size_t j = from; j < to; ++j) out[j] = coef[j] * (batch * g[j] - sum_dy[j] - h[j] * sum_dy_xhat[j]);
        }
    }

    static void resize(Matrix& m, std::size_t rows, std::size_t cols) {
        if (m.shape()[0] != rows || m.shape()[1] != cols) m.resize({rows, cols});
    }
    static void zero(xt::xtensor<float, 1>& v, std::size_t n) {
        if (v.size() != n) v.resize({n});
        std::fill(v.begin(), v.end(), 0.0f);
    }

    std::array<Parameter, 2> params_;
    std::size_t features_;
    bool affine_;
    float eps_;
    detail::RunningStatistics running_;
    xt::xtensor<float, 1> mean_, inv_std_, sum_dy_, sum_dy_xhat_, coef_;
    Matrix xhat_;
};

}  // namespace ist
