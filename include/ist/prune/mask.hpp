#pragma once
// Pruning masks: one tensor per parameter, 1 where a weight is kept and 0 where it is pruned.
// A parameter without a mask (a default-constructed, 0-D Tensor) is not pruned at all.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// One mask per parameter of a model, in parameter order; an unset entry prunes nothing.
using PruningMasks = std::vector<Tensor>;

/// True if `mask` prunes its parameter (false for the unset, 0-D tensor).
inline bool is_mask_set(const Tensor& mask) { return mask.dimension() > 0; }

/// Throws E unless every element of `mask` is exactly 0 or 1 (`what` names the mask).
template <class E = ConfigError>
void check_mask_values(const Tensor& mask, const std::string& what) {
    const float* m = mask.data();
    for (std::size_t k = 0; k < mask.size(); ++k)
        if (m[k] != 0.0f && m[k] != 1.0f)
            throw E(what + ": element " + std::to_string(k) + " is " + std::to_string(m[k]) +
                    "; a pruning mask holds only 0 (pruned) and 1 (kept)");
}

/// A float mask of `shape` from bytes (0 pruned, 1 kept; any other byte is refused).
inline Tensor mask_from_bytes(std::span<const std::uint8_t> bytes, const std::vector<std::size_t>& shape) {
    Tensor mask = Tensor::from_shape(shape);
    detail::require(bytes.size() == mask.size(), "mask_from_bytes: " + std::to_string(bytes.size()) +
                                                     " bytes for a mask of " + std::to_string(mask.size()) + " elements");
    for (std::size_t k = 0; k < bytes.size(); ++k) {
        detail::require(bytes[k] <= 1, "mask_from_bytes: byte " + std::to_string(k) + " is " + std::to_string(bytes[k]) +
                                           "; a pruning mask holds only 0 (pruned) and 1 (kept)");
        mask.data()[k] = static_cast<float>(bytes[k]);
    }
    return mask;
}

/// values[k] = +0.0f wherever mask[k] is 0 (assigned, not multiplied: -w * 0 would leave -0.0f).
inline void apply_mask(const Tensor& mask, Tensor& values) {
    const float* m = mask.data();
    float* v = values.data();
    for (std::size_t k = 0; k < values.size(); ++k)
        if (m[k] == 0.0f) v[k] = 0.0f;
}

/// Elements a mask prunes (its zeros).
inline std::size_t pruned_count(const Tensor& mask) {
    std::size_t n = 0;
    for (float m : mask) n += m == 0.0f;
    return n;
}

}  // namespace ist
