#pragma once
// float <-> IEEE binary16 and bfloat16, round to nearest even, written out with integer
// arithmetic so the result is the same with any compiler and flags (no _Float16 needed).
#include <bit>
#include <cstdint>

namespace ist::detail {

/// condition ? a : b as bit masks: the compiler keeps it a select in a loop (vectorised).
inline std::uint32_t select(bool condition, std::uint32_t a, std::uint32_t b) {
    const std::uint32_t mask = 0u - static_cast<std::uint32_t>(condition);
    return (a & mask) | (b & ~mask);
}

/// float -> binary16, round to nearest even; beyond the largest half (65504) it is infinity.
/// Every case is computed and one selected, so random data costs no branch mispredictions.
inline std::uint16_t float_to_half(float value) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    const std::uint32_t sign = (x >> 16) & 0x8000u, magnitude = x & 0x7FFFFFFFu;
    // A normal half: rebias the exponent, round 13 bits away (ties to even; a carry moves into
    // the exponent correctly, up to infinity).
    const std::uint32_t normal = (magnitude - 0x38000000u + 0xFFFu + ((magnitude >> 13) & 1u)) >> 13;
    // A subnormal half (multiples of 2^-24) or zero: adding 0.5f leaves the value rounded to a
    // multiple of 2^-24 (ties to even, IEEE addition) in the low bits of 0.5f's significand.
    const std::uint32_t subnormal =
        std::bit_cast<std::uint32_t>(std::bit_cast<float>(magnitude) + 0.5f) - 0x3F000000u;
    std::uint32_t h = select(magnitude < 0x38800000u, subnormal, normal);
    h = select(magnitude >= 0x477FF000u, 0x7C00u, h);  // rounds past 65504: infinity
    h = select(magnitude > 0x7F800000u, 0x7E00u, h);   // NaN stays NaN
    return static_cast<std::uint16_t>(sign | h);
}

/// binary16 -> float (exact). Every case is computed and one selected (no branches: vectorises).
inline float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1Fu, significand = h & 0x3FFu;
    // Zero or subnormal: significand * 2^-24, exact in float.
    const std::uint32_t small = std::bit_cast<std::uint32_t>(static_cast<float>(significand) * 0x1p-24f) | sign;
    const std::uint32_t normal = sign | ((exponent + 112) << 23) | (significand << 13);
    const std::uint32_t special = sign | 0x7F800000u | (significand << 13);  // infinity, NaN
    return std::bit_cast<float>(select(exponent == 31, special, select(exponent == 0, small, normal)));
}

/// float -> bfloat16 (the float's top 16 bits), round to nearest even; NaN stays a (quiet) NaN.
/// A select, not a branch: the bf16 GEMMs convert their operands with it in a vectorised loop.
inline std::uint16_t float_to_bfloat16(float value) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    const std::uint32_t rounded = (x + 0x7FFFu + ((x >> 16) & 1u)) >> 16;
    return static_cast<std::uint16_t>(select((x & 0x7FFFFFFFu) > 0x7F800000u, (x >> 16) | 0x40u, rounded));
}

/// bfloat16 -> float (exact).
inline float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

}  // namespace ist::detail
