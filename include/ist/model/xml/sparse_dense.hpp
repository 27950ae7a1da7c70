#pragma once
// A fully connected layer over sparse input rows (CSR bag-of-words), y = x W^T + b: the first layer
// of an extreme-classification network (IST on Amazon-670k: Yuan et al. 2019 / Wolfe et al.).
// The weight is stored transposed, features x outputs (axes {In, Out}), so each input feature owns
// one contiguous row: the forward pass adds value x row for each stored entry, and the backward
// pass writes only the rows of the features present in the batch. Both cost O(nnz x outputs).
// IST cuts the output neurons, as it cuts Dense's; the input (the vocabulary) is never cut.
#include <algorithm>
#include <array>
#include <cmath>
#include <span>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/data/sparse_dataset.hpp"
#include "ist/detail/random.hpp"

namespace ist {

class SparseDense {
public:
    /// Initialised like Dense (PyTorch's Linear): U(-1/sqrt(inputs), 1/sqrt(inputs)) from `seed`.
    SparseDense(std::size_t inputs, std::size_t outputs, std::uint64_t seed = 0) {
        detail::require(inputs > 0 && outputs > 0, "SparseDense: inputs and outputs must be positive, got " +
                                                        std::to_string(inputs) + " x " + std::to_string(outputs));
        detail::RandomEngine rng(seed);
        const float bound = 1.0f / std::sqrt(static_cast<float>(inputs));
        params_[0] = {"weight_t", Tensor::from_shape({inputs, outputs}), {}, {Axis::In, Axis::Out}};
        detail::fill_uniform(params_[0].value, rng, -bound, bound);
        params_[1] = {"bias", Tensor::from_shape({outputs}), {}, {Axis::Out}};
        detail::fill_uniform(params_[1].value, rng, -bound, bound);
    }

    std::size_t inputs() const { return params_[0].value.shape()[0]; }
    std::size_t outputs() const { return params_[0].value.shape()[1]; }

    void forward(const CsrMatrix& x, Matrix& y) const {
        detail::require<DataError>(x.cols == inputs(), "SparseDense: input has " + std::to_string(x.cols) +
                                                           " features, the layer expects " + std::to_string(inputs()));
        const std::size_t width = outputs(), rows = x.rows();
        if (y.shape()[0] != rows || y.shape()[1] != width) y.resize({rows, width});
        const float* w = params_[0].value.data();
        const float* b = params_[1].value.data();
        for (std::size_t r = 0; r < rows; ++r) {
            float* yr = y.data() + r * width;
            std::copy(b, b + width, yr);
            const auto idx = x.row_indices(r);
            const auto val = x.row_values(r);
            for (std::size_t k = 0; k < idx.size(); ++k) add_scaled(val[k], w + std::size_t{idx[k]} * width, yr, width);
        }
    }

    /// Fills the parameters' gradients from dL/dy. The weight gradient is dense storage (momentum,
    /// Adam and the aggregators step every element), so the rows touched by the previous call are
    /// zeroed first and only this batch's rows are written: O(nnz x outputs), never a pass over
    /// features x outputs after the first call. The written rows are published as the weight's
    /// Parameter::grad_rows (plain SGD then steps only them). That is exact only while nothing else
    /// writes the gradient between calls, so a gradient that was changed (an all-reduce) or
    /// replaced (a new subnet) is cleared whole; see reset_gradient.
    void backward(const CsrMatrix& x, const Matrix& dy) {
        Parameter& weight = params_[0];
        Tensor& grad = weight.grad;
        const std::size_t width = outputs();
        if (grad.shape() != weight.value.shape()) grad = Tensor::from_shape(weight.value.shape());
        if (grad.data() != last_grad_ || !weight.grad_rows) {  // in place: no second full-size buffer
            std::fill_n(grad.data(), grad.size(), 0.0f);
            weight.grad_rows.emplace();
        }
        std::vector<std::uint32_t>& touched = *weight.grad_rows;
        for (std::uint32_t j : touched) std::fill_n(grad.data() + std::size_t{j} * width, width, 0.0f);
        touched.clear();
        for (std::size_t r = 0; r < x.rows(); ++r) {
            const auto idx = x.row_indices(r);
            const auto val = x.row_values(r);
            for (std::size_t k = 0; k < idx.size(); ++k) {
                add_scaled(val[k], dy.data() + r * width, grad.data() + std::size_t{idx[k]} * width, width);
                touched.push_back(idx[k]);
            }
        }
        std::sort(touched.begin(), touched.end());
        touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
        last_grad_ = grad.data();
        Tensor& bias_grad = params_[1].grad;
        bias_grad = xt::zeros<float>({width});
        for (std::size_t r = 0; r < dy.shape()[0]; ++r) add_scaled(1.0f, dy.data() + r * width, bias_grad.data(), width);
    }

    /// The feature rows of the weight gradient the last backward wrote (sorted): the only rows a
    /// sparse-aware optimizer or exchange needs to look at. Empty after reset_gradient.
    std::span<const std::uint32_t> touched_rows() const {
        if (!params_[0].grad_rows) return {};
        return *params_[0].grad_rows;
    }

    /// Makes the next backward clear the whole weight gradient, and withdraws the row list (call
    /// after anything but this layer has written the gradient, e.g. a gradient all-reduce).
    void reset_gradient() { params_[0].grad_rows.reset(); }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

private:
    static void add_scaled(float a, const float* from, float* to, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i) to[i] += a * from[i];
    }

    std::array<Parameter, 2> params_;
    const float* last_grad_ = nullptr;
};

}  // namespace ist
