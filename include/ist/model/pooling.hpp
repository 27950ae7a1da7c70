#pragma once
// Parameter-free pooling over images stored one per row (C x H x W, channel-major). The channel
// count is read from the input's width, so the same layer serves a subnet holding fewer channels.
#include <cstdint>
#include <limits>
#include <vector>

#include "ist/model/conv2d.hpp"

namespace ist {

namespace detail {
/// The geometry every windowed pool shares: input height x width, square kernel, stride, no padding.
class PoolGeometry : public ImageGeometry {
public:
    PoolGeometry(std::size_t height, std::size_t width, std::size_t kernel, std::size_t stride, const char* who)
        : kernel_(kernel), stride_(stride == 0 ? kernel : stride) {
        height_ = height;
        width_ = width;
        require(height > 0 && width > 0, std::string(who) + ": the input height and width must be positive");
        out_height_ = window_count(height, kernel_, stride_, 0, who);
        out_width_ = window_count(width, kernel_, stride_, 0, who);
    }
    std::size_t kernel() const { return kernel_; }
    std::size_t stride() const { return stride_; }

protected:
    /// Calls visit(origin, k) for every output entry k of a batch (rows x channels x out_height x
    /// out_width, in memory order), `origin` being the input offset of its window's top-left pixel.
    template <class Visit>
    void for_each_window(std::size_t rows, std::size_t channels, Visit&& visit) const {
        const std::size_t plane = height_ * width_;
        std::size_t k = 0;
        for (std::size_t p = 0; p < rows * channels; ++p)
            for (std::size_t oh = 0; oh < out_height_; ++oh)
                for (std::size_t ow = 0; ow < out_width_; ++ow, ++k) visit(p * plane + (oh * width_ + ow) * stride_, k);
    }

protected:
    std::size_t kernel_, stride_;
};
}  // namespace detail

/// Maximum over each kernel x kernel window of each channel (stride defaults to the kernel).
/// Backward routes each output gradient to the first maximal input of its window.
class MaxPool2d : public detail::PoolGeometry {
public:
    static constexpr bool opens_dimension = false;
    MaxPool2d(std::size_t height, std::size_t width, std::size_t kernel = 2, std::size_t stride = 0)
        : PoolGeometry(height, width, kernel, stride, "MaxPool2d") {}

    void forward(const Matrix& x, Matrix& y, Mode) {
        const std::size_t channels = detail::image_channels(x, height_, width_, "MaxPool2d");
        const std::size_t rows = x.shape()[0], plane = height_ * width_, pixels = out_height_ * out_width_;
        detail::resize_matrix(y, rows, channels * pixels);
        argmax_.resize(rows * channels * pixels);
        const float* in = x.data();
        float* out = y.data();
        for_each_window(rows, channels, [&](std::size_t origin, std::size_t k) {
            float best = -std::numeric_limits<float>::infinity();
            std::size_t where = origin;
            for (std::size_t i = 0; i < kernel_; ++i)
                for (std::size_t j = 0; j < kernel_; ++j) {
                    const std::size_t at = origin + i * width_ + j;
                    if (in[at] > best) best = in[at], where = at;
                }
            out[k] = best;
            const std::size_t row = k / (channels * pixels);
            argmax_[k] = static_cast<std::uint32_t>(where - row * channels * plane);  // index within the row
        });
    }

    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        const std::size_t rows = dy.shape()[0], in_cols = x.shape()[1], out_cols = dy.shape()[1];
        detail::resize_matrix(*dx, rows, in_cols);
        std::fill(dx->begin(), dx->end(), 0.0f);
        for (std::size_t n = 0; n < rows; ++n) {
            const float* g = dy.data() + n * out_cols;
            const std::uint32_t* arg = argmax_.data() + n * out_cols;
            float* d = dx->data() + n * in_cols;
            for (std::size_t q = 0; q < out_cols; ++q) d[arg[q]] += g[q];
        }
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

private:
    std::vector<std::uint32_t> argmax_;  // per output entry, the input column it came from
};

/// Mean over each kernel x kernel window of each channel (stride defaults to the kernel).
class AvgPool2d : public detail::PoolGeometry {
public:
    static constexpr bool opens_dimension = false;
    AvgPool2d(std::size_t height, std::size_t width, std::size_t kernel = 2, std::size_t stride = 0)
        : PoolGeometry(height, width, kernel, stride, "AvgPool2d") {}

    void forward(const Matrix& x, Matrix& y, Mode) {
        const std::size_t channels = detail::image_channels(x, height_, width_, "AvgPool2d");
        const std::size_t rows = x.shape()[0], pixels = out_height_ * out_width_;
        const float scale = 1.0f / static_cast<float>(kernel_ * kernel_);
        detail::resize_matrix(y, rows, channels * pixels);
        const float* in = x.data();
        float* out = y.data();
        for_each_window(rows, channels, [&](std::size_t origin, std::size_t k) {
            float sum = 0.0f;
            for (std::size_t i = 0; i < kernel_; ++i)
                for (std::size_t j = 0; j < kernel_; ++j) sum += in[origin + i * width_ + j];
            out[k] = sum * scale;
        });
    }

    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        const std::size_t rows = dy.shape()[0], plane = height_ * width_;
        const std::size_t channels = x.shape()[1] / plane;
        const float scale = 1.0f / static_cast<float>(kernel_ * kernel_);
        detail::resize_matrix(*dx, rows, x.shape()[1]);
        std::fill(dx->begin(), dx->end(), 0.0f);
        const float* g = dy.data();
        float* d = dx->data();
        for_each_window(rows, channels, [&](std::size_t origin, std::size_t k) {
            const float share = g[k] * scale;
            for (std::size_t i = 0; i < kernel_; ++i)
                for (std::size_t j = 0; j < kernel_; ++j) d[origin + i * width_ + j] += share;
        });
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }
};

/// Mean of each channel over the whole height x width image: N x (C H W) -> N x C, so a Dense
/// head can follow (its input axis then follows the last conv's channels).
class GlobalAvgPool {
public:
    static constexpr bool opens_dimension = false;
    GlobalAvgPool(std::size_t height, std::size_t width) : height_(height), width_(width) {
        detail::require(height > 0 && width > 0, "GlobalAvgPool: the input height and width must be positive");
    }

    void forward(const Matrix& x, Matrix& y, Mode) {
        const std::size_t channels = detail::image_channels(x, height_, width_, "GlobalAvgPool");
        const std::size_t rows = x.shape()[0], plane = height_ * width_;
        const float scale = 1.0f / static_cast<float>(plane);
        detail::resize_matrix(y, rows, channels);
        for (std::size_t q = 0; q < rows * channels; ++q) {
            const float* xc = x.data() + q * plane;
            float sum = 0.0f;
            for (std::size_t p = 0; p < plane; ++p) sum += xc[p];
            y.data()[q] = sum * scale;
        }
    }

    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        const std::size_t rows = dy.shape()[0], channels = dy.shape()[1], plane = height_ * width_;
        const float scale = 1.0f / static_cast<float>(plane);
        detail::resize_matrix(*dx, rows, x.shape()[1]);
        for (std::size_t q = 0; q < rows * channels; ++q) {
            float* dc = dx->data() + q * plane;
            const float share = dy.data()[q] * scale;
            for (std::size_t p = 0; p < plane; ++p) dc[p] = share;
        }
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

    std::size_t input_height() const { return height_; }
    std::size_t input_width() const { return width_; }
    std::size_t input_span() const { return height_ * width_; }
    std::size_t output_span() const { return 1; }

private:
    std::size_t height_, width_;
};

}  // namespace ist
