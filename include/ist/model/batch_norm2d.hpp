#pragma once
// Batch normalisation per channel of images stored one per row (C x H x W, channel-major), with
// batch statistics in training and evaluation like ist::BatchNorm (running statistics optional).
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include <xtensor/xnoalias.hpp>

#include "ist/core/error.hpp"
#include "ist/model/conv2d.hpp"
#include "ist/model/running_statistics.hpp"

namespace ist {

/// y = gamma_c * (x - mean_c) / sqrt(var_c + eps) + beta_c, the statistics of channel c taken over
/// the batch and every pixel (N x H x W values). gamma and beta are {C} with axis Out, so they
/// follow the channels of the conv before them; the channel count comes from gamma (from the
/// input width / (H W) when `affine = false`), so a subnet's narrower input works unchanged.
/// `momentum` > 0 keeps running statistics per channel for evaluation, as ist::BatchNorm.
class BatchNorm2d {
public:
    static constexpr bool opens_dimension = false;

    BatchNorm2d(std::size_t channels, std::size_t height, std::size_t width, bool affine = true, float eps = 1e-5f,
                float momentum = 0.0f)
        : channels_(channels), height_(height), width_(width), affine_(affine), eps_(detail::checked_eps(eps, "BatchNorm2d")),
          running_(channels, momentum, "BatchNorm2d") {
        detail::require(channels > 0 && height > 0 && width > 0,
                        "BatchNorm2d: channels, height and width must be positive");
        if (affine_) {
            params_[0] = {"gamma", xt::ones<float>({channels}), {}, {Axis::Out}};
            params_[1] = {"beta", xt::zeros<float>({channels}), {}, {Axis::Out}};
        }
    }

    // Every (sample, channel) pair is a contiguous plane of H W values: plain loops over planes.
    void forward(const Matrix& x, Matrix& y, Mode mode) {
        const std::size_t rows = x.shape()[0], plane = height_ * width_;
        const std::size_t channels = affine_ ? params_[0].value.size() : detail::image_channels(x, height_, width_, "BatchNorm2d");
        detail::require<DataError>(x.shape()[1] == channels * plane,
                                   "BatchNorm2d: input has " + std::to_string(x.shape()[1]) + " features, the layer expects " +
                                       std::to_string(channels) + " channels of " + std::to_string(height_) + "x" +
                                       std::to_string(width_));
        Matrix& xhat = affine_ ? xhat_ : y;  // without parameters the output is x-hat itself
        detail::resize_matrix(xhat, rows, x.shape()[1]);
        zero(mean_, channels);
        zero(inv_std_, channels);
        const bool frozen = mode == Mode::Eval && running_.enabled();
        if (frozen) running_.normalisers(mean_, inv_std_, eps_, "BatchNorm2d");
        else batch_statistics(x, xhat, channels, mode);
        if (affine_) detail::resize_matrix(y, rows, x.shape()[1]);
        for (std::size_t n = 0; n < rows; ++n)
            for (std::size_t c = 0; c < channels; ++c) {
                const std::size_t off = (n * channels + c) * plane;
                float* hc = xhat.data() + off;
                if (frozen) {  // batch_statistics centred x-hat itself
                    const float m = mean_[c];
                    const float* xc = x.data() + off;
                    for (std::size_t p = 0; p < plane; ++p) hc[p] = xc[p] - m;
                }
                const float s = inv_std_[c];
                for (std::size_t p = 0; p < plane; ++p) hc[p] *= s;
                if (!affine_) continue;
                const float g = params_[0].value.data()[c], b = params_[1].value.data()[c];
                float* yc = y.data() + off;
                for (std::size_t p = 0; p < plane; ++p) yc[p] = hc[p] * g + b;
            }
    }

    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        const Matrix& xhat = affine_ ? xhat_ : y;
        const std::size_t rows = dy.shape()[0], plane = height_ * width_, channels = mean_.size();
        zero(sum_dy_, channels);
        zero(sum_dy_xhat_, channels);
        for (std::size_t n = 0; n < rows; ++n)
            for (std::size_t c = 0; c < channels; ++c) {
                const std::size_t off = (n * channels + c) * plane;
                const float* g = dy.data() + off;
                const float* h = xhat.data() + off;
                float s = 0.0f, sh = 0.0f;
                for (std::size_t p = 0; p < plane; ++p) s += g[p], sh += g[p] * h[p];
                sum_dy_[c] += s;
                sum_dy_xhat_[c] += sh;
            }
        if (affine_) {
            xt::noalias(params_[0].grad) = sum_dy_xhat_;
            xt::noalias(params_[1].grad) = sum_dy_;
        }
        if (!dx) return;
        // dL/dx = gamma * inv_std / M * (M dy - sum(dy) - xhat * sum(dy * xhat)), M = N H W
        const auto count = static_cast<float>(rows * plane);
        detail::resize_matrix(*dx, rows, dy.shape()[1]);
        for (std::size_t n = 0; n < rows; ++n)
            for (std::size_t c = 0; c < channels; ++c) {
                const std::size_t off = (n * channels + c) * plane;
                const float coef = inv_std_[c] / count * (affine_ ? params_[0].value.data()[c] : 1.0f);
                const float sd = sum_dy_[c], sdh = sum_dy_xhat_[c];
                const float* g = dy.data() + off;
                const float* h = xhat.data() + off;
                float* out = dx->data() + off;
                for (std::size_t p = 0; p < plane; ++p) out[p] = coef * (count * g[p] - sd - h[p] * sdh);
            }
    }

    std::span<Parameter> parameters() { return {params_.data(), affine_ ? 2u : 0u}; }
    std::span<const Parameter> parameters() const { return {params_.data(), affine_ ? 2u : 0u}; }

    std::size_t input_span() const { return height_ * width_; }
    std::size_t output_span() const { return height_ * width_; }

    std::size_t channels() const { return channels_; }
    std::size_t height() const { return height_; }
    std::size_t width() const { return width_; }
    bool affine() const { return affine_; }
    float eps() const { return eps_; }
    /// The running statistics (enabled() is false unless built with a momentum).
    detail::RunningStatistics& running_statistics() { return running_; }
    const detail::RunningStatistics& running_statistics() const { return running_; }

private:
    /// Per channel mean and 1 / std of the batch into mean_ and inv_std_, x - mean into xhat;
    /// folds the batch into the running statistics in training mode.
    void batch_statistics(const Matrix& x, Matrix& xhat, std::size_t channels, Mode mode) {
        const std::size_t rows = x.shape()[0], plane = height_ * width_;
        const auto count = static_cast<float>(rows * plane);
        detail::require<DataError>(rows * plane > 1, "BatchNorm2d: batch statistics need at least 2 values per channel");
       for (std::size_t n = 0; n < rows; ++n)
            for (std::size_t c = 0; c < channels; ++c) {
                const float* xc = x.data() + (n * channels + c) * plane;
                float sum = 0.0f;
                for (std::size_t p = 0; p < plane; ++p) sum += xc[p];
                mean_[c] += sum;
            }
        for (std::size_t c = 0; c < channels; ++c) mean_[c] /= count;
        for (std::size_t n = 0; n < rows; ++n)
            for (std::size_t c = 0; c < channels; ++c) {
                const std::size_t off = (n * channels + c) * plane;
                const float* xc = x.data() + off;
                float* hc = xhat.data() + off;
                float sum = 0.0f;
                for (std::size_t p = 0; p < plane; ++p) {
                    hc[p] = xc[p] - mean_[c];
                    sum += hc[p] * hc[p];
                }
                inv_std_[c] += sum;
            }
        if (mode == Mode::Train) running_.update(mean_.data(), inv_std_.data(), channels, rows * plane);  // squares here
        for (std::size_t c = 0; c < channels; ++c) inv_std_[c] = 1.0f / std::sqrt(inv_std_[c] / count + eps_);
    }

    static void zero(xt::xtensor<float, 1>& v, std::size_t n) {
        if (v.size() != n) v.resize({n});
        std::fill(v.begin(), v.end(), 0.0f);
    }

    std::array<Parameter, 2> params_;
    std::size_t channels_, height_, width_;
    bool affine_;
    float eps_;
    detail::RunningStatistics running_;
    xt::xtensor<float, 1> mean_, inv_std_, sum_dy_, sum_dy_xhat_;
    Matrix xhat_;
};

}  // namespace ist
