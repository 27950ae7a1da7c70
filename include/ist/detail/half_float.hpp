#pragma once
// float <-> IEEE binary16 and bfloat16, round to nearest even, written out with integer
// arithmetic so the result is the same with any compiler and flags (no _Float16 needed).
#include <bit>
#include <cstdint>

namespace ist::detail {

/// float -> binary16, round to nearest even; beyond the largest half (65504) it is infinity.
inline std::uint16_t float_to_half(float value) {
    const std::uint32_t x = std::bit_cast<std::uint32_t>(value);
    const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
    const std::uint32_t magnitude = x & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return sign | 0x7E00u;                 // NaN stays NaN
    if (magnitude >= 0x477FF000u) return sign | 0x7C00u;                // rounds past 65504: infinity
    if (magnitude >= 0x38800000u) {                                     // a normal half: rebias, round 13 bits away
        std::uint32_t h = (magnitude - 0x38000000u) >> 13;
        const std::uint32_t rest = magnitude & 0x1FFFu;
        if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;       // a carry moves into the exponent correctly
        return static_cast<std::uint16_t>(sign | h);
    }
    // A subnormal half (multiples of 2^-24) or zero: the float's significand shifted into place.
    const std::uint32_t exponent = magnitude >> 23;
    if (exponent < 102) return sign;  // below 2^-25: rounds to zero
    const std::uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    const std::uint32_t shift = 126 - exponent;  // 14..24
    std::uint32_t h = significand >> shift;
    const std::uint32_t rest = significand & ((1u << shift) - 1), half_way = 1u << (shift - 1);
    if (rest > half_way || (rest == half_way && (h & 1u))) ++h;
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
