// Gamma and Dirichlet draws (the federated label skew draws from them): moments against the
// textbook values, exact errors, reproducibility.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include <ist/detail/random.hpp>

using namespace ist;

TEST_CASE("random: gamma draws have mean k and variance k (shapes below and above 1)") {
    for (double shape : {0.1, 0.5, 1.0, 2.5, 30.0}) {
        detail::RandomEngine rng(17);
        const int n = 200000;
        double sum = 0.0, sum_sq = 0.0;
        int negative = 0;
        for (int i = 0; i < n; ++i) {
            const double x = detail::gamma(rng, shape);
            negative += x < 0.0;
            sum += x;
            sum_sq += x * x;
        }
        CHECK(negative == 0);
        const double mean = sum / n, variance = sum_sq / n - mean * mean;
        // Standard error of the mean: sqrt(k / n); five of them.
        CHECK(std::abs(mean - shape) < 5.0 * std::sqrt(shape / n));
        CHECK(std::abs(variance - shape) < 0.05 * shape + 0.002);
    }
}

TEST_CASE("random: gamma refuses a shape that is not positive") {
    detail::RandomEngine rng(1);
    CHECK_THROWS_WITH_AS(detail::gamma(rng, 0.0), "gamma: the shape must be a positive number, got 0.000000", ConfigError);
    CHECK_THROWS_WITH_AS(detail::gamma(rng, -2.0), "gamma: the shape must be a positive number, got -2.000000", ConfigError);
    CHECK_THROWS_AS(detail::gamma(rng, std::nan("")), ConfigError);
}

TEST_CASE("random: Dirichlet proportions sum to 1, have mean 1/n, and concentrate as alpha grows") {
    for (double alpha : {0.05, 1.0, 100.0}) {
        detail::RandomEngine rng(5);
        const std::size_t n = 4;
        const int draws = 20000;
        std::vector<double> mean(n, 0.0);
        double spread = 0.0;
        for (int i = 0; i < draws; ++i) {
            const auto p = detail::dirichlet(rng, n, alpha);
            double sum = 0.0, lowest = 1.0;
            for (double v : p) sum += v, lowest = std::min(lowest, v);
            if (lowest < 0.0 || std::abs(sum - 1.0) > 1e-12) FAIL("draw " << i << ": a negative share or a sum of " << sum);
            for (std::size_t k = 0; k < n; ++k) mean[k] += p[k] / draws, spread += std::abs(p[k] - 0.25) / draws;
        }
        for (double m : mean) CHECK(m == doctest::Approx(0.25).epsilon(0.05));
        // Mean absolute deviation from uniform: near its maximum (1.5 over 4 categories) for tiny
        // alpha, near zero for alpha = 100.
        if (alpha < 0.1) CHECK(spread > 1.2);
        if (alpha > 50) CHECK(spread < 0.1);
    }
    detail::RandomEngine rng(1);
    CHECK_THROWS_WITH_AS(detail::dirichlet(rng, 0, 1.0), "dirichlet: needs at least one category", ConfigError);
}

TEST_CASE("random: the same seed gives the same gamma draws") {
    detail::RandomEngine a(99), b(99);
    for (int i = 0; i < 100; ++i) CHECK(detail::gamma(a, 0.3) == detail::gamma(b, 0.3));
}
