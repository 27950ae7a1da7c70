#pragma once
// The 2-layer network of extreme classification (IST on Amazon-670k: Yuan et al. 2019 / Wolfe et
// al.): sparse bag-of-words -> SparseDense -> ReLU -> Dense -> one logit per label, trained with a
// multi-label loss. IST cuts the hidden neurons; the input (vocabulary) and the labels are whole in
// every subnet. It models ist::Model, so IstTrainer trains it; it also takes dense batches (each
// row's non-zeros become its sparse row, its label a one-label set) so the Model concept's dense
// entry points mean the same thing.
#include <array>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <xtensor/xnoalias.hpp>

#include "ist/core/dimension.hpp"
#include "ist/core/labels.hpp"
#include "ist/core/plan.hpp"
#include "ist/detail/gather.hpp"
#include "ist/model/dense.hpp"
#include "ist/model/xml/multilabel_loss.hpp"
#include "ist/model/xml/sparse_dense.hpp"

namespace ist {

namespace detail {

/// The non-zeros of each row of `x` as a CSR matrix.
inline void dense_to_csr(const Matrix& x, CsrMatrix& out) {
    out = CsrMatrix{};
    out.cols = x.shape()[1];
    for (std::size_t r = 0; r < x.shape()[0]; ++r) {
        for (std::size_t j = 0; j < out.cols; ++j)
            if (const float v = x(r, j); v != 0.0f) out.indices.push_back(static_cast<std::uint32_t>(j)), out.values.push_back(v);
        out.indptr.push_back(out.indices.size());
    }
}

/// One-label sets from class labels (kUnlabeled: an empty set).
inline LabelSets singleton_sets(const Labels& y) {
    LabelSets out;
    for (std::uint32_t label : y) {
        if (label == kUnlabeled) out.append_row({});
        else out.append_row(std::span<const std::uint32_t>(&label, 1));
    }
    return out;
}

}  // namespace detail

class XmlNetwork {
public:
    XmlNetwork(std::size_t features, std::size_t hidden, std::size_t labels, std::uint64_t seed = 0,
               MultiLabelLoss loss = MultiLabelLoss::SoftmaxNormalized)
        : input_(features, hidden, seed), output_(hidden, labels, true, seed + 1), loss_(loss),
          dims_(std::make_shared<DimensionTable>(
              DimensionTable{features_dimension("input", features, false), features_dimension("hidden", hidden, true),
                             features_dimension("labels", labels, false)})) {}

    const DimensionTable& dimensions() const { return *dims_; }
    std::size_t parameter_count() const { return 4; }
    Parameter& parameter(std::size_t i) { return i < 2 ? input_.parameters()[i] : output_.parameters()[i - 2]; }
    const Parameter& parameter(std::size_t i) const {
        return i < 2 ? input_.parameters()[i] : output_.parameters()[i - 2];
    }
    /// weight_t (features x hidden), bias (hidden), weight (labels x hidden), bias (labels).
    std::span<const DimId> parameter_dims(std::size_t i) const {
        static const std::array<std::vector<DimId>, 4> axes{{{0, 1}, {1}, {2, 1}, {2}}};
        return axes.at(i);
    }
    MultiLabelLoss loss_kind() const { return loss_; }

    /// The network holding only the plan's hidden neurons; with `scale_activations` the output
    /// layer multiplies its input by full/held hidden width (as Network does for Dense).
    XmlNetwork subnet(const WorkerPlan& plan, bool scale_activations = false) const {
        detail::require(plan.dims.size() == 3, "XmlNetwork::subnet: plan has " + std::to_string(plan.dims.size()) +
                                                   " dimensions, the network 3");
        XmlNetwork sub(Shell{}, *this);
        auto held = std::make_shared<DimensionTable>(*dims_);
        for (std::size_t d = 0; d < 3; ++d) (*held)[d].size = plan.held(static_cast<DimId>(d), (*dims_)[d].size);
        sub.dims_ = held;
        for (std::size_t i = 0; i < parameter_count(); ++i) {
            const auto axes = parameter_dims(i);
            sub.parameter(i).value = detail::slice_for(parameter(i).value, {axes.begin(), axes.end()}, {}, plan);
            sub.parameter(i).grad = Tensor();
        }
        if (scale_activations)
            sub.output_.set_input_scale(static_cast<float>((*dims_)[1].size) / static_cast<float>((*held)[1].size));
        return sub;
    }

    const Matrix& forward(const CsrMatrix& x, Mode = Mode::Eval) {
        input_.forward(x, pre_);
        xt::noalias(hidden_) = xt::maximum(pre_, 0.0f);
        output_.forward(hidden_, logits_, Mode::Eval);
        return logits_;
    }

    /// One training step's loss and gradients: O(nnz x hidden) in the sparse layer, one GEMM each
    /// way in the output layer.
    float loss_and_gradient(const CsrMatrix& x, const LabelSets& y) {
        forward(x, Mode::Train);
        const float loss = multilabel_loss(logits_, y, loss_, &dlogits_);
        output_.backward(hidden_, logits_, dlogits_, &dhidden_);
        xt::noalias(dhidden_) = xt::where(pre_ > 0.0f, dhidden_, 0.0f);
        input_.backward(x, dhidden_);
        return loss;
    }

    /// Something other than backward wrote the gradients (a data-parallel all-reduce): see
    /// SparseDense::reset_gradient.
    void gradients_overwritten() { input_.reset_gradient(); }

    const Matrix& forward(const Matrix& x, Mode mode) {
        detail::dense_to_csr(x, dense_rows_);
        return forward(dense_rows_, mode);
    }
    float loss_and_gradient(const Matrix& x, const Labels& y) {
        detail::dense_to_csr(x, dense_rows_);
        return loss_and_gradient(dense_rows_, detail::singleton_sets(y));
    }

private:
    struct Shell {};
    /// `like`'s loss and sizes with 1 x 1 layers and no buffers, for subnet() to fill with slices:
    /// a copy of the whole master would be a transient full-size model in every IST worker.
    XmlNetwork(Shell, const XmlNetwork& like) : input_(1, 1), output_(1, 1, true), loss_(like.loss_), dims_(like.dims_) {}

    SparseDense input_;
    Dense output_;
    MultiLabelLoss loss_;
    std::shared_ptr<const DimensionTable> dims_;  // a subnet's sizes
    Matrix pre_, hidden_, logits_, dlogits_, dhidden_;
    CsrMatrix dense_rows_;
};

}  // namespace ist
