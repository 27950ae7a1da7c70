#pragma once
// 2-D convolution over images stored one per row (C x H x W, channel-major), the unit that
// convolutional IST partitions by output channels.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include <xtensor/xnoalias.hpp>

#include "ist/core/error.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/detail/random.hpp"
#include "ist/model/layer.hpp"

namespace ist {

namespace detail {
/// Number of window positions along one image axis: floor((size + 2 padding - kernel) / stride) + 1.
inline std::size_t window_count(std::size_t size, std::size_t kernel, std::size_t stride, std::size_t padding,
                                const std::string& who) {
    require(kernel > 0 && stride > 0, who + ": kernel and stride must be positive");
    require(size + 2 * padding >= kernel, who + ": kernel " + std::to_string(kernel) + " is larger than the padded input (" +
                                              std::to_string(size) + " + 2 x " + std::to_string(padding) + ")");
    return (size + 2 * padding - kernel) / stride + 1;
}

/// Channels of a batch of images of height x width from its column count, checking it divides.
inline std::size_t image_channels(const Matrix& x, std::size_t height, std::size_t width, const std::string& who) {
    const std::size_t pixels = height * width, cols = x.shape()[1];
    require<DataError>(cols > 0 && cols % pixels == 0, who + ": input has " + std::to_string(cols) +
                                                           " features, not a whole number of " + std::to_string(height) +
                                                           "x" + std::to_string(width) + " channels");
    return cols / pixels;
}

inline void resize_matrix(Matrix& m, std::size_t rows, std::size_t cols) {
    if (m.shape()[0] != rows || m.shape()[1] != cols) m.resize({rows, cols});
}

/// Input and output image sizes of a layer over C x H x W rows, with the accessors Network's
/// geometry checks read (input_span / output_span: pixels per channel). Set by the layer.
class ImageGeometry {
public:
    std::size_t input_height() const { return height_; }
    std::size_t input_width() const { return width_; }
    std::size_t output_height() const { return out_height_; }
    std::size_t output_width() const { return out_width_; }
    std::size_t input_span() const { return height_ * width_; }
    std::size_t output_span() const { return out_height_ * out_width_; }

protected:
    std::size_t height_ = 0, width_ = 0, out_height_ = 0, out_width_ = 0;
};
}  // namespace detail

/// Construction arguments of Conv2d (designated initialisers read well:
/// `Conv2d({.in_channels = 1, .out_channels = 16, .height = 8, .width = 8, .kernel = 3, .padding = 1})`).
struct Conv2dOptions {
    std::size_t in_channels = 0;
    std::size_t out_channels = 0;
    std::size_t height = 0;  ///< input image height
    std::size_t width = 0;   ///< input image width
    std::size_t kernel = 3;  ///< square kernel side
    std::size_t stride = 1;
    std::size_t padding = 0;  ///< zero padding on every side
    bool bias = true;
    std::uint64_t seed = 0;
};

/// Convolution with weight {out, in, k, k} (axes {Out, In, Shared, Shared}) and an optional bias
/// {out} (axis Out). Input rows are images in x in-channels of height x width, output rows
/// out-channels of output_height() x output_width(), both channel-major. The layer stores only the
/// spatial geometry; channel counts come from the weight, so a subnet holding some channels runs
/// unchanged. Forward: im2col (one row per output position of every sample) and one GEMM through
/// BLAS; backward: two GEMMs and col2im. Initialised like PyTorch's Conv2d:
/// U(-1/sqrt(in k k), 1/sqrt(in k k)), from `seed`.
class Conv2d : public detail::ImageGeometry {
public:
    static constexpr bool opens_dimension = true;

    explicit Conv2d(const Conv2dOptions& o)
        : stride_(o.stride), padding_(o.padding), has_bias_(o.bias) {
        height_ = o.height;
        width_ = o.width;
        detail::require(o.in_channels > 0 && o.out_channels > 0,
                        "Conv2d: in_channels and out_channels must be positive, got " + std::to_string(o.in_channels) +
                            " and " + std::to_string(o.out_channels));
        detail::require(o.height > 0 && o.width > 0, "Conv2d: the input height and width must be positive");
        out_height_ = detail::window_count(o.height, o.kernel, o.stride, o.padding, "Conv2d");
        out_width_ = detail::window_count(o.width, o.kernel, o.stride, o.padding, "Conv2d");
        detail::RandomEngine rng(o.seed);
        const float bound = 1.0f / std::sqrt(static_cast<float>(o.in_channels * o.kernel * o.kernel));
        params_[0] = {"weight", Tensor::from_shape({o.out_channels, o.in_channels, o.kernel, o.kernel}), {},
                      {Axis::Out, Axis::In, Axis::Shared, Axis::Shared}};
        detail::fill_uniform(params_[0].value, rng, -bound, bound);
        if (has_bias_) {
            params_[1] = {"bias", Tensor::from_shape({o.out_channels}), {}, {Axis::Out}};
            detail::fill_uniform(params_[1].value, rng, -bound, bound);
        }
    }

    std::size_t kernel() const { return params_[0].value.shape()[2]; }
    std::size_t stride() const { return stride_; }
    std::size_t padding() const { return padding_; }

    void forward(const Matrix& x, Matrix& y, Mode) {
        const auto& w = params_[0].value;
        const std::size_t out = w.shape()[0], in = w.shape()[1], patch = in * kernel() * kernel();
        const std::size_t pixels = out_height_ * out_width_, rows = x.shape()[0];
        detail::require<DataError>(x.shape()[1] == in * height_ * width_,
                                   "Conv2d: input has " + std::to_string(x.shape()[1]) + " features, the layer expects " +
                                       std::to_string(in) + " channels of " + std::to_string(height_) + "x" +
                                       std::to_string(width_) + " = " + std::to_string(in * height_ * width_));
        im2col(x, in);
        detail::resize_matrix(kernel_, out, patch);
        std::copy(w.data(), w.data() + out * patch, kernel_.data());
        detail::gemm(col_, kernel_, z_, false, true, input_scale_);  // (rows * pixels) x out
        // z_ holds position-major rows; y wants channel-major rows: one transposing pass per sample,
        // with the bias added on the way.
        detail::resize_matrix(y, rows, out * pixels);
        const float* b = has_bias_ ? params_[1].value.data() : nullptr;
        for (std::size_t n = 0; n < rows; ++n) {
            const float* zn = z_.data() + n * pixels * out;
            float* yn = y.data() + n * out * pixels;
            for (std::size_t o = 0; o < out; ++o) {
                const float bias = b ? b[o] : 0.0f;
                float* yo = yn + o * pixels;
                for (std::size_t p = 0; p < pixels; ++p) yo[p] = zn[p * out + o] + bias;
            }
        }
    }

    // Reads the im2col matrix of forward's input (kept in col_), as BatchNorm keeps its x-hat.
    void backward(const Matrix&, const Matrix&, const Matrix& dy, Matrix* dx) {
        const auto& w = params_[0].value;
        const std::size_t out = w.shape()[0], in = w.shape()[1];
        const std::size_t pixels = out_height_ * out_width_, rows = dy.shape()[0];
        detail::resize_matrix(dz_, rows * pixels, out);
        for (std::size_t n = 0; n < rows; ++n) {
            const float* gn = dy.data() + n * out * pixels;
            float* dzn = dz_.data() + n * pixels * out;
            for (std::size_t o = 0; o < out; ++o) {
                const float* go = gn + o * pixels;
                for (std::size_t p = 0; p < pixels; ++p) dzn[p * out + o] = go[p];
            }
        }
        detail::gemm(dz_, col_, kernel_grad_, true, false, input_scale_);  // out x patch
        Tensor& grad = params_[0].grad;
        if (grad.shape() != w.shape()) grad.resize(w.shape());
        std::copy(kernel_grad_.data(), kernel_grad_.data() + kernel_grad_.size(), grad.data());
        if (has_bias_) {
            detail::column_sums(dz_, bias_grad_);
            xt::noalias(params_[1].grad) = bias_grad_;
        }
        if (!dx) return;
        detail::gemm(dz_, kernel_, dcol_, false, false, input_scale_);  // (rows * pixels) x patch
        col2im(*dx, rows, in);
    }

    std::span<Parameter> parameters() { return {params_.data(), has_bias_ ? 2u : 1u}; }
    std::span<const Parameter> parameters() const { return {params_.data(), has_bias_ ? 2u : 1u}; }

    /// Activation scaling for subnets: multiply the pre-activation by full/held input channels.
    void set_input_scale(float s) { input_scale_ = s; }
    float input_scale() const { return input_scale_; }

private:
    /// col_(n * pixels + p, (c * k + i) * k + j) = x(n, c, oh * stride + i - pad, ow * stride + j - pad),
    /// zero outside the image.
    void im2col(const Matrix& x, std::size_t in) {
        const std::size_t k = kernel(), patch = in * k * k, rows = x.shape()[0], plane = height_ * width_;
        detail::resize_matrix(col_, rows * out_height_ * out_width_, patch);
        float* dst = col_.data();
        for (std::size_t n = 0; n < rows; ++n) {
            const float* xn = x.data() + n * in * plane;
            for (std::size_t oh = 0; oh < out_height_; ++oh)
                for (std::size_t ow = 0; ow < out_width_; ++ow)
                    for (std::size_t c = 0; c < in; ++c) {
                        const float* xc = xn + c * plane;
                        for (std::size_t i = 0; i < k; ++i) {
                            const auto ih = static_cast<std::ptrdiff_t>(oh * stride_ + i) - static_cast<std::ptrdiff_t>(padding_);
                            const bool row_inside = ih >= 0 && ih < static_cast<std::ptrdiff_t>(height_);
                            for (std::size_t j = 0; j < k; ++j, ++dst) {
                                const auto iw = static_cast<std::ptrdiff_t>(ow * stride_ + j) - static_cast<std::ptrdiff_t>(padding_);
                                *dst = row_inside && iw >= 0 && iw < static_cast<std::ptrdiff_t>(width_)
                                           ? xc[static_cast<std::size_t>(ih) * width_ + static_cast<std::size_t>(iw)]
                                           : 0.0f;
                            }
                        }
                    }
        }
    }

    /// The adjoint of im2col: every entry of dcol_ is added back to the pixel it was copied from.
    void col2im(Matrix& dx, std::size_t rows, std::size_t in) const {
        const std::size_t k = kernel(), plane = height_ * width_;
        detail::resize_matrix(dx, rows, in * plane);
        std::fill(dx.begin(), dx.end(), 0.0f);
        const float* src = dcol_.data();
        for (std::size_t n = 0; n < rows; ++n) {
            float* dn = dx.data() + n * in * plane;
            for (std::size_t oh = 0; oh < out_height_; ++oh)
                for (std::size_t ow = 0; ow < out_width_; ++ow)
                    for (std::size_t c = 0; c < in; ++c) {
                        float* dc = dn + c * plane;
                        for (std::size_t i = 0; i < k; ++i) {
                            const auto ih = static_cast<std::ptrdiff_t>(oh * stride_ + i) - static_cast<std::ptrdiff_t>(padding_);
                            const bool row_inside = ih >= 0 && ih < static_cast<std::ptrdiff_t>(height_);
                            for (std::size_t j = 0; j < k; ++j, ++src) {
                                const auto iw = static_cast<std::ptrdiff_t>(ow * stride_ + j) - static_cast<std::ptrdiff_t>(padding_);
                                if (row_inside && iw >= 0 && iw < static_cast<std::ptrdiff_t>(width_))
                                    dc[static_cast<std::size_t>(ih) * width_ + static_cast<std::size_t>(iw)] += *src;
                            }
                        }
                    }
        }
    }

    std::array<Parameter, 2> params_;
    std::size_t stride_, padding_;
    bool has_bias_;
    float input_scale_ = 1.0f;
    // Buffers kept between steps so that no step allocates; col_ is also backward's input.
    Matrix col_, kernel_, z_, dz_, kernel_grad_, dcol_;
    xt::xtensor<float, 1> bias_grad_;
};

}  // namespace ist
