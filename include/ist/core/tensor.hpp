#pragma once
// Tensor types shared by every part of ist: float storage, row-major, batch-first.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>

namespace ist {

/// Activations and data: rows are samples, columns are features.
using Matrix = xt::xtensor<float, 2>;
/// Parameters and optimizer state: any rank (dense weights are 2-D, conv kernels 4-D).
using Tensor = xt::xarray<float>;
/// Class labels, one per row of a data matrix.
using Labels = std::vector<std::uint32_t>;

/// The role of one axis of a parameter tensor. A partitioner cuts the feature dimension
/// that the role maps to; `Shared` axes are never cut (every subnet holds them whole).
enum class Axis : std::uint8_t {
    Shared,  ///< not indexed by any partitionable dimension
    In,      ///< indexed by the layer's input feature dimension
    Out,     ///< indexed by the layer's output feature dimension
};

/// One trainable tensor of a layer, with its gradient and the role of each axis.
struct Parameter {
    std::string name;
    Tensor value;
    Tensor grad;
    std::vector<Axis> axes;  ///< one entry per axis of `value`
    /// When set, `grad` is zero outside these rows (first axis, sorted): a layer whose gradient is
    /// row-sparse (SparseDense) says so, and plain SGD then updates only these rows. Whoever
    /// writes `grad` otherwise (an all-reduce) must reset it.
    std::optional<std::vector<std::uint32_t>> grad_rows{};
};

/// Forward passes differ between training (batch statistics, caches for backward) and evaluation.
enum class Mode : std::uint8_t { Train, Eval };

}  // namespace ist
