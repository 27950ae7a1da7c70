#pragma once
// Losses for multi-label targets (a set of labels per row, ist::LabelSets), mean over the rows
// with a non-empty set (rows without labels take no part, like kUnlabeled rows).
//  - softmax cross-entropy against the set normalised to sum 1 (target 1/|Y| on each label): the
//    usual choice for extreme classification with a softmax output (e.g. the IST Amazon-670k runs);
//    its gradient is softmax - target, dense over the labels but one pass.
//  - per-label binary cross-entropy (sigmoid outputs), mean over rows and summed over labels.
// Both write dLoss/dlogits in one pass over the batch x labels logits (no per-label loop).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/data/sparse_dataset.hpp"

namespace ist {

enum class MultiLabelLoss : std::uint8_t { SoftmaxNormalized, BinaryCrossEntropy };

namespace detail {

inline void check_label_sets(const Matrix& logits, const LabelSets& labels) {
    const std::size_t rows = logits.shape()[0], classes = logits.shape()[1];
    if (labels.rows() != rows)
        throw DataError("multi-label loss: " + std::to_string(labels.rows()) + " label sets for " + std::to_string(rows) +
                        " rows");
    for (std::uint32_t l : labels.indices)
        if (l >= classes)
            throw DataError("multi-label loss: label " + std::to_string(l) + " is out of range for " +
                            std::to_string(classes) + " outputs");
}

inline std::size_t count_labelled_sets(const LabelSets& labels) {
    std::size_t n = 0;
    for (std::size_t r = 0; r < labels.rows(); ++r) n += !labels.of(r).empty();
    return n;
}

/// Softmax cross-entropy of one row against 1/|Y| on each of `set`; writes softmax - target to
/// `grad_row` (scaled by `scale`) when given.
inline double softmax_normalized_row(const float* z, std::size_t n, std::span<const std::uint32_t> set, float scale,
                                     float* grad_row) {
    const float top = *std::max_element(z, z + n);
    double norm = 0.0;
    for (std::size_t j = 0; j < n; ++j) {  // the exponentials are kept in the gradient row, computed once
        const float e = std::exp(z[j] - top);
        norm += e;
        if (grad_row) grad_row[j] = e;
    }
    const double log_norm = std::log(norm) + top;
    const double target = 1.0 / static_cast<double>(set.size());
    double loss = 0.0;
    for (std::uint32_t l : set) loss -= target * (z[l] - log_norm);
    if (grad_row) {
        const auto to_probability = static_cast<float>(scale / norm);
        for (std::size_t j = 0; j < n; ++j) grad_row[j] *= to_probability;
        for (std::uint32_t l : set) grad_row[l] -= scale * static_cast<float>(target);
    }
    return loss;
}

/// Sum over labels of the binary cross-entropy of sigmoid(z) against membership in `set`.
inline double binary_cross_entropy_row(const float* z, std::size_t n, std::span<const std::uint32_t> set, float scale,
                                       float* grad_row) {
    double loss = 0.0;
    for (std::size_t j = 0; j < n; ++j) {  // softplus(z) = log(1 + e^z), computed without overflow
        const double v = z[j];
        loss += std::max(v, 0.0) + std::log1p(std::exp(-std::abs(v)));
        if (grad_row) grad_row[j] = scale / (1.0f + std::exp(-z[j]));
    }
    for (std::uint32_t l : set) {  // - y z for the positive labels
        loss -= z[l];
        if (grad_row) grad_row[l] -= scale;
    }
    return loss;
}

}  // namespace detail

/// The chosen loss of `logits` (rows x labels) against `labels`, mean over the labelled rows (0
/// when none); writes dLoss/dlogits into `grad` if given (zero rows for rows without labels).
inline float multilabel_loss(const Matrix& logits, const LabelSets& labels, MultiLabelLoss kind,
                             Matrix* grad = nullptr) {
    detail::check_label_sets(logits, labels);
    const std::size_t rows = logits.shape()[0], n = logits.shape()[1];
    const std::size_t labelled = std::max<std::size_t>(detail::count_labelled_sets(labels), 1);
    const float scale = 1.0f / static_cast<float>(labelled);
    if (grad && (grad->shape()[0] != rows || grad->shape()[1] != n)) grad->resize({rows, n});
    double loss = 0.0;
    for (std::size_t r = 0; r < rows; ++r) {
        const auto set = labels.of(r);
        float* g = grad ? grad->data() + r * n : nullptr;
        if (set.empty()) {
            if (g) std::fill_n(g, n, 0.0f);
            continue;
        }
        const float* z = logits.data() + r * n;
        loss += kind == MultiLabelLoss::SoftmaxNormalized ? detail::softmax_normalized_row(z, n, set, scale, g)
                                                          : detail::binary_cross_entropy_row(z, n, set, scale, g);
    }
    return static_cast<float>(loss / static_cast<double>(labelled));
}

}  // namespace ist
