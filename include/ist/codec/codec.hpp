#pragma once
// The Codec policy: how one tensor is put on the wire between the coordinator and a worker
// (quantised exchange, as in ResIST: Dun et al. 2022). Models: fp32.hpp (exact, the default),
// half.hpp (Fp16, Bf16), uniform.hpp (2..8-bit per-row uniform quantisation); any_codec.hpp
// picks one at run time.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ist/core/tensor.hpp"
#include "ist/detail/random.hpp"
#include "ist/detail/seed.hpp"

namespace ist {

/// The engine a codec draws its stochastic rounding from (one per message, see coding_stream).
using CodingRng = detail::RandomEngine;

/// Requirements:
template <class C>
concept Codec = std::copy_constructible<C> &&
                requires(const C& c, std::span<const float> in, std::span<float> out, std::size_t rows,
                         std::size_t cols, std::vector<char>& bytes, const char* coded, CodingRng& rng) {
                    // the exact bytes of a rows x cols tensor on the wire
                    { c.coded_bytes(rows, cols) } -> std::same_as<std::size_t>;
                    // appends the coding of `in` (rows of `cols` values) to `bytes`
                    c.encode(in, cols, bytes, rng);
                    // overwrites `out` (rows of `cols` values) from its coding at `coded`
                    c.decode(coded, cols, out);
                    // names the codec in fingerprints, checkpoints and errors ("fp32", "q4", ...)
                    { c.name() } -> std::convertible_to<std::string>;
                    // whether decode(encode(x)) == x bit for bit (then nothing needs coding)
                    { c.exact() } -> std::convertible_to<bool>;
                };

/// Which way a message travels (part of its rounding stream).
enum class Direction : std::uint8_t { ToWorker = 0, ToCoordinator = 1 };

/// The stochastic-rounding engine of one message: a pure function of the run's seed, the round,
/// the worker and the direction, so no engine state needs checkpointing and every transport
/// (threads, MPI) draws the same numbers.
inline CodingRng coding_stream(std::uint64_t seed, std::uint64_t round, std::uint64_t worker, Direction direction) {
    constexpr std::uint64_t kCodingStreams = 0xC0DEC0DEull;  // far from the workers' sampler streams
    const std::uint64_t per_round = detail::derive_seed(detail::derive_seed(seed, kCodingStreams), round);
    return CodingRng(detail::derive_seed(per_round, 2 * worker + static_cast<std::uint64_t>(direction)));
}

namespace detail {
/// A tensor seen as rows x cols for per-row coding: rows along the first axis (output neurons or
/// channels), a vector as one row, an empty tensor as no rows.
struct RowShape {
    std::size_t rows = 0, cols = 0;
};
inline RowShape row_shape(const Tensor& t) {
    if (t.size() == 0) return {};
    if (t.dimension() < 2) return {1, t.size()};
    return {t.shape()[0], t.size() / t.shape()[0]};
}

/// Bytes appended at the end of `bytes` for a coding of `n` bytes; returns where they start.
inline char* grow(std::vector<char>& bytes, std::size_t n) {
    const std::size_t at = bytes.size();
    bytes.resize(at + n);
    return bytes.data() + at;
}
}  // namespace detail

}  // namespace ist
