#pragma once
// Fp16 (IEEE binary16) and Bf16 (bfloat16): two bytes per value, round to nearest even, no
// per-row header. Fp16 keeps 11 significant bits (relative error <= 2^-11) over +-65504 (larger
// magnitudes become infinity, which the coordinator refuses); Bf16 keeps float's range with 8.
#include <cstdint>
#include <cstring>

#include "ist/codec/codec.hpp"
#include "ist/detail/half_float.hpp"

namespace ist {

namespace detail {
/// A codec storing each float as the 16 bits `Narrow` makes of it (`Widen` reverses it).
template <std::uint16_t (*Narrow)(float), float (*Widen)(std::uint16_t)>
struct SixteenBitCodec {
    std::size_t coded_bytes(std::size_t rows, std::size_t cols) const { return rows * cols * sizeof(std::uint16_t); }
    void encode(std::span<const float> in, std::size_t, std::vector<char>& bytes, CodingRng&) const {
        // Plain pointers and a hoisted count: char stores may alias anything (no vectorisation).
        char* out = grow(bytes, in.size() * sizeof(std::uint16_t));
        const float* v = in.data();
        for (std::size_t i = 0, n = in.size(); i < n; ++i) {
            const std::uint16_t h = Narrow(v[i]);
            std::memcpy(out + i * sizeof h, &h, sizeof h);
        }
    }
    void decode(const char* coded, std::size_t, std::span<float> out) const {
        float* v = out.data();
        for (std::size_t i = 0, n = out.size(); i < n; ++i) {
            std::uint16_t h;
            std::memcpy(&h, coded + i * sizeof h, sizeof h);
            v[i] = Widen(h);
        }
    }
    bool exact() const { return false; }
};
}  // namespace detail

struct Fp16 : detail::SixteenBitCodec<detail::float_to_half, detail::half_to_float> {
    std::string name() const { return "fp16"; }
};
struct Bf16 : detail::SixteenBitCodec<detail::float_to_bfloat16, detail::bfloat16_to_float> {
    std::string name() const { return "bf16"; }
};
static_assert(Codec<Fp16> && Codec<Bf16>);

}  // namespace ist
