#pragma once
// What IstTrainer trains on: a dense Dataset (rows of features, one class each), a SparseDataset
// (CSR rows, a label set each) or a RegressionSet (rows of features, real targets each), and the
// loss each asks of a model (TrainsOn).
// One training loop serves both: a worker's batch is drawn from its stream the same way, then
// gathered as the set's own batch type (LocalBatch) and handed to the model's loss_and_gradient.
#include <concepts>
#include <span>
#include <vector>

#include "ist/core/tensor.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/regression_set.hpp"
#include "ist/data/sparse_dataset.hpp"
#include "ist/model/xml/multilabel_loss.hpp"

namespace ist {

/// A data set IstTrainer accepts: ist::Dataset, ist::SparseDataset or ist::RegressionSet (each has a
/// LocalBatch below, evaluate and check_data_fits overloads in evaluate.hpp, and a way to draw
/// batches in the trainer).
template <class D>
concept TrainingSet = std::same_as<D, Dataset> || std::same_as<D, SparseDataset> || std::same_as<D, RegressionSet>;

/// A model that trains on dense batches with class labels: ist::Network, Transformer, XmlNetwork.
template <class M>
concept ClassifierModel = requires(M& m, const Matrix& x, const Labels& y) {
    { m.loss_and_gradient(x, y) } -> std::convertible_to<float>;
};

/// A model that trains on sparse batches (CSR rows, label sets) and says which loss it uses, so
/// evaluation reports the same loss: ist::XmlNetwork.
template <class M>
concept SparseModel = requires(M& m, const M& cm, const CsrMatrix& x, const LabelSets& y) {
    { m.loss_and_gradient(x, y) } -> std::convertible_to<float>;
    { m.forward(x, Mode::Eval) } -> std::convertible_to<const Matrix&>;
    { cm.loss_kind() } -> std::convertible_to<MultiLabelLoss>;
};

/// A model that trains on dense batches with real targets (rows x outputs), its loss the squared
/// error, which evaluation reports too: ist::TwoLayerRegression.
template <class M>
concept RegressionModel = requires(M& m, const Matrix& x, const Matrix& targets) {
    { m.loss_and_gradient(x, targets) } -> std::convertible_to<float>;
};

/// A model that trains on `D`.
template <class M, class D>
concept TrainsOn = (std::same_as<D, Dataset> && ClassifierModel<M>) || (std::same_as<D, SparseDataset> && SparseModel<M>) ||
                   (std::same_as<D, RegressionSet> && RegressionModel<M>);

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

template <>
struct LocalBatch<RegressionSet> {
    Matrix x, y;
};

}  // namespace ist
