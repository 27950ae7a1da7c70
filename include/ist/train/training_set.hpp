#pragma once
// What IstTrainer trains on: a dense Dataset (rows of features, one class each) or a
// SparseDataset (CSR rows, a label set each), and the model requirements of the sparse kind.
// One training loop serves both: a worker's batch is drawn from its stream the same way, then
// gathered as the set's own batch type (LocalBatch) and handed to the model's loss_and_gradient.
#include <concepts>
#include <span>
#include <vector>

#include "ist/core/tensor.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/sparse_dataset.hpp"
#include "ist/model/xml/multilabel_loss.hpp"

namespace ist {

/// A data set IstTrainer accepts: ist::Dataset or ist::SparseDataset (each has a LocalBatch below,
/// evaluate and check_data_fits overloads in evaluate.hpp, and a way to draw batches in the trainer).
template <class D>
concept TrainingSet = std::same_as<D, Dataset> || std::same_as<D, SparseDataset>;

/// A model that trains on sparse batches (CSR rows, label sets) and says which loss it uses, so
/// evaluation reports the same loss: ist::XmlNetwork.
template <class M>
concept SparseModel = requires(M& m, const M& cm, const CsrMatrix& x, const LabelSets& y) {
    { m.loss_and_gradient(x, y) } -> std::convertible_to<float>;
    { m.forward(x, Mode::Eval) } -> std::convertible_to<const Matrix&>;
    { cm.loss_kind() } -> std::convertible_to<MultiLabelLoss>;
};

/// A model that trains on `D`.
template <class M, class D>
concept TrainsOn = std::same_as<D, Dataset> || SparseModel<M>;

/// Optional hook: `gradients_overwritten()` after something other than the model's backward wrote
/// its gradients (the data-parallel all-reduce); SparseDense then clears its whole gradient.
template <class M>
concept TracksGradientWrites = requires(M& m) { m.gradients_overwritten(); };

/// A worker's scratch for one local batch of a `D`.
template <TrainingSet D>
struct LocalBatch;

template <>
struct LocalBatch<Dataset> {
    Matrix x, x_held;
    Labels y;
};

template <>
struct LocalBatch<SparseDataset> {
    CsrMatrix x;
    LabelSets y;
};

}  // namespace ist
