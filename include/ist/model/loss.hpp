#pragma once
// Softmax cross-entropy on logits, mean over the batch.
#include <cmath>
#include <string>

#include <xtensor/xmath.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xsort.hpp>
#include <xtensor/xview.hpp>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// Checks that every label indexes one of `classes` columns.
inline void check_labels(const Labels& labels, std::size_t rows, std::size_t classes) {
    if (labels.size() != rows)
        throw DataError("labels: " + std::to_string(labels.size()) + " labels for " + std::to_string(rows) + " rows");
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] >= classes)
            throw DataError("labels: label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                            " is out of range for " + std::to_string(classes) + " classes");
}

/// Row-wise log-softmax of the logits.
inline Matrix log_softmax(const Matrix& logits) {
    xt::xtensor<float, 1> row_max = xt::amax(logits, {1});
    Matrix shifted = logits - xt::view(row_max, xt::all(), xt::newaxis());
    xt::xtensor<float, 1> log_norm = xt::log(xt::sum(xt::exp(shifted), {1}));
    return shifted - xt::view(log_norm, xt::all(), xt::newaxis());
}

/// Mean cross-entropy of `logits` against `labels`; writes dLoss/dlogits into `grad` if given.
inline float softmax_cross_entropy(const Matrix& logits, const Labels& labels, Matrix* grad = nullptr) {
    const std::size_t rows = logits.shape()[0];
    check_labels(labels, rows, logits.shape()[1]);
    Matrix logp = log_softmax(logits);
    double loss = 0.0;
    for (std::size_t i = 0; i < rows; ++i) loss -= logp(i, labels[i]);
    if (grad) {
        *grad = xt::exp(logp);
        for (std::size_t i = 0; i < rows; ++i) (*grad)(i, labels[i]) -= 1.0f;
        *grad /= static_cast<float>(rows);
    }
    return static_cast<float>(loss / static_cast<double>(rows));
}

/// Number of rows whose arg-max logit equals the label.
inline std::size_t count_correct(const Matrix& logits, const Labels& labels) {
    auto predicted = xt::argmax(logits, 1);
    std::size_t correct = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) correct += predicted(i) == labels[i];
    return correct;
}

}  // namespace ist
