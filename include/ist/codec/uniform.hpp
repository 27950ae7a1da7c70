#pragma once
// Uniform: b-bit (2..8) uniform quantisation per row, the quantised exchange of ResIST (Dun et
// al. 2022). Each row (an output neuron's or channel's weights; a vector is one row) is sent as
//   header: lo (float32), step (float32)   then   cols values q in 0..2^b-1, bit-packed,
// decoded as lo + q * step, where lo = the row's minimum and step = (max - min) / (2^b - 1).
// A row therefore costs 8 + ceil(cols * b / 8) bytes: 5 bits really cost 5/8 of a byte.
//
// Rounding: stochastic by default (q = floor(t) + [u < t - floor(t)], u uniform on the 2^-24
// grid, so E[decoded] = value up to 2^-24 of a step: updates stay unbiased), or to nearest
// (error <= step / 2). Each row's draws come from one output of the message's coding_stream.
//
// Scaling: per row (above, the default), or per tensor (Scaling::PerTensor: one header for the whole
// tensor, its values packed as one row of rows x cols, 8 + ceil(rows cols b / 8) bytes): one
// outlier then coarsens every row's step, which is what the ResIST paper's shape at 4 bits needs.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "ist/codec/codec.hpp"
#include "ist/core/error.hpp"
#include "ist/detail/bit_packing.hpp"
#include "ist/detail/cpu_dispatch.hpp"

namespace ist {

enum class Rounding : std::uint8_t { Stochastic, Nearest };
/// Which values share one header (lo, step): each row's, or the whole tensor's.
enum class Scaling : std::uint8_t { PerRow, PerTensor };

class Uniform {
public:
    static constexpr std::size_t kRowHeader = 2 * sizeof(float);  ///< lo, step

    /// Throws ConfigError unless 2 <= bits <= 8.
    explicit Uniform(unsigned bits = 8, Rounding rounding = Rounding::Stochastic, Scaling scale = Scaling::PerRow)
        : bits_(bits), rounding_(rounding), scale_(scale) {
        if (bits < 2 || bits > 8)
            throw ConfigError("Uniform codec: bits must be in 2..8, got " + std::to_string(bits));
    }

    unsigned bits() const { return bits_; }
    Rounding rounding() const { return rounding_; }
    Scaling scale() const { return scale_; }
    /// "q4", "q4-nearest", "q4-tensor", "q4-tensor-nearest".
    std::string name() const {
        return "q" + std::to_string(bits_) + (scale_ == Scaling::PerTensor ? "-tensor" : "") +
               (rounding_ == Rounding::Nearest ? "-nearest" : "");
    }
    bool exact() const { return false; }

    std::size_t coded_bytes(std::size_t rows, std::size_t cols) const {
        const auto coded = coded_rows(rows * cols, cols);
        return coded.rows * row_bytes(coded.cols);
    }

    void encode(std::span<const float> in, std::size_t cols, std::vector<char>& bytes, CodingRng& rng) const {
        const auto [rows, row_length] = coded_rows(in.size(), cols);
        char* out = detail::grow(bytes, rows * row_bytes(row_length));
        std::vector<std::uint8_t> levels(row_length);
        for (std::size_t r = 0; r < rows; ++r)
            out = encode_row(in.subspan(r * row_length, row_length), levels, out, rng);
    }

    void decode(const char* coded, std::size_t tensor_cols, std::span<float> out) const {
        const auto [rows, cols] = coded_rows(out.size(), tensor_cols);
        for (std::size_t r = 0; r < rows; ++r) {
            float lo, step;
            std::memcpy(&lo, coded, sizeof lo);
            std::memcpy(&step, coded + sizeof lo, sizeof step);
            float* row = out.data() + r * cols;
            detail::with_bits(bits_, [&](auto bits) {
                detail::unpack_levels<bits>(coded + kRowHeader, cols, [&](std::size_t i, std::uint32_t q) {
                    row[i] = lo + static_cast<float>(q) * step;
                });
            });
            coded += row_bytes(cols);
        }
    }

private:
    /// The rows that share a header, for `size` values in rows of `cols`: the tensor's rows, or
    /// (per tensor) one row of every value; none for an empty tensor.
    detail::RowShape coded_rows(std::size_t size, std::size_t cols) const {
        if (!cols || !size) return {};
        if (scale_ == Scaling::PerTensor) return {1, size};
        return {size / cols, cols};
    }

    /// Bytes of one coded row of `n` values: its header, then its levels bit-packed.
    std::size_t row_bytes(std::size_t n) const { return kRowHeader + detail::packed_bytes(n, bits_); }

    /// A bijective 32-bit hash with low bias (Wellons' "lowbias32"): position -> uniform bits.
    [[gnu::always_inline]] static inline std::uint32_t mix32(std::uint32_t x) {
        x ^= x >> 16;
        x *= 0x7FEB352Du;
        x ^= x >> 15;
        x *= 0x846CA68Bu;
        return x ^ (x >> 16);
    }

    /// The row's minimum and maximum over 8 independent lanes (lane k: values k, k + 8, ...),
    /// two vectors of four: branch-free and vectorised on any x86-64 (minmax_element branches
    /// on every value, and plain lane arrays were left scalar). Lanes merge lowest first.
    static std::pair<float, float> row_range(std::span<const float> row) {
        using Lanes = float __attribute__((vector_size(16)));
        const float* v = row.data();
        const std::size_t groups = row.size() / 8;
        Lanes lo[2], hi[2];
        for (int h = 0; h < 2; ++h)
            for (int k = 0; k < 4; ++k) lo[h][k] = hi[h][k] = v[0];
        for (std::size_t g = 0; g < groups; ++g, v += 8)
            for (int h = 0; h < 2; ++h) {
                Lanes x;
                std::memcpy(&x, v + 4 * h, sizeof x);
                lo[h] = x < lo[h] ? x : lo[h];
                hi[h] = x > hi[h] ? x : hi[h];
            }
        float lanes_lo[8], lanes_hi[8];
        std::memcpy(lanes_lo, lo, sizeof lanes_lo);
        std::memcpy(lanes_hi, hi, sizeof lanes_hi);
        for (std::size_t i = groups * 8; i < row.size(); ++i)
            lanes_lo[0] = std::min(lanes_lo[0], row[i]), lanes_hi[0] = std::max(lanes_hi[0], row[i]);
        return {*std::min_element(lanes_lo, lanes_lo + 8), *std::max_element(lanes_hi, lanes_hi + 8)};
    }

    std::uint32_t levels() const { return (1u << bits_) - 1; }

    char* encode_row(std::span<const float> row, std::vector<std::uint8_t>& levels, char* out, CodingRng& rng) const {
        const auto [lo, hi] = row_range(row);
        // The range in double: max - min of two finite floats may overflow float.
        const auto step = static_cast<float>((static_cast<double>(hi) - lo) / this->levels());
        const float inverse = step > 0 ? 1.0f / step : 0.0f, top = static_cast<float>(this->levels());
        std::memcpy(out, &lo, sizeof lo);
        std::memcpy(out + sizeof lo, &step, sizeof step);
        // t = (v - lo) / step is in [0, top]: truncation is floor, and no level exceeds top. Plain
        // pointers: stores through uint8_t may alias anything, which would stop vectorisation.
        const float* v = row.data();
        std::uint8_t* q = levels.data();
        const std::size_t n = row.size();
        if (rounding_ == Rounding::Nearest) {
            detail::run_vectorised(
                [](const float* v, std::uint8_t* q, std::size_t n, float lo, float inverse, float top) IST_INLINE_LOOP {
                    for (std::size_t i = 0; i < n; ++i)
                        q[i] = static_cast<std::uint8_t>(static_cast<std::int32_t>(std::min((v[i] - lo) * inverse, top) + 0.5f));
                },
                v, q, n, lo, inverse, top);
            return pack(levels, row.size(), out);
        }
        // One engine output per row keys a counter-based stream (a hash of the position, which
        // vectorises): drawing every value from the engine would cost more than the coding.
        const auto key = static_cast<std::uint32_t>(rng() >> 32);
        detail::run_vectorised(
            [](const float* v, std::uint8_t* q, std::size_t n, float lo, float inverse, float top,
               std::uint32_t key) IST_INLINE_LOOP {
                for (std::size_t i = 0; i < n; ++i) {
                    const std::uint32_t position = key + static_cast<std::uint32_t>(i) * 0x9E3779B9u;
                    const float u = static_cast<float>(mix32(position) >> 8) * 0x1p-24f;
                    const float t = std::min((v[i] - lo) * inverse, top);
                    const auto below = static_cast<std::int32_t>(t);
                    q[i] = static_cast<std::uint8_t>(below + (u < t - static_cast<float>(below) ? 1 : 0));
                }
            },
            v, q, n, lo, inverse, top, key);
        return pack(levels, row.size(), out);
    }

    /// Packs a row's levels after its header; returns the end of the row's bytes.
    char* pack(const std::vector<std::uint8_t>& levels, std::size_t n, char* out) const {
        detail::with_bits(bits_, [&](auto bits) { detail::pack_levels<bits>(levels.data(), n, out + kRowHeader); });
        return out + row_bytes(n);
    }

    unsigned bits_;
    Rounding rounding_;
    Scaling scale_;
};
static_assert(Codec<Uniform>);

}  // namespace ist
