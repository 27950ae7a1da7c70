#pragma once
// Class labels: the marker of an unlabelled row, and the checks every loader and loss shares.
#include <cstddef>
#include <cstdint>
#include <string>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// The label of a row that takes no part in the loss or the accuracy: a graph node outside the
/// training (or test) split keeps its row, since a graph layer needs every node.
inline constexpr std::uint32_t kUnlabeled = 0xFFFFFFFFu;

/// Checks that every label indexes one of `classes` columns (or is kUnlabeled).
inline void check_labels(const Labels& labels, std::size_t rows, std::size_t classes) {
    if (labels.size() != rows)
        throw DataError("labels: " + std::to_string(labels.size()) + " labels for " + std::to_string(rows) + " rows");
    for (std::size_t i = 0; i < labels.size(); ++i)
        if (labels[i] >= classes && labels[i] != kUnlabeled)
            throw DataError("labels: label " + std::to_string(labels[i]) + " at row " + std::to_string(i) +
                            " is out of range for " + std::to_string(classes) + " classes");
}

/// Number of rows with a label (not kUnlabeled).
inline std::size_t count_labelled(const Labels& labels) {
    std::size_t n = 0;
    for (std::uint32_t y : labels) n += y != kUnlabeled;
    return n;
}

}  // namespace ist
