#pragma once
// Graph convolution y = s * (A_hat x W^T [+ x W_self^T]) (+ b): the layer GIST partitions by
// feature dimension, exactly as IST partitions a dense layer's neurons.
#include <cmath>
#include <memory>
#include <span>
#include <random>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/blas.hpp"
#include "ist/graph/graph.hpp"
#include "ist/model/layer.hpp"

namespace ist {

struct GraphConvOptions {
    bool bias = true;
    /// GraphSAGE-style concatenation: y = [A_hat x, x] [W, W_self]^T, i.e. a second weight
    /// W_self (out x in, axes {Out, In}) applied to the node's own features.
    bool self_weight = false;
    std::uint64_t seed = 0;
};

/// Graph convolution over a fixed graph (Kipf & Welling): the rows of x are the graph's nodes,
/// in order, and every batch is the whole graph. `a_hat` is the propagation matrix, usually
/// graph.normalized_adjacency(); it is shared, not copied, by every copy of the layer (each
/// worker's subnet), and a Graph is symmetric, so the backward pass's A_hat^T is A_hat.
///
/// Parameters: weight (out x in, axes {Out, In}), then self_weight (same) if enabled, then bias
/// (out, axis Out) if enabled; so GIST's cut of the hidden feature dimension is the neuron cut
/// of Dense. Initialised like Dense: U(-1/sqrt(in), 1/sqrt(in)) from the seed.
///
/// Cost per pass: one sparse product over the narrower side (A_hat (x W^T) when out < in,
/// (A_hat x) W^T otherwise) plus the GEMMs of a dense layer on N rows.
class GraphConv {
public:
    static constexpr bool opens_dimension = true;

    GraphConv(std::shared_ptr<const Graph> a_hat, std::size_t inputs, std::size_t outputs,
              const GraphConvOptions& options = {})
        : graph_(std::move(a_hat)) {
        detail::require(graph_ != nullptr && graph_->nodes() > 0, "GraphConv: needs a graph with nodes");
        detail::require(inputs > 0 && outputs > 0, "GraphConv: inputs and outputs must be positive, got " +
                                                       std::to_string(inputs) + " x " + std::to_string(outputs));
        std::mt19937_64 rng(options.seed);
        const float bound = 1.0f / std::sqrt(static_cast<float>(inputs));
        std::uniform_real_distribution<float> u(-bound, bound);
        const auto add = [&](const char* name, std::vector<std::size_t> shape, std::vector<Axis> axes) {
            Parameter p{name, Tensor::from_shape(shape), {}, std::move(axes)};
            for (auto& w : p.value) w = u(rng);
            params_.push_back(std::move(p));
        };
        add("weight", {outputs, inputs}, {Axis::Out, Axis::In});
        if (options.self_weight) {
            self_ = params_.size();
            add("self_weight", {outputs, inputs}, {Axis::Out, Axis::In});
        }
        if (options.bias) {
            bias_ = params_.size();
            add("bias", {outputs}, {Axis::Out});
        }
    }

    void forward(const Matrix& x, Matrix& y, Mode) {
        const auto& w = params_[0].value;
        detail::require<DataError>(x.shape()[1] == w.shape()[1],
                                   "GraphConv: input has " + std::to_string(x.shape()[1]) +
                                       " features, the layer expects " + std::to_string(w.shape()[1]));
        check_rows(x);
        if (aggregate_first()) {
            spmm(*graph_, x, mixed_);
            detail::gemm(mixed_, w, y, false, true, input_scale_);
        } else {
            detail::gemm(x, w, mixed_, false, true, input_scale_);
            spmm(*graph_, mixed_, y);
        }
        if (self_) detail::gemm(x, params_[self_].value, y, false, true, input_scale_, 1.0f);
        if (!bias_) return;
        // A row loop, as in Dense: xtensor's row broadcast is many times slower.
        const std::size_t rows = y.shape()[0], cols = y.shape()[1];
        const float* b = params_[bias_].value.data();
        for (std::size_t i = 0; i < rows; ++i) {
            float* yr = y.data() + i * cols;
            for (std::size_t j = 0; j < cols; ++j) yr[j] += b[j];
        }
    }

    // y = s A X W^T: dW = s dy^T (A X) = s (A^T dy)^T X, dX = s A^T dy W.
    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) {
        const auto& w = params_[0].value;
        if (aggregate_first()) {
            spmm(*graph_, x, mixed_);  // A X, recomputed: cheaper than keeping it per layer copy
            detail::gemm(dy, mixed_, params_[0].grad, true, false, input_scale_);
            if (dx) {
                detail::gemm(dy, w, mixed_, false, false, input_scale_);
                spmm_transposed(*graph_, mixed_, *dx);
            }
        } else {
            spmm_transposed(*graph_, dy, mixed_);  // A^T dy
            detail::gemm(mixed_, x, params_[0].grad, true, false, input_scale_);
            if (dx) detail::gemm(mixed_, w, *dx, false, false, input_scale_);
        }
        if (self_) {
            detail::gemm(dy, x, params_[self_].grad, true, false, input_scale_);
            if (dx) detail::gemm(dy, params_[self_].value, *dx, false, false, input_scale_, 1.0f);
        }
        if (bias_) {
            detail::column_sums(dy, bias_grad_);
            params_[bias_].grad = bias_grad_;
        }
    }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

    /// Activation scaling for subnets, as Dense: multiply by full / held input width.
    void set_input_scale(float s) { input_scale_ = s; }
    float input_scale() const { return input_scale_; }

    const std::shared_ptr<const Graph>& graph() const { return graph_; }

private:
    // Sparse product on the narrower of input and output (shapes from the parameters: a subnet's
    // widths differ from the full layer's).
    bool aggregate_first() const { return params_[0].value.shape()[1] <= params_[0].value.shape()[0]; }

    void check_rows(const Matrix& x) const {
        detail::require<DataError>(x.shape()[0] == graph_->nodes(),
                                   "GraphConv: the batch has " + std::to_string(x.shape()[0]) +
                                       " rows, the graph has " + std::to_string(graph_->nodes()) +
                                       " nodes (a graph layer takes the whole graph, one row per node)");
    }

    std::shared_ptr<const Graph> graph_;
    std::vector<Parameter> params_;
    std::size_t self_ = 0, bias_ = 0;  // positions in params_, 0 = absent (weight is always 0)
    Matrix mixed_;                     // A x, x W^T, dy W or A^T dy: scratch reused across passes
    xt::xtensor<float, 1> bias_grad_;
    float input_scale_ = 1.0f;
};

}  // namespace ist
