// The codecs' rules against oracles of their own (issue 36): Uniform's per-row header (minimum and
// step) and levels on hand-made rows of every length class, stochastic rounding's distribution,
// fp16 against the compiler's _Float16 (every half, every rounding boundary), and bf16 against
// round-to-nearest-even worked out in double. (Error feedback of the coded all-reduce:
// tests/exchange/test_coded_all_reduce.cpp.)
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include <ist/codec/half.hpp>
#include <ist/codec/uniform.hpp>

using namespace ist;

namespace {

/// A row's coding split into its header and its levels (read back through decode: level k is
/// lo + k * step, so k = round((decoded - lo) / step)).
struct CodedRow {
    float lo = 0, step = 0;
    std::vector<float> decoded;
};

CodedRow code_row(const Uniform& codec, const std::vector<float>& row, std::uint64_t seed = 7) {
    std::vector<char> bytes;
    CodingRng rng(seed);
    codec.encode(row, row.size(), bytes, rng);
    REQUIRE(bytes.size() == 8 + (row.size() * codec.bits() + 7) / 8);
    CodedRow out;
    std::memcpy(&out.lo, bytes.data(), 4);
    std::memcpy(&out.step, bytes.data() + 4, 4);
    out.decoded.resize(row.size());
    codec.decode(bytes.data(), row.size(), out.decoded);
    return out;
}

/// Row lengths of every class the row scan and the bit packing treat apart: a single value, a
/// remainder only, whole groups of 8, whole groups plus a remainder.
constexpr std::size_t kLengths[] = {1, 2, 5, 7, 8, 9, 15, 16, 17, 23, 24, 31, 40};

/// A row of `n` values in (-0.5, 0.5) with its minimum -3 at `low` and its maximum 5 at `high`.
std::vector<float> row_with_extremes(std::size_t n, std::size_t low, std::size_t high) {
    std::vector<float> row(n);
    for (std::size_t i = 0; i < n; ++i) row[i] = 0.37f * std::sin(1.3f * static_cast<float>(i) + 0.2f);
    row[high] = 5.0f;
    row[low] = -3.0f;
    return row;
}

}  // namespace

TEST_CASE("codec rules: Uniform's row header is the row's minimum and (max - min) / (2^b - 1), at every position") {
    for (std::size_t n : kLengths)
        for (std::size_t low = 0; low < n; ++low)
            for (std::size_t high : {n - 1 - low, (low + 3) % n, (low + 5) % n}) {
                if (n == 1 || high == low) continue;
                const auto row = row_with_extremes(n, low, high);
                for (unsigned bits : {2u, 5u, 8u}) {
                    const CodedRow c = code_row(Uniform(bits, Rounding::Nearest), row);
                    CHECK_MESSAGE(c.lo == -3.0f, "n = " << n << ", min at " << low << ", max at " << high);
                    CHECK_MESSAGE(c.step == static_cast<float>(8.0 / ((1u << bits) - 1)),
                                  "n = " << n << ", min at " << low << ", max at " << high << ", bits " << bits);
                }
            }
}

TEST_CASE("codec rules: Uniform to nearest: every value becomes its nearest level, for every length and width") {
    for (std::size_t n : kLengths)
        for (unsigned bits = 2; bits <= 8; ++bits) {
            const auto row = row_with_extremes(std::max<std::size_t>(n, 2), 0, std::max<std::size_t>(n, 2) - 1);
            const CodedRow c = code_row(Uniform(bits, Rounding::Nearest), row);
            const double levels = (1u << bits) - 1, step = 8.0 / levels;
            for (std::size_t i = 0; i < row.size(); ++i) {
                const double t = (row[i] + 3.0) / step;
                if (std::abs(t - std::floor(t) - 0.5) < 1e-4) continue;  // too close to a tie to call
                const double nearest = -3.0f + std::round(t) * static_cast<double>(c.step);
                CHECK_MESSAGE(std::abs(c.decoded[i] - nearest) < 1e-5, "n = " << n << ", bits " << bits << ", i " << i);
            }
            CHECK(c.decoded.front() == -3.0f);
            CHECK(std::abs(c.decoded.back() - 5.0f) < 1e-5f);  // the top level is the maximum
        }
}

TEST_CASE("codec rules: Uniform: a constant row and a single value decode exactly, with step 0") {
    for (Rounding rounding : {Rounding::Nearest, Rounding::Stochastic})
        for (std::size_t n : kLengths) {
            const std::vector<float> row(n, -1.75f);
            const CodedRow c = code_row(Uniform(4, rounding), row);
            CHECK(c.lo == -1.75f);
            CHECK(c.step == 0.0f);
            for (float v : c.decoded) CHECK(v == -1.75f);
        }
}

TEST_CASE("codec rules: Uniform stochastic rounding: only the two nearest levels, up with probability t - floor(t)") {
    // A row [0, v x 62, 1]: 62 draws per coding, 500 codings = 31000 draws of round-up for each v.
    // Hoeffding: P(|frequency - p| >= 0.02) <= 2 exp(-2 x 31000 x 0.02^2) = 3e-11 per check (the
    // seeds are fixed, so the outcome is deterministic; this says it is not a lucky one).
    const std::size_t copies = 62, codings = 500;
    for (unsigned bits : {2u, 3u, 8u}) {
        const double levels = (1u << bits) - 1, step = 1.0 / levels;
        for (double fraction : {0.1, 0.5, 0.83}) {
            const double v = (std::floor(levels / 2) + fraction) * step;
            std::vector<float> row(copies + 2, static_cast<float>(v));
            row.front() = 0.0f;
            row.back() = 1.0f;
            const Uniform codec(bits);
            const double t = static_cast<float>(v) / static_cast<double>(static_cast<float>(step));
            const float down = static_cast<float>(std::floor(t)) * static_cast<float>(step);
            const float up = static_cast<float>(std::floor(t) + 1) * static_cast<float>(step);
            std::size_t ups = 0;
            for (std::size_t k = 0; k < codings; ++k) {
                const CodedRow c = code_row(codec, row, 1000 + k);
                CHECK(c.decoded.front() == 0.0f);
                for (std::size_t i = 1; i <= copies; ++i) {
                    const float d = c.decoded[i];
                    REQUIRE_MESSAGE((std::abs(d - down) < 1e-6f || std::abs(d - up) < 1e-6f),
                                    "bits " << bits << ": " << d << " is neither " << down << " nor " << up);
                    ups += std::abs(d - up) < 1e-6f;
                }
            }
            const double frequency = static_cast<double>(ups) / static_cast<double>(copies * codings);
            CHECK_MESSAGE(std::abs(frequency - (t - std::floor(t))) < 0.02, "bits " << bits << ", fraction " << fraction);
        }
    }
}

TEST_CASE("codec rules: Uniform stochastic rounding of rows of every length class is unbiased") {
    // Each value's round-up is a Bernoulli draw: its mean over 2000 codings is within
    // 0.06 of t - floor(t) except with probability 2 exp(-2 x 2000 x 0.06^2) = 1.1e-6 per value,
    // 3e-4 over the 240 values checked (fixed seeds: deterministic).
    for (std::size_t n : {9ul, 16ul, 23ul}) {
        auto row = row_with_extremes(n, 2, n - 1);
        const Uniform codec(3);
        std::vector<double> mean(n, 0.0);
        const std::size_t codings = 2000;
        for (std::size_t k = 0; k < codings; ++k) {
            const CodedRow c = code_row(codec, row, 77 + k);
            for (std::size_t i = 0; i < n; ++i) mean[i] += c.decoded[i];
        }
        const double step = 8.0 / 7.0;
        for (std::size_t i = 0; i < n; ++i)
            CHECK_MESSAGE(std::abs(mean[i] / codings - row[i]) < 0.06 * step, "n = " << n << ", i = " << i);
    }
}

namespace {

/// A tensor coded per tensor: its one header and its values decoded.
CodedRow code_tensor(const Uniform& codec, const std::vector<float>& values, std::size_t cols, std::uint64_t seed = 7) {
    std::vector<char> bytes;
    CodingRng rng(seed);
    codec.encode(values, cols, bytes, rng);
    REQUIRE(bytes.size() == 8 + (values.size() * codec.bits() + 7) / 8);  // one header, every value packed
    REQUIRE(codec.coded_bytes(values.size() / cols, cols) == bytes.size());
    CodedRow out;
    std::memcpy(&out.lo, bytes.data(), 4);
    std::memcpy(&out.step, bytes.data() + 4, 4);
    out.decoded.resize(values.size());
    codec.decode(bytes.data(), cols, out.decoded);
    return out;
}

}  // namespace

TEST_CASE("codec rules: Uniform per tensor: one header for the whole tensor, levels to nearest, by hand") {
    // 2 x 3, 2 bits: the tensor's minimum 0 and maximum 15 give step 5 (levels 0, 5, 10, 15), so
    // the first row, which per row would be exact (step 1), collapses onto level 0 and 5.
    const std::vector<float> tensor{0.0f, 1.0f, 3.0f, 6.0f, 12.0f, 15.0f};
    const CodedRow c = code_tensor(Uniform(2, Rounding::Nearest, Scaling::PerTensor), tensor, 3);
    CHECK(c.lo == 0.0f);
    CHECK(c.step == 5.0f);
    CHECK(c.decoded == std::vector<float>{0.0f, 0.0f, 5.0f, 5.0f, 10.0f, 15.0f});
    // The same tensor per row: row 0 has step 1 (exact), row 1 lo 6, step 3 (6, 9, 12, 15).
    std::vector<float> per_row(6);
    std::vector<char> bytes;
    CodingRng rng(7);
    Uniform(2, Rounding::Nearest).encode(tensor, 3, bytes, rng);
    Uniform(2, Rounding::Nearest).decode(bytes.data(), 3, per_row);
    CHECK(per_row == tensor);
    // 3 bits, a 3 x 4 tensor spanning -1 .. 6 (step 1): every value to its nearest integer.
    const std::vector<float> wide{-1.0f, 0.25f, 0.75f, 1.4f, 2.6f, 3.0f, 4.49f, 4.51f, 5.1f, 6.0f, -0.6f, 2.2f};
    const CodedRow w = code_tensor(Uniform(3, Rounding::Nearest, Scaling::PerTensor), wide, 4);
    CHECK(w.lo == -1.0f);
    CHECK(w.step == 1.0f);
    CHECK(w.decoded == std::vector<float>{-1.0f, 0.0f, 1.0f, 1.0f, 3.0f, 3.0f, 4.0f, 5.0f, 5.0f, 6.0f, -1.0f, 2.0f});
    // A constant tensor is exact (step 0); a tensor with no values costs nothing.
    const CodedRow flat = code_tensor(Uniform(4, Rounding::Stochastic, Scaling::PerTensor), std::vector<float>(6, -2.5f), 2);
    CHECK(flat.step == 0.0f);
    CHECK(flat.decoded == std::vector<float>(6, -2.5f));
    CHECK(Uniform(4, Rounding::Nearest, Scaling::PerTensor).coded_bytes(0, 0) == 0);
    CHECK(Uniform(5, Rounding::Nearest, Scaling::PerTensor).coded_bytes(3, 7) == 8 + (21 * 5 + 7) / 8);
}

TEST_CASE("codec rules: Uniform per tensor, stochastic: each value to one of its two levels, unbiased") {
    // A 3 x 9 tensor spanning -3 .. 5 at 3 bits (step 8 / 7): each value's mean over 2000 codings
    // is within 0.06 step of it (Hoeffding, as for rows: 1.1e-6 per value; fixed seeds), and every
    // decoding is the level just below or just above it.
    std::vector<float> tensor = row_with_extremes(27, 4, 22);
    const Uniform codec(3, Rounding::Stochastic, Scaling::PerTensor);
    const double step = 8.0 / 7.0;
    std::vector<double> mean(tensor.size(), 0.0);
    const std::size_t codings = 2000;
    for (std::size_t k = 0; k < codings; ++k) {
        const CodedRow c = code_tensor(codec, tensor, 9, 300 + k);
        REQUIRE(c.lo == -3.0f);
        for (std::size_t i = 0; i < tensor.size(); ++i) {
            const double below = std::floor((tensor[i] + 3.0) / step) * step - 3.0;
            REQUIRE_MESSAGE((std::abs(c.decoded[i] - below) < 1e-5 || std::abs(c.decoded[i] - (below + step)) < 1e-5),
                            "value " << i << " decoded to " << c.decoded[i]);
            mean[i] += c.decoded[i];
        }
    }
    for (std::size_t i = 0; i < tensor.size(); ++i)
        CHECK_MESSAGE(std::abs(mean[i] / codings - tensor[i]) < 0.06 * step, "value " << i);
}

namespace {

float half_oracle(std::uint16_t h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }
std::uint16_t to_half_oracle(float f) { return std::bit_cast<std::uint16_t>(static_cast<_Float16>(f)); }

/// float -> bfloat16 by the definition: of the two bfloat16 values around f (the float with the
/// low 16 bits cleared and the next one up in magnitude), the nearer in double, ties to the even one;
/// past the largest bfloat16 the next one up is 2^128 (rounds to infinity).
std::uint16_t to_bfloat16_oracle(float f) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(f), sign = bits & 0x80000000u;
    const std::uint32_t below = bits & 0x7FFF0000u, above = below + 0x10000u;
    const double magnitude = std::abs(static_cast<double>(f)), a = std::bit_cast<float>(below);
    const double b = above == 0x7F800000u ? std::ldexp(1.0, 128) : static_cast<double>(std::bit_cast<float>(above));
    std::uint32_t pick = magnitude - a < b - magnitude ? below : magnitude - a > b - magnitude ? above
                         : ((below >> 16) & 1u) ? above : below;
    return static_cast<std::uint16_t>((sign | pick) >> 16);
}

}  // namespace

TEST_CASE("codec rules: half -> float is exact for all 65536 halves (the compiler's _Float16 as oracle)") {
    for (std::uint32_t h = 0; h < 0x10000u; ++h) {
        const float got = detail::half_to_float(static_cast<std::uint16_t>(h)), want = half_oracle(static_cast<std::uint16_t>(h));
        if (std::isnan(want)) {
            CHECK(std::isnan(got));
            CHECK(std::signbit(got) == std::signbit(want));
        } else {
            CHECK_MESSAGE(std::bit_cast<std::uint32_t>(got) == std::bit_cast<std::uint32_t>(want), "half 0x" << std::hex << h);
        }
    }
}

TEST_CASE("codec rules: float -> half rounds to nearest even at every boundary (subnormals, ties, overflow, NaN)") {
    std::size_t checked = 0;
    for (std::uint32_t h = 0; h < 0x7C00u; ++h) {  // every finite non-negative half
        const float x = half_oracle(static_cast<std::uint16_t>(h));
        const double next = h == 0x7BFFu ? 65536.0 : static_cast<double>(half_oracle(static_cast<std::uint16_t>(h + 1)));
        const auto mid = static_cast<float>((x + next) / 2);  // exact: halves have 11 significant bits
        const float inf = std::numeric_limits<float>::infinity();
        for (float f : {x, std::nextafter(x, inf), std::nextafter(x, 0.0f), mid, std::nextafter(mid, inf),
                        std::nextafter(mid, 0.0f)})
            for (float signed_f : {f, -f}) {
                ++checked;
                const std::uint16_t got = detail::float_to_half(signed_f), want = to_half_oracle(signed_f);
                if (got != want) {
                    FAIL_CHECK("float " << signed_f << " (0x" << std::hex << std::bit_cast<std::uint32_t>(signed_f)
                                        << ") -> 0x" << got << ", want 0x" << want);
                }
            }
    }
    CHECK(checked == 0x7C00u * 12);
    const float inf = std::numeric_limits<float>::infinity();
    CHECK(detail::float_to_half(inf) == 0x7C00u);
    CHECK(detail::float_to_half(-inf) == 0xFC00u);
    CHECK(detail::float_to_half(1e30f) == 0x7C00u);
    CHECK(detail::float_to_half(std::numeric_limits<float>::max()) == 0x7C00u);
    CHECK(std::isnan(detail::half_to_float(detail::float_to_half(std::numeric_limits<float>::quiet_NaN()))));
    CHECK(std::isnan(detail::half_to_float(detail::float_to_half(-std::numeric_limits<float>::quiet_NaN()))));
    CHECK(std::isnan(detail::half_to_float(detail::float_to_half(std::bit_cast<float>(0x7F800001u)))));  // signalling
    CHECK(detail::float_to_half(std::numeric_limits<float>::denorm_min()) == 0);
    CHECK(detail::float_to_half(-0.0f) == 0x8000u);
}

TEST_CASE("codec rules: float -> bfloat16 rounds to nearest even at every boundary; bfloat16 -> float is exact") {
    for (std::uint32_t b = 0; b < 0x10000u; ++b) {
        const std::uint32_t exponent = (b >> 7) & 0xFFu;
        if (exponent == 0xFFu) continue;  // infinities and NaN below
        for (std::uint32_t low : {0u, 1u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu, 0x1234u + (b & 0x0FFFu)}) {
            const float f = std::bit_cast<float>((b << 16) | low);
            const std::uint16_t got = detail::float_to_bfloat16(f), want = to_bfloat16_oracle(f);
            if (got != want) FAIL_CHECK("float 0x" << std::hex << std::bit_cast<std::uint32_t>(f) << " -> 0x" << got << ", want 0x" << want);
        }
        CHECK(std::bit_cast<std::uint32_t>(detail::bfloat16_to_float(static_cast<std::uint16_t>(b))) == b << 16);
    }
    const float inf = std::numeric_limits<float>::infinity();
    CHECK(detail::float_to_bfloat16(inf) == 0x7F80u);
    CHECK(detail::float_to_bfloat16(-inf) == 0xFF80u);
    for (std::uint32_t nan : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0x7F80FFFFu, 0x7FFFFFFFu}) {
        const float back = detail::bfloat16_to_float(detail::float_to_bfloat16(std::bit_cast<float>(nan)));
        CHECK(std::isnan(back));
        CHECK(std::signbit(back) == ((nan >> 31) != 0));
    }
}

TEST_CASE("codec rules: Fp16 and Bf16 code every value as the conversions do, two bytes each, in order") {
    std::vector<float> values;
    for (std::uint32_t i = 0; i < 1000; ++i) values.push_back(std::ldexp(static_cast<float>(i) - 500.5f, static_cast<int>(i % 40) - 30));
    values.push_back(std::numeric_limits<float>::infinity());
    std::vector<char> bytes;
    CodingRng rng(1);
    Fp16{}.encode(values, 10, bytes, rng);
    Bf16{}.encode(values, 10, bytes, rng);
    REQUIRE(bytes.size() == 4 * values.size());
    for (std::size_t i = 0; i < values.size(); ++i) {
        std::uint16_t h, b;
        std::memcpy(&h, bytes.data() + 2 * i, 2);
        std::memcpy(&b, bytes.data() + 2 * (values.size() + i), 2);
        CHECK(h == to_half_oracle(values[i]));
        CHECK(b == to_bfloat16_oracle(values[i]));
    }
    std::vector<float> decoded(values.size());
    Fp16{}.decode(bytes.data(), 10, decoded);
    for (std::size_t i = 0; i < values.size(); ++i) CHECK(std::bit_cast<std::uint32_t>(decoded[i]) == std::bit_cast<std::uint32_t>(half_oracle(to_half_oracle(values[i]))));
}
