#pragma once
// Fp16 (IEEE binary16) and Bf16 (bfloat16): two bytes per value, round to nearest even, no
// per-row header. Fp16 keeps 11 significant bits (relative error <= 2^-11) over +-65504 (larger
// magnitudes become infinity, which the coordinator refuses); Bf16 keeps float's range with 8.
#include <cstdint>
#include <cstring>

#include "ist/codec/codec.hpp"
#include "ist/detail/cpu_dispatch.hpp"
#include "ist/detail/half_float.hpp"

namespace ist {

namespace detail {
/// A codec storing each float as the 16 bits `Narrow` makes of it (`Widen` reverses it).
template <std::uint16_t (*Narrow)(float), float (*Widen)(std::uint16_t)>
struct SixteenBitCodec {
    std::size_t coded_bytes(std::size_t rows, std::size_t cols) const { return rows * cols * sizeof(std::uint16_t); }
    void encode(std::span<const float> in, std::size_t, std::vector<char>& bytes, CodingRng&) const {
        char* out = grow(bytes, in.size() * sizeof(std::uint16_t));
        run_vectorised(
            [](const float* v, char* out, std::size_t n) IST_INLINE_LOOP {
                for (std::size_t i = 0; i < n; ++i) {
                    const std::uint16_t h = Narrow(v[i]);
                    std::memcpy(out + i * sizeof h, &h, sizeof h);
                }
            },
            in.data(), out, in.size());
    }
    void decode(const char* coded, std::size_t, std::span<float> out) const {
        run_vectorised(
            [](const char* coded, float* v, std::size_t n) IST_INLINE_LOOP {
                for (std::size_t i = 0; i < n; ++i) {
                    std::uint16_t h;
                    std::memcpy(&h, coded + i * sizeof h, sizeof h);
                    v[i] = Widen(h);
                }
            },
            coded, out.data(), out.size());
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
