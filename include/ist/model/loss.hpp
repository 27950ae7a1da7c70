#pragma once
// Softmax cross-entropy on logits, mean over the batch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include <xtensor/xmath.hpp>
#include <xtensor/xreducer.hpp>
#include <xtensor/xview.hpp>

#include "ist/core/error.hpp"
#include "ist/core/labels.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// Row-wise log-softmax of the logits.
inline Matrix log_softmax(const Matrix& logits) {
    xt::xtensor<float, 1> row_max = xt::amax(logits, {1});
    Matrix shifted = logits - xt::view(row_max, xt::all(), xt::newaxis());
    xt::xtensor<float, 1> log_norm = xt::log(xt::sum(xt::exp(shifted), {1}));
    return shifted - xt::view(log_norm, xt::all(), xt::newaxis());
}

/// Mean cross-entropy of `logits` against `labels` over the labelled rows (0 when there are
/// none); writes dLoss/dlogits into `grad` if given (zero rows for unlabelled ones).
inline float softmax_cross_entropy(const Matrix& logits, const Labels& labels, Matrix* grad = nullptr) {
    const std::size_t rows = logits.shape()[0];
    check_labels(labels, rows, logits.shape()[1]);
    const std::size_t labelled = count_labelled(labels);
    Matrix logp = log_softmax(logits);
    double loss = 0.0;
    for (std::size_t i = 0; i < rows; ++i)
        if (labels[i] != kUnlabeled) loss -= logp(i, labels[i]);
    if (grad) {
        *grad = xt::exp(logp);
        for (std::size_t i = 0; i < rows; ++i) {
            if (labels[i] != kUnlabeled) (*grad)(i, labels[i]) -= 1.0f;
            else xt::view(*grad, i, xt::all()) = 0.0f;
        }
        *grad /= static_cast<float>(std::max<std::size_t>(labelled, 1));
    }
    return static_cast<float>(loss / static_cast<double>(std::max<std::size_t>(labelled, 1)));
}

/// Number of labelled rows whose arg-max logit equals the label.
inline std::size_t count_correct(const Matrix& logits, const Labels& labels) {
    // The first maximum of each row, as xt::argmax (whose header, xsort.hpp, trips a GCC 12 -O2
    // -Warray-bounds false positive and is heavy to compile).
    const std::size_t classes = logits.shape()[1];
    std::size_t correct = 0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        if (labels[i] == kUnlabeled) continue;
        const float* row = &logits(i, 0);
        correct += static_cast<std::size_t>(std::max_element(row, row + classes) - row) == labels[i];
    }
    return correct;
}

}  // namespace ist
