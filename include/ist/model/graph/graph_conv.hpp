#pragma once
// Graph convolution y = s * (A_hat x W^T [+ x W_self^T]) (+ b): the layer GIST partitions by
// feature dimension, exactly as IST partitions a dense layer's neurons.
#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/detail/random.hpp"
#include "ist/data/graph.hpp"
#include "ist/model/layer.hpp"

namespace ist {

struct GraphConvOptions {
    bool bias = true;
    /// GraphSAGE-style concatenation: y = [A_hat x, x] [W, W_self]^T, i.e. a second weight
    /// W_self (out x in, axes {Out, In}) applied to the node's own features.
    bool self_weight = false;
    std::uint64_t seed = 0;
};

/// A plain graph and its normalised adjacency A_hat, computed once here and shared (not copied)
/// by every GraphConv built from it and every copy of those layers.
class GcnGraph {
public:
    explicit GcnGraph(std::shared_ptr<const Graph> plain) : plain_(std::move(plain)) {
        detail::require(plain_ != nullptr && !plain_->normalized(),
                        "GcnGraph: needs the plain graph; it normalises it itself");
        a_hat_ = std::make_shared<const Graph>(plain_->normalized_adjacency());
    }
    explicit GcnGraph(Graph plain) : GcnGraph(std::make_shared<const Graph>(std::move(plain))) {}

    const std::shared_ptr<const Graph>& plain() const { return plain_; }
    const std::shared_ptr<const Graph>& a_hat() const { return a_hat_; }

private:
    std::shared_ptr<const Graph> plain_, a_hat_;
};

/// Graph convolution over a fixed graph (Kipf & Welling): by default the rows of x are the
/// graph's nodes, in order, and every batch is the whole graph. `a_hat` is the propagation
/// matrix, usually graph.normalized_adjacency(); it is shared, not copied, by every copy of the
/// layer (each worker's subnet), and a Graph is symmetric, so the backward pass's A_hat^T is A_hat.
///
/// Mini-batches (Cluster-GCN): set_batch_rows(rows) makes x's rows the nodes `rows`, in that
/// order, and propagates over the normalised adjacency of the subgraph they induce in the plain
/// graph; so a layer that takes batches is built from a GcnGraph, which keeps the plain graph.
/// (Built from A_hat alone, it accepts only batches that reorder all nodes.) Each copy of the
/// layer keeps its own batch, so workers never share anything mutable.
///
/// Parameters: weight (out x in, axes {Out, In}), then self_weight (same) if enabled, then bias
/// (out, axis Out) if enabled; so GIST's cut of the hidden feature dimension is the neuron cut
/// of Dense. Initialised like Dense: U(-1/sqrt(in), 1/sqrt(in)) from the seed.
///
/// Cost per pass: one sparse product over the narrower side (A_hat (x W^T) when out < in,
/// (A_hat x) W^T otherwise) plus the GEMMs of a dense layer on the batch's rows. A new batch
/// costs O(N) plus its nodes' degrees to build its matrix.
class GraphConv {
public:
    static constexpr bool opens_dimension = true;

    GraphConv(std::shared_ptr<const Graph> a_hat, std::size_t inputs, std::size_t outputs,
              const GraphConvOptions& options = {})
        : GraphConv(std::move(a_hat), nullptr, inputs, outputs, options) {}

    /// Propagates over graph.a_hat() and takes mini-batches of graph.plain() (set_batch_rows).
    GraphConv(const GcnGraph& graph, std::size_t inputs, std::size_t outputs, const GraphConvOptions& options = {})
        : GraphConv(graph.a_hat(), graph.plain(), inputs, outputs, options) {}

    /// Makes the next passes take the batch whose rows are the nodes `rows`, in that order (the
    /// Network calls it before each forward with the batch's dataset row indices). Rows 0..N-1
    /// in order use A_hat itself; any other batch builds the normalised adjacency of its induced
    /// subgraph, once: the same rows again reuse it. Throws ist::DataError for a node out of
    /// range or listed twice, ist::ConfigError for a batch that needs a plain graph the layer
    /// lacks.
    void set_batch_rows(std::span<const std::uint32_t> rows) {
        detail::require<DataError>(!rows.empty(), "GraphConv::set_batch_rows: the batch has no rows");
        if (std::ranges::equal(rows, batch_rows_)) return;
        if (whole_graph(rows)) {
            batch_ = graph_;
            batch_rows_.clear();
            return;
        }
        batch_ = std::make_shared<const Graph>(batch_matrix(rows));
        batch_rows_.assign(rows.begin(), rows.end());
    }

    /// The matrix the next pass propagates over: A_hat, or the current batch's.
    const Graph& propagation() const { return *batch_; }

    void forward(const Matrix& x, Matrix& y, Mode) {
        const auto& w = params_[0].value;
        detail::require<DataError>(x.shape()[1] == w.shape()[1],
                                   "GraphConv: input has " + std::to_string(x.shape()[1]) +
                                       " features, the layer expects " + std::to_string(w.shape()[1]));
        check_rows(x);
        if (aggregate_first()) {
            spmm(*batch_, x, mixed_);
            detail::gemm(mixed_, w, y, false, true, input_scale_);
        } else {
            detail::gemm(x, w, mixed_, false, true, input_scale_);
            spmm(*batch_, mixed_, y);
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
            spmm(*batch_, x, mixed_);  // A X, recomputed: cheaper than keeping it per layer copy
            detail::gemm(dy, mixed_, params_[0].grad, true, false, input_scale_);
            if (dx) {
                detail::gemm(dy, w, mixed_, false, false, input_scale_);
                spmm_transposed(*batch_, mixed_, *dx);
            }
        } else {
            spmm_transposed(*batch_, dy, mixed_);  // A^T dy
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

    /// A_hat of the whole graph.
    const std::shared_ptr<const Graph>& graph() const { return graph_; }
    /// The plain graph batches are cut from; null for a layer built from A_hat alone.
    const std::shared_ptr<const Graph>& plain_graph() const { return plain_; }

private:
    GraphConv(std::shared_ptr<const Graph> a_hat, std::shared_ptr<const Graph> plain, std::size_t inputs,
              std::size_t outputs, const GraphConvOptions& options)
        : graph_(std::move(a_hat)), plain_(std::move(plain)), batch_(graph_) {
        detail::require(graph_ != nullptr && graph_->nodes() > 0, "GraphConv: needs a graph with nodes");
        detail::require(inputs > 0 && outputs > 0, "GraphConv: inputs and outputs must be positive, got " +
                                                       std::to_string(inputs) + " x " + std::to_string(outputs));
        detail::RandomEngine rng(options.seed);
        const float bound = 1.0f / std::sqrt(static_cast<float>(inputs));
        const auto add = [&](const char* name, std::vector<std::size_t> shape, std::vector<Axis> axes) {
            Parameter p{name, Tensor::from_shape(shape), {}, std::move(axes)};
            detail::fill_uniform(p.value, rng, -bound, bound);
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

    // Sparse product on the narrower of input and output (shapes from the parameters: a subnet's
    // widths differ from the full layer's).
    bool aggregate_first() const { return params_[0].value.shape()[1] <= params_[0].value.shape()[0]; }

    void check_rows(const Matrix& x) const {
        const std::size_t rows = x.shape()[0];
        if (batch_rows_.empty())
            detail::require<DataError>(rows == graph_->nodes(),
                                       "GraphConv: the batch has " + std::to_string(rows) + " rows, the graph has " +
                                           std::to_string(graph_->nodes()) +
                                           " nodes (a graph layer takes the whole graph, one row per node)");
        else
            detail::require<DataError>(rows == batch_rows_.size(),
                                       "GraphConv: the batch has " + std::to_string(rows) + " rows, set_batch_rows gave " +
                                           std::to_string(batch_rows_.size()) + " nodes (one row per node, in that order)");
    }

    bool whole_graph(std::span<const std::uint32_t> rows) const {
        if (rows.size() != graph_->nodes()) return false;
        for (std::size_t i = 0; i < rows.size(); ++i)
            if (rows[i] != i) return false;
        return true;
    }

    // Cluster-GCN: the batch's subgraph of the plain graph, normalised on its own.
    Graph batch_matrix(std::span<const std::uint32_t> rows) const {
        if (plain_) return induced_subgraph(*plain_, rows).normalized_adjacency();
        // Relabelling the nodes commutes with the normalisation, so A_hat itself serves a reorder.
        detail::require(rows.size() == graph_->nodes(),
                        "GraphConv::set_batch_rows: a batch of " + std::to_string(rows.size()) + " of the " +
                            std::to_string(graph_->nodes()) +
                            " nodes needs the plain graph to normalise its induced subgraph (build the layer from a "
                            "GcnGraph)");
        return induced_subgraph(*graph_, rows);
    }

    std::shared_ptr<const Graph> graph_;   // A_hat of the whole graph
    std::shared_ptr<const Graph> plain_;   // the plain graph batches are cut from; null without a GcnGraph
    std::shared_ptr<const Graph> batch_;   // what passes propagate over: graph_ or the current batch's
    std::vector<std::uint32_t> batch_rows_;  // the rows batch_ was built for; empty for the whole graph
    std::vector<Parameter> params_;
    std::size_t self_ = 0, bias_ = 0;  // positions in params_, 0 = absent (weight is always 0)
    Matrix mixed_;                     // A x, x W^T, dy W or A^T dy: scratch reused across passes
    xt::xtensor<float, 1> bias_grad_;
    float input_scale_ = 1.0f;
};

}  // namespace ist
