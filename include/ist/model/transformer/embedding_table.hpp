#pragma once
// The trained table of an embedding layer (token or position rows), shared by TokenEmbedding and
// PositionalEmbedding: the same shape checks and a Gaussian draw at the layer's scale.
#include <cstdint>
#include <string>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/detail/random.hpp"

namespace ist::detail {

/// A (rows x width) Parameter `name` drawn N(0, stddev^2) from `seed`, row after row; the axes are
/// {Shared, Out}: every worker holds the whole table. `layer` and `rows_are` name the layer and its
/// rows in the error for an empty shape ("TokenEmbedding", "vocabulary").
inline Parameter gaussian_table(const std::string& layer, const std::string& rows_are, const std::string& name,
                                std::size_t rows, std::size_t width, double stddev, std::uint64_t seed) {
    require(rows > 0 && width > 0, layer + ": " + rows_are + " and width must be positive, got " + std::to_string(rows) +
                                       " x " + std::to_string(width));
    RandomEngine rng(seed);
    Parameter table{name, Tensor::from_shape({rows, width}), {}, {Axis::Shared, Axis::Out}};
    // stddev * z, not fma(stddev, z, 0): one rounding either way, and z itself at stddev 1.
    for (float& v : table.value) v = static_cast<float>(stddev * normal(rng));
    return table;
}

}  // namespace ist::detail
