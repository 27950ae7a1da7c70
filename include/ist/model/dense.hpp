#pragma once
// Fully connected layer y = s * x W^T (+ b), the unit IST partitions by neurons.
#include <array>
#include <cmath>

#include <xtensor/xnoalias.hpp>

#include "ist/core/error.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/detail/random.hpp"
#include "ist/model/layer.hpp"

namespace ist {

/// Dense layer with weight W (out x in, axes {Out, In}) and an optional bias b (out, axis Out).
/// Initialised like PyTorch's Linear: U(-1/sqrt(in), 1/sqrt(in)), from `seed`.
class Dense {
public:
    static constexpr bool opens_dimension = true;

    Dense(std::size_t inputs, std::size_t outputs, bool bias = true, std::uint64_t seed = 0) : has_bias_(bias) {
        detail::require(inputs > 0 && outputs > 0, "Dense: inputs and outputs must be positive, got " +
                                                        std::to_string(inputs) + " x " + std::to_string(outputs));
        detail::RandomEngine rng(seed);
        const float bound = 1.0f / std::sqrt(static_cast<float>(inputs));
        params_[0] = {"weight", Tensor::from_shape({outputs, inputs}), {}, {Axis::Out, Axis::In}};
        detail::fill_uniform(params_[0].value, rng, -bound, bound);
        if (has_bias_) {
            params_[1] = {"bias", Tensor::from_shape({outputs}), {}, {Axis::Out}};
            detail::fill_uniform(params_[1].value, rng, -bound, bound);
        }
    }

    void forward(const Matrix& x, Matrix& y, Mode) {
        const auto& w = params_[0].value;
        detail::require<DataError>(x.shape()[1] == w.shape()[1],
                                   "Dense: input has " + std::to_string(x.shape()[1]) +
                                       " features, the layer expects " + std::to_string(w.shape()[1]));
        detail::gemm(x, w, y, false, true, input_scale_);
        if (!has_bias_) return;
        // A row loop: xtensor evaluates the row-broadcast y += view(b, newaxis, all) element-wise
        // through steppers, many times slower.
        const std::size_t rows = y.shape()[0], cols = y.shape()[1];
        const float* b = params_[1].value.data();
        for (std::size_t i = 0; i < rows; ++i) {
            float* yr = y.data() + i * cols;
            for (std::size_t j = 0; j < cols; ++j) yr[j] += b[j];
        }
    }

    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) {
        detail::gemm(dy, x, params_[0].grad, true, false, input_scale_);
        if (has_bias_) {
            detail::column_sums(dy, bias_grad_);
            xt::noalias(params_[1].grad) = bias_grad_;
        }
        if (dx) detail::gemm(dy, params_[0].value, *dx, false, false, input_scale_);
    }

    std::span<Parameter> parameters() { return {params_.data(), has_bias_ ? 2u : 1u}; }
    std::span<const Parameter> parameters() const { return {params_.data(), has_bias_ ? 2u : 1u}; }

    /// Activation scaling for subnets: multiply the pre-activation by full/held input width.
    void set_input_scale(float s) { input_scale_ = s; }
    float input_scale() const { return input_scale_; }

private:
    std::array<Parameter, 2> params_;
    bool has_bias_;
    xt::xtensor<float, 1> bias_grad_;  // column sums land here (BLAS wants a fixed-rank vector)
    float input_scale_ = 1.0f;
};

}  // namespace ist
