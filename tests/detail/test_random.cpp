// The portable random module: pinned draws (a standard library or compiler that changed them
// would change every plan and initial weight), statistical sanity and edge cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <map>
#include <numeric>
#include <set>

#include "helpers.hpp"

using namespace ist;

using detail::RandomEngine;

// The float draws are the same with and without -march=native (uniform() is an explicit fma):
// this file's values were checked under -O0, -O2 and -O2 -march=native.
TEST_CASE("random: pinned draws for seed 42") {
    RandomEngine below(42), below_large(42), floats(42), doubles(42), ranged(42), normals(42);
    const std::array<std::uint64_t, 10> digits{7, 6, 7, 1, 9, 0, 5, 3, 2, 3};
    for (std::uint64_t d : digits) CHECK(detail::uniform_below(below, 10) == d);
    for (std::uint64_t v : {755155538ull, 639031398ull, 752145206ull, 136272684ull})
        CHECK(detail::uniform_below(below_large, 1000000007ull) == v);
    for (float v : {0.755155504f, 0.639031351f, 0.752145171f, 0.136272669f}) CHECK(detail::uniform01<float>(floats) == v);
    for (double v : {0.75515553295453897, 0.63903139385469743, 0.7521452007480266, 0.13627268363243705})
        CHECK(detail::uniform01<double>(doubles) == v);
    for (float v : {1.77577758f, 1.19515681f, 1.76072586f, -1.31863666f}) CHECK(detail::uniform(ranged, -2.0f, 3.0f) == v);
    for (double v : {1.2938204232729367, 0.39797739618378858, 1.1185550524574781, -1.4922470037224238})
        CHECK(detail::normal(normals) == doctest::Approx(v).epsilon(1e-15));  // log/sqrt: allow the last bit
}

TEST_CASE("random: pinned shuffle, sample, plan and initial weights") {
    RandomEngine shuffle_rng(42), sample_rng(42);
    std::vector<int> digits{0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    detail::shuffle(digits, shuffle_rng);
    CHECK(digits == std::vector<int>{3, 4, 1, 2, 9, 8, 0, 6, 5, 7});
    CHECK(detail::sample_without_replacement(100, 5, sample_rng) == std::vector<std::uint32_t>{75, 64, 0, 16, 90});

    const Network net = make_mlp({5, {8, 6}, 3});
    PartitionRng rng(7);
    NeuronPartition{}.validate(net.dimensions(), 3);
    const Plan plan = NeuronPartition{}.plan(net.dimensions(), 3, rng);
    using Indices = std::vector<std::uint32_t>;
    CHECK(*plan[0].dims[1] == Indices{1, 2, 3});
    CHECK(*plan[1].dims[1] == Indices{0, 4, 5});
    CHECK(*plan[2].dims[1] == Indices{6, 7});
    CHECK(*plan[0].dims[2] == Indices{0, 4});
    CHECK(*plan[1].dims[2] == Indices{2, 3});
    CHECK(*plan[2].dims[2] == Indices{1, 5});

    Dense dense(3, 2, true, 5);
    const Tensor& weight = dense.parameters()[0].value;
    const Tensor& bias = dense.parameters()[1].value;
    CHECK(std::vector<float>(weight.begin(), weight.end()) ==
          std::vector<float>{0.199838117f, -0.532900512f, -0.317209512f, 0.203148961f, -0.473003626f, -0.466103643f});
    CHECK(std::vector<float>(bias.begin(), bias.end()) == std::vector<float>{-0.427440584f, 0.216828659f});
}

TEST_CASE("random: multiply_high is the high word of the 128-bit product") {
    CHECK(detail::multiply_high(~0ull, ~0ull) == ~0ull - 1);
    CHECK(detail::multiply_high(1ull << 32, 1ull << 32) == 1);
    CHECK(detail::multiply_high(12345, 67890) == 0);
#ifdef __SIZEOF_INT128__
    RandomEngine rng(3);
    for (int i = 0; i < 1000; ++i) {
        const std::uint64_t a = rng(), b = rng();
        __extension__ using Wide = unsigned __int128;
        CHECK(detail::multiply_high(a, b) == static_cast<std::uint64_t>((static_cast<Wide>(a) * b) >> 64));
    }
#endif
}

TEST_CASE("random: bounded integers cover the range without bias") {
    RandomEngine rng(11);
    std::array<int, 7> counts{};
    const int draws = 70000;
    for (int i = 0; i < draws; ++i) ++counts[detail::uniform_below(rng, 7)];
    for (int c : counts) CHECK(std::abs(c - draws / 7) < 500);  // sd ~93

    // n = 3 * 2^62: `rng() % n` would land below 2^62 half of the time instead of a third.
    const std::uint64_t n = 3ull << 62;
    int low = 0;
    for (int i = 0; i < 30000; ++i) low += detail::uniform_below(rng, n) < (1ull << 62);
    CHECK(low / 30000.0 == doctest::Approx(1.0 / 3.0).epsilon(0.05));

    for (int i = 0; i < 100; ++i) CHECK(detail::uniform_below(rng, 1) == 0);
    CHECK_THROWS_WITH_AS(detail::uniform_below(rng, 0), doctest::Contains("empty"), ConfigError);
}

TEST_CASE("random: uniform reals stay below their upper bound and have the right mean") {
    RandomEngine rng(5);
    double sum = 0.0;
    for (int i = 0; i < 20000; ++i) {
        const double u = detail::uniform01<double>(rng);
        const float f = detail::uniform01<float>(rng), g = detail::uniform(rng, -0.5f, 0.25f);
        CHECK((u >= 0.0 && u < 1.0 && f >= 0.0f && f < 1.0f && g >= -0.5f && g < 0.25f));
        sum += u;
    }
    CHECK(sum / 20000.0 == doctest::Approx(0.5).epsilon(0.02));
    // A range one float wide: rounding up to b is moved back below it.
    const float a = 1.0f, b = std::nextafter(1.0f, 2.0f);
    for (int i = 0; i < 1000; ++i) CHECK(detail::uniform(rng, a, b) == a);
}

TEST_CASE("random: normal draws have mean 0 and variance 1, bernoulli its probability") {
    RandomEngine rng(8);
    double sum = 0.0, squares = 0.0;
    int heads = 0;
    const int draws = 40000;
    for (int i = 0; i < draws; ++i) {
        const double x = detail::normal(rng);
        sum += x, squares += x * x;
        heads += detail::bernoulli(rng, 0.3);
    }
    CHECK(std::abs(sum / draws) < 0.03);
    CHECK(squares / draws == doctest::Approx(1.0).epsilon(0.04));
    CHECK(heads / double(draws) == doctest::Approx(0.3).epsilon(0.03));
    CHECK(detail::normal(rng, 10.0, 0.0) == 10.0);
}

TEST_CASE("random: shuffle gives permutations, every order equally often") {
    RandomEngine rng(13);
    std::vector<std::uint32_t> big = detail::random_permutation(1000, rng);
    std::vector<std::uint32_t> sorted = big;
    std::sort(sorted.begin(), sorted.end());
    std::vector<std::uint32_t> identity(1000);
    std::iota(identity.begin(), identity.end(), 0u);
    CHECK(sorted == identity);
    CHECK(big != identity);

    std::map<std::vector<int>, int> orders;
    for (int i = 0; i < 6000; ++i) {
        std::vector<int> three{0, 1, 2};
        detail::shuffle(three, rng);
        ++orders[three];
    }
    CHECK(orders.size() == 6);
    for (const auto& [order, count] : orders) CHECK(std::abs(count - 1000) < 150);  // sd ~29

    // Nothing to shuffle: no draw is taken, so the engine is left as it was.
    RandomEngine untouched(13), copy(13);
    std::vector<int> empty, one{4};
    detail::shuffle(empty, untouched);
    detail::shuffle(one, untouched);
    CHECK(one == std::vector<int>{4});
    CHECK(untouched == copy);
    CHECK(detail::random_permutation(1, untouched) == std::vector<std::uint32_t>{0});
}

TEST_CASE("random: sample without replacement") {
    RandomEngine rng(21);
    for (int trial = 0; trial < 50; ++trial) {
        const auto s = detail::sample_without_replacement(30, 12, rng);
        CHECK(s.size() == 12);
        CHECK(std::set<std::uint32_t>(s.begin(), s.end()).size() == 12);
        CHECK(*std::max_element(s.begin(), s.end()) < 30);
    }
    CHECK(detail::sample_without_replacement(30, 0, rng).empty());
    CHECK(detail::sample_without_replacement(1, 1, rng) == std::vector<std::uint32_t>{0});
    auto all = detail::sample_without_replacement(20, 20, rng);
    std::sort(all.begin(), all.end());
    std::vector<std::uint32_t> identity(20);
    std::iota(identity.begin(), identity.end(), 0u);
    CHECK(all == identity);
    CHECK_THROWS_WITH_AS(detail::sample_without_replacement(3, 4, rng),
                         "sample_without_replacement: cannot draw 4 distinct indices of 3", ConfigError);

    // Every index equally likely to be drawn: 3 of 6, 12000 times, 6000 expected each.
    std::array<int, 6> counts{};
    for (int i = 0; i < 12000; ++i)
        for (std::uint32_t v : detail::sample_without_replacement(6, 3, rng)) ++counts[v];
    for (int c : counts) CHECK(std::abs(c - 6000) < 300);  // sd ~55
}
