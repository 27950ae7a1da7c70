#pragma once
// Evaluation of a full model on a data set, and the check that a data set fits a model.
#include <numeric>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/regression_set.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/model/loss.hpp"
#include "ist/model/model.hpp"
#include "ist/model/squared_error.hpp"
#include "ist/metrics/round_metrics.hpp"
#include "ist/core/trainer_options.hpp"
#include "ist/metrics/ranking.hpp"
#include "ist/sampling/training_set.hpp"

namespace ist {

namespace detail {

/// The output dimension: the last feature dimension that is never cut (0 is the input).
inline std::size_t output_width(const DimensionTable& dims) {
    for (std::size_t d = dims.size(); d-- > 1;)
        if (dims[d].kind == DimKind::Features && !dims[d].partitionable) return dims[d].size;
    return dims.front().size;
}

/// The first row of batch `b` of `batches` near-equal batches of `n` rows.
inline std::size_t batch_start(std::size_t n, std::size_t b, std::size_t batches) { return n * b / batches; }

}  // namespace detail

/// Throws DataError unless `data` is valid, has the model's input width and no more classes
/// than the model outputs.
template <Model M>
void check_data_fits(const M& model, const Dataset& data) {
    data.validate();
    const auto& dims = model.dimensions();
    const std::size_t inputs = dims.front().size * dims.front().span, outputs = detail::output_width(dims);
    if (data.feature_count() != inputs)
        throw DataError(data.name + ": " + std::to_string(data.feature_count()) + " features, the model takes " +
                        std::to_string(inputs));
    if (data.classes > outputs)
        throw DataError(data.name + ": " + std::to_string(data.classes) + " classes, the model outputs " +
                        std::to_string(outputs));
}

/// Throws DataError unless the sparse set `data` is valid, has the model's input width and no
/// more labels than the model outputs.
template <Model M>
void check_data_fits(const M& model, const SparseDataset& data) {
    data.validate();
    const auto& dims = model.dimensions();
    if (data.feature_count() != dims.front().size)
        throw DataError(data.name + ": " + std::to_string(data.feature_count()) + " features, the model takes " +
                        std::to_string(dims.front().size));
    if (data.classes > detail::output_width(dims))
        throw DataError(data.name + ": " + std::to_string(data.classes) + " labels, the model outputs " +
                        std::to_string(detail::output_width(dims)));
}

/// Throws DataError unless the regression set `data` is valid, has the model's input width and as
/// many targets per row as the model outputs.
template <Model M>
void check_data_fits(const M& model, const RegressionSet& data) {
    data.validate();
    const auto& dims = model.dimensions();
    if (data.feature_count() != dims.front().size * dims.front().span)
        throw DataError(data.name + ": " + std::to_string(data.feature_count()) + " features, the model takes " +
                        std::to_string(dims.front().size * dims.front().span));
    if (data.target_count() != detail::output_width(dims))
        throw DataError(data.name + ": " + std::to_string(data.target_count()) + " targets per row, the model outputs " +
                        std::to_string(detail::output_width(dims)));
}

/// Loss and accuracy of the full model on the labelled rows of `data`, in near-equal batches of
/// at most options.eval_batch (one batch of the whole set with Batches::FullSet or Clusters: a
/// graph is evaluated whole).
template <Model M>
Evaluation evaluate(M& model, const Dataset& data, const TrainerOptions& options) {
    check_data_fits(model, data);
    const detail::GemmPrecisionGuard precision(options.precision);
    const std::size_t n = data.size(), labelled = count_labelled(data.labels);
    if (labelled == 0) throw DataError(data.name + ": no labelled rows to evaluate on");
    const std::size_t batches = options.batches == Batches::Rows ? (n + options.eval_batch - 1) / options.eval_batch : 1;
    double loss = 0.0;
    std::size_t correct = 0;
    std::vector<std::uint32_t> rows;
    Matrix x;
    Labels y;
    for (std::size_t b = 0; b < batches; ++b) {
        rows.resize(detail::batch_start(n, b + 1, batches) - detail::batch_start(n, b, batches));
        std::iota(rows.begin(), rows.end(), static_cast<std::uint32_t>(detail::batch_start(n, b, batches)));
        if (batches > 1) copy_rows(data, rows, x, y);
        const Labels& labels = batches > 1 ? y : data.labels;
        if constexpr (TakesBatchRows<M>) model.set_batch_rows(rows);
        const Matrix& logits = model.forward(batches > 1 ? x : data.features, Mode::Eval);
        loss += softmax_cross_entropy(logits, labels) * static_cast<double>(count_labelled(labels));
        correct += count_correct(logits, labels);
    }
    return {loss / static_cast<double>(labelled), static_cast<double>(correct) / static_cast<double>(labelled), {}};
}

/// The model's squared error (squared_error: half the mean over rows) on `data`, in near-equal
/// batches of at most options.eval_batch rows (one batch with Batches::FullSet). Regression has no
/// accuracy: it is reported as 0.
template <Model M>
    requires RegressionModel<M>
Evaluation evaluate(M& model, const RegressionSet& data, const TrainerOptions& options) {
    check_data_fits(model, data);
    const std::size_t n = data.size();
    const std::size_t batches = options.batches == Batches::FullSet ? 1 : (n + options.eval_batch - 1) / options.eval_batch;
    double loss = 0.0;
    std::vector<std::uint32_t> rows;
    LocalBatch<RegressionSet> batch;
    for (std::size_t b = 0; b < batches; ++b) {
        rows.resize(detail::batch_start(n, b + 1, batches) - detail::batch_start(n, b, batches));
        std::iota(rows.begin(), rows.end(), static_cast<std::uint32_t>(detail::batch_start(n, b, batches)));
        gather_rows(data, rows, batch.x, batch.y);
        loss += squared_error(model.forward(batch.x, Mode::Eval), batch.y) * static_cast<double>(rows.size());
    }
    return {loss / static_cast<double>(n), 0.0, {}};
}

/// The model's loss, P@1 (as accuracy) and P@k / nDCG@k on the rows of a multi-label set that
/// have labels, in near-equal batches of at most options.eval_batch rows (each batch's logits are
/// rows x labels floats: keep eval_batch small for large label sets).
template <Model M>
    requires SparseModel<M>
Evaluation evaluate(M& model, const SparseDataset& data, const TrainerOptions& options) {
    check_data_fits(model, data);
    const detail::GemmPrecisionGuard precision(options.precision);
    const std::size_t n = data.size(), batches = (n + options.eval_batch - 1) / options.eval_batch;
    double loss = 0.0;
    std::size_t labelled = 0;
    RankingAccumulator ranking;
    std::vector<std::uint32_t> rows;
    LocalBatch<SparseDataset> batch;
    for (std::size_t b = 0; b < batches; ++b) {
        rows.resize(detail::batch_start(n, b + 1, batches) - detail::batch_start(n, b, batches));
        std::iota(rows.begin(), rows.end(), static_cast<std::uint32_t>(detail::batch_start(n, b, batches)));
        gather_rows(data, rows, batch.x, batch.y);
        const Matrix& logits = model.forward(batch.x, Mode::Eval);
        const std::size_t rows_labelled = detail::count_labelled_sets(batch.y);
        loss += multilabel_loss(logits, batch.y, model.loss_kind()) * static_cast<double>(rows_labelled);
        labelled += rows_labelled;
        ranking.add(logits, batch.y);
    }
    if (labelled == 0) throw DataError(data.name + ": no rows with labels to evaluate on");
    const RankingMetrics m = ranking.result();
    return {loss / static_cast<double>(labelled), m.precision[0], m};
}

}  // namespace ist
