#pragma once
// Portable random draws: every number the library draws comes from here, so a seed gives the
// same plans, initial weights and batches with libstdc++, libc++ or any other standard library.
//
// The engine is std::mt19937_64, whose output sequence and stream text format the C++ standard
// fixes (checkpoints store engine states as that text). The std distributions and std::shuffle
// are *not* fixed by the standard (implementations differ), so the algorithms on top of the
// engine are written out below.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"

namespace ist::detail {

/// The engine behind every draw of the library.
using RandomEngine = std::mt19937_64;

/// The high 64 bits of the 128-bit product a * b, from 32-bit halves (no compiler extension).
inline std::uint64_t multiply_high(std::uint64_t a, std::uint64_t b) {
    const std::uint64_t a_lo = a & 0xFFFFFFFFu, a_hi = a >> 32, b_lo = b & 0xFFFFFFFFu, b_hi = b >> 32;
    const std::uint64_t lo_lo = a_lo * b_lo, hi_lo = a_hi * b_lo, lo_hi = a_lo * b_hi, hi_hi = a_hi * b_hi;
    const std::uint64_t middle = (lo_lo >> 32) + (hi_lo & 0xFFFFFFFFu) + lo_hi;
    return hi_hi + (hi_lo >> 32) + (middle >> 32);
}

/// Uniform integer in [0, n), exactly unbiased: Lemire's multiply-and-reject ("Fast random
/// integer generation in an interval", 2019). The high word of x * n is the draw; x is redrawn
/// while the low word falls in the 2^64 mod n values that would over-represent some results.
/// Throws ConfigError for n = 0 (the interval is empty).
inline std::uint64_t uniform_below(RandomEngine& rng, std::uint64_t n) {
    if (n == 0) throw ConfigError("uniform_below: the interval [0, n) is empty (n = 0)");
    std::uint64_t x = rng(), low = x * n;
    if (low < n) {
        const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
        while (low < threshold) {
            x = rng();
            low = x * n;
        }
    }
    return multiply_high(x, n);
}

/// Uniform in [0, 1) on the grid of multiples of 2^-24 (float) or 2^-53 (double): the top bits
/// of one engine output, so every value is exact and equally likely.
template <class Real>
    requires std::same_as<Real, float> || std::same_as<Real, double>
Real uniform01(RandomEngine& rng) {
    constexpr int bits = std::numeric_limits<Real>::digits;  // 24 or 53
    return static_cast<Real>(rng() >> (64 - bits)) * (Real{1} / static_cast<Real>(std::uint64_t{1} << bits));
}

/// Uniform in [a, b), a < b: a + (b - a) * uniform01. Rounding could land exactly on b; such a
/// draw is moved to the largest value below b, so b itself never occurs. Written as one explicit
/// fused multiply-add: a compiler may otherwise fuse it or not (-march=native, -ffp-contract),
/// and the last bit of the draw would depend on the build.
template <class Real>
    requires std::same_as<Real, float> || std::same_as<Real, double>
Real uniform(RandomEngine& rng, Real a, Real b) {
    assert(a < b);
    const Real x = std::fma(b - a, uniform01<Real>(rng), a);
    return x < b ? x : std::nextafter(b, a);
}

/// True with probability p (p outside [0, 1] acts as 0 or 1).
inline bool bernoulli(RandomEngine& rng, double p) { return uniform01<double>(rng) < p; }

/// Standard normal N(0, 1) by Marsaglia's polar method: draw (u, v) uniform in the square
/// [-1, 1)^2 until it falls inside the unit disc (s = u^2 + v^2 in (0, 1)); then
/// u * sqrt(-2 ln s / s) is normal. The second normal of the pair (v * ...) is discarded so
/// that the function keeps no state beside the engine.
inline double normal(RandomEngine& rng) {
    double u, v, s;
    do {
        u = 2.0 * uniform01<double>(rng) - 1.0;
        v = 2.0 * uniform01<double>(rng) - 1.0;
        s = std::fma(u, u, v * v);  // explicit, as in uniform()
    } while (s >= 1.0 || s == 0.0);
    return u * std::sqrt(-2.0 * std::log(s) / s);
}

/// Normal with mean `mean` and standard deviation `sd`.
inline double normal(RandomEngine& rng, double mean, double sd) { return std::fma(sd, normal(rng), mean); }

/// Gamma(shape, 1) by Marsaglia & Tsang (2000): for shape >= 1, d = shape - 1/3 and c = 1/sqrt(9d);
/// draw x normal and v = (1 + cx)^3 until ln u < x^2/2 + d - dv + d ln v, then d*v is the draw.
/// Below 1, Gamma(shape + 1) * u^(1/shape). Throws ConfigError unless shape > 0 (and finite).
inline double gamma(RandomEngine& rng, double shape) {
    if (!(shape > 0.0) || !std::isfinite(shape))
        throw ConfigError("gamma: the shape must be a positive number, got " + std::to_string(shape));
    if (shape < 1.0) {
        const double boosted = gamma(rng, shape + 1.0);
        return boosted * std::pow(uniform01<double>(rng), 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
        const double x = normal(rng), t = std::fma(c, x, 1.0);
        if (t <= 0.0) continue;
        const double v = t * t * t, u = uniform01<double>(rng);
        if (u > 0.0 && std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
}

/// A draw of the symmetric Dirichlet(alpha, ..., alpha) over `n` categories: n proportions that
/// sum to 1 (normalised Gamma(alpha) draws). Throws ConfigError unless alpha > 0 and n > 0.
inline std::vector<double> dirichlet(RandomEngine& rng, std::size_t n, double alpha) {
    if (n == 0) throw ConfigError("dirichlet: needs at least one category");
    std::vector<double> p(n);
    double sum = 0.0;
    for (auto& v : p) sum += v = gamma(rng, alpha);
    // Tiny alphas can underflow every draw to 0: then all the mass goes to one uniform category.
    if (!(sum > 0.0)) {
        std::fill(p.begin(), p.end(), 0.0);
        p[uniform_below(rng, n)] = 1.0;
        return p;
    }
    for (auto& v : p) v /= sum;
    return p;
}

/// Every element of `values` set to a draw of uniform(rng, a, b), in iteration order.
template <std::ranges::range Range, class Real>
void fill_uniform(Range&& values, RandomEngine& rng, Real a, Real b) {
    for (auto& v : values) v = uniform<Real>(rng, a, b);
}

/// Fisher-Yates shuffle (Durstenfeld's form): for i = n-1 down to 1, swap element i with a
/// uniform element of [0, i]. Every permutation is equally likely.
template <std::ranges::random_access_range Range>
void shuffle(Range&& values, RandomEngine& rng) {
    const auto first = std::ranges::begin(values);
    const auto n = static_cast<std::uint64_t>(std::ranges::size(values));
    for (std::uint64_t i = n; i > 1; --i) {
        const auto j = uniform_below(rng, i);
        std::ranges::iter_swap(first + static_cast<std::ptrdiff_t>(i - 1), first + static_cast<std::ptrdiff_t>(j));
    }
}

/// A uniformly random permutation of 0, ..., n-1.
inline std::vector<std::uint32_t> random_permutation(std::size_t n, RandomEngine& rng) {
    std::vector<std::uint32_t> order(n);
    std::iota(order.begin(), order.end(), 0u);
    shuffle(order, rng);
    return order;
}

/// k distinct indices of [0, n), uniformly among all k-subsets, in random order: the first k
/// steps of a forward Fisher-Yates (step i swaps i with a uniform element of [i, n)).
/// Throws ConfigError when k > n.
inline std::vector<std::uint32_t> sample_without_replacement(std::size_t n, std::size_t k, RandomEngine& rng) {
    if (k > n)
        throw ConfigError("sample_without_replacement: cannot draw " + std::to_string(k) + " distinct indices of " +
                          std::to_string(n));
    std::vector<std::uint32_t> pool(n);
    std::iota(pool.begin(), pool.end(), 0u);
    for (std::size_t i = 0; i < k; ++i) std::swap(pool[i], pool[i + uniform_below(rng, n - i)]);
    pool.resize(k);
    return pool;
}

}  // namespace ist::detail
