#pragma once
// Uniform: b-bit (2..8) uniform quantisation per row, the quantised exchange of ResIST (Dun et
// al. 2022). Each row (an output neuron's or channel's weights; a vector is one row) is sent as
//   header: lo (float32), step (float32)   then   cols values q in 0..2^b-1, bit-packed,
// decoded as lo + q * step, where lo = the row's minimum and step = (max - min) / (2^b - 1).
// A row therefore costs 8 + ceil(cols * b / 8) bytes: 5 bits really cost 5/8 of a byte.
//
// Rounding: stochastic by default (q = floor(t) + [u < t - floor(t)], u uniform on the 2^-24
// grid, so E[decoded] = value up to 2^-24 of a step: updates stay unbiased), or to nearest
// (error <= step / 2). The draws come from the message's coding_stream.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "ist/codec/codec.hpp"
#include "ist/core/error.hpp"
#include "ist/detail/bit_packing.hpp"

namespace ist {

enum class Rounding : std::uint8_t { Stochastic, Nearest };

class Uniform {
public:
    static constexpr std::size_t kRowHeader = 2 * sizeof(float);  ///< lo, step

    /// Throws ConfigError unless 2 <= bits <= 8.
    explicit Uniform(unsigned bits = 8, Rounding rounding = Rounding::Stochastic) : bits_(bits), rounding_(rounding) {
        if (bits < 2 || bits > 8)
            throw ConfigError("Uniform codec: bits must be in 2..8, got " + std::to_string(bits));
    }

    unsigned bits() const { return bits_; }
    Rounding rounding() const { return rounding_; }
    std::string name() const { return "q" + std::to_string(bits_) + (rounding_ == Rounding::Nearest ? "-nearest" : ""); }
    bool exact() const { return false; }

    std::size_t coded_bytes(std::size_t rows, std::size_t cols) const {
        return rows * (kRowHeader + detail::packed_bytes(cols, bits_));
    }

    void encode(std::span<const float> in, std::size_t cols, std::vector<char>& bytes, CodingRng& rng) const {
        const std::size_t rows = cols ? in.size() / cols : 0;
        char* out = detail::grow(bytes, coded_bytes(rows, cols));
        for (std::size_t r = 0; r < rows; ++r) out = encode_row(in.subspan(r * cols, cols), out, rng);
    }

    void decode(const char* coded, std::size_t cols, std::span<float> out) const {
        const std::size_t rows = cols ? out.size() / cols : 0;
        for (std::size_t r = 0; r < rows; ++r) {
            float lo, step;
            std::memcpy(&lo, coded, sizeof lo);
            std::memcpy(&step, coded + sizeof lo, sizeof step);
            detail::BitReader reader(coded + kRowHeader, bits_);
            for (float& v : out.subspan(r * cols, cols)) v = lo + static_cast<float>(reader.get()) * step;
            coded += kRowHeader + detail::packed_bytes(cols, bits_);
        }
    }

private:
    std::uint32_t levels() const { return (1u << bits_) - 1; }

    char* encode_row(std::span<const float> row, char* out, CodingRng& rng) const {
        const auto [lo_at, hi_at] = std::minmax_element(row.begin(), row.end());
        const float lo = *lo_at;
        // The range in double: max - min of two finite floats may overflow float.
        const auto step = static_cast<float>((static_cast<double>(*hi_at) - lo) / levels());
        const float inverse = step > 0 ? 1.0f / step : 0.0f, top = static_cast<float>(levels());
        std::memcpy(out, &lo, sizeof lo);
        std::memcpy(out + sizeof lo, &step, sizeof step);
        detail::BitWriter writer(out + kRowHeader, bits_);
        if (rounding_ == Rounding::Nearest) {
            for (float v : row) writer.put(static_cast<std::uint32_t>(std::min((v - lo) * inverse, top) + 0.5f));
        } else {
            std::uint64_t draws = 0;
            for (std::size_t i = 0; i < row.size(); ++i) {
                if (i % 2 == 0) draws = rng();  // two 24-bit uniforms per engine output
                const float u = static_cast<float>((draws >> (i % 2 == 0 ? 40 : 8)) & 0xFFFFFFu) * 0x1p-24f;
                const float t = std::min((row[i] - lo) * inverse, top), below = std::floor(t);
                writer.put(static_cast<std::uint32_t>(below) + (u < t - below ? 1u : 0u));
            }
        }
        writer.flush();
        return out + kRowHeader + detail::packed_bytes(row.size(), bits_);
    }

    unsigned bits_;
    Rounding rounding_;
};
static_assert(Codec<Uniform>);

}  // namespace ist
