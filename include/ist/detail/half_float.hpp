#pragma once
// float <-> IEEE binary16 and bfloat16, round to nearest even, written out with integer
// arithmetic so the result is the same with any compiler and flags (no _Float16 needed).
#include <bit>
#include <cstdint>

namespace ist::detail {

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
    std::uint32_t h = magnitude < 0x38800000u ? subnormal : normal;
    h = magnitude >= 0x477FF000u ? 0x7C00u : h;  // rounds past 65504: infinity
    h = magnitude > 0x7F800000u ? 0x7E00u : h;   // NaN stays NaN
    return static_cast<std::uint16_t>(sign | h);
}

/// binary16 -> float (exact).
inline float half_to_float(std::uint16_t h) {
    const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
    const std::uint32_t exponent = (h >> 10) & 0x1Fu, significand = h & 0x3FFu;
    if (exponent == 0) {  // zero or subnormal: significand * 2^-24, exact in float
        const float magnitude = static_cast<float>(significand) * 0x1p-24f;
        return std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) | sign);
    }
    if (exponent == 31) return std::bit_cast<float>(sign | 0x7F800000u | (significand << 13));
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (significand << 13));
}

/// float -> bfloat16 (the float's top 16 bits), round to nearest even.
inline std::uint16_t float_to_bfloat16(float value) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<std::uint16_t>((x >> 16) | 0x40u);  // quiet NaN
    return static_cast<std::uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

/// bfloat16 -> float (exact).
inline float bfloat16_to_float(std::uint16_t b) { return std::bit_cast<float>(static_cast<std::uint32_t>(b) << 16); }

}  // namespace ist::detail
