#pragma once
// Derivation of independent, reproducible seeds from one user seed.
#include <cstdint>

namespace ist::detail {

/// SplitMix64 finaliser: well-mixed distinct seeds for distinct (seed, stream) pairs.
inline std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * (stream + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

}  // namespace ist::detail
