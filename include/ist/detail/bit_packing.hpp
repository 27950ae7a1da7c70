#pragma once
// Levels of `bits` bits (1..8) packed densely into bytes, least significant bit first: n levels
// take exactly ceil(n * bits / 8) bytes. Eight levels make exactly `bits` bytes, so both ways
// work on groups of eight in a 64-bit word (no per-value branches), then on the last few.
#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace ist::detail {

/// Bytes of n packed levels of `bits` bits.
constexpr std::size_t packed_bytes(std::size_t n, unsigned bits) { return (n * bits + 7) / 8; }

/// Writes levels[0..n) (each below 2^Bits) to `out`, packed_bytes(n, Bits) bytes.
template <unsigned Bits>
void pack_levels(const std::uint8_t* levels, std::size_t n, char* out) {
    std::size_t first = 0;
    for (; first + 8 <= n; first += 8, out += Bits) {  // whole groups: Bits bytes each
        std::uint64_t word = 0;
        for (unsigned k = 0; k < 8; ++k) word |= static_cast<std::uint64_t>(levels[first + k]) << (k * Bits);
        for (unsigned b = 0; b < Bits; ++b) out[b] = static_cast<char>((word >> (8 * b)) & 0xFFu);
    }
    std::uint64_t word = 0;  // the last n % 8
    for (std::size_t k = 0; first + k < n; ++k) word |= static_cast<std::uint64_t>(levels[first + k]) << (k * Bits);
    for (std::size_t b = 0; b < packed_bytes(n - first, Bits); ++b) out[b] = static_cast<char>((word >> (8 * b)) & 0xFFu);
}

/// Calls emit(i, level) for the n levels pack_levels<Bits> wrote at `in`, in order.
template <unsigned Bits, class Emit>
void unpack_levels(const char* in, std::size_t n, Emit&& emit) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(in);
    constexpr std::uint64_t mask = (std::uint64_t{1} << Bits) - 1;
    std::size_t first = 0;
    for (; first + 8 <= n; first += 8, bytes += Bits) {  // whole groups: constant bounds, unrolled
        std::uint64_t word = 0;
        for (unsigned b = 0; b < Bits; ++b) word |= static_cast<std::uint64_t>(bytes[b]) << (8 * b);
        for (unsigned k = 0; k < 8; ++k) emit(first + k, static_cast<std::uint32_t>((word >> (k * Bits)) & mask));
    }
    std::uint64_t word = 0;  // the last n % 8
    for (std::size_t b = 0; b < packed_bytes(n - first, Bits); ++b) word |= static_cast<std::uint64_t>(bytes[b]) << (8 * b);
    for (std::size_t k = 0; first + k < n; ++k) emit(first + k, static_cast<std::uint32_t>((word >> (k * Bits)) & mask));
}

/// Calls f(std::integral_constant<unsigned, bits>) for bits in 1..8, so shifts and loop bounds
/// are compile-time constants in f.
template <class F>
decltype(auto) with_bits(unsigned bits, F&& f) {
    switch (bits) {
        case 1: return f(std::integral_constant<unsigned, 1>{});
        case 2: return f(std::integral_constant<unsigned, 2>{});
        case 3: return f(std::integral_constant<unsigned, 3>{});
        case 4: return f(std::integral_constant<unsigned, 4>{});
        case 5: return f(std::integral_constant<unsigned, 5>{});
        case 6: return f(std::integral_constant<unsigned, 6>{});
        case 7: return f(std::integral_constant<unsigned, 7>{});
        default: return f(std::integral_constant<unsigned, 8>{});
    }
}

}  // namespace ist::detail
