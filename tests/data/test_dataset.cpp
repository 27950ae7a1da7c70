// train_test_split and standardize against oracles written in the test: every row is recognised
// by its contents, and the standardisation statistics are computed by hand in double.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <vector>

#include <ist/data/dataset.hpp>

using namespace ist;

namespace {

/// `rows` x 4 rows that are all different: row i holds i in feature 0 (the fingerprint), noise-free
/// values in the others, label i % 3 and cluster i % 5.
Dataset numbered_rows(std::size_t rows) {
    Dataset d{Matrix::from_shape({rows, 4}), {}, 3, "numbered", {}};
    for (std::size_t i = 0; i < rows; ++i) {
        const auto x = static_cast<float>(i);
        d.features(i, 0) = x;
        d.features(i, 1) = 0.5f * x - 3.0f;
        d.features(i, 2) = static_cast<float>((i * 7) % 11);
        d.features(i, 3) = -x * x;
        d.labels.push_back(static_cast<std::uint32_t>(i % 3));
        d.clusters.push_back(static_cast<std::uint32_t>(i % 5));
    }
    return d;
}

/// For every row of `part`, the original row it is a copy of (its feature 0), after checking that
/// the whole row, its label and its cluster equal that original's.
std::vector<std::size_t> original_rows(const Dataset& part, const Dataset& original) {
    std::vector<std::size_t> rows;
    for (std::size_t r = 0; r < part.size(); ++r) {
        const auto i = static_cast<std::size_t>(part.features(r, 0));
        REQUIRE(i < original.size());
        for (std::size_t j = 0; j < original.feature_count(); ++j) CHECK(part.features(r, j) == original.features(i, j));
        CHECK(part.labels.at(r) == original.labels[i]);
        CHECK(part.clusters.at(r) == original.clusters[i]);
        rows.push_back(i);
    }
    return rows;
}

/// Column means and population standard deviations of `d`, in double.
std::pair<std::vector<double>, std::vector<double>> column_statistics(const Dataset& d) {
    const std::size_t n = d.size(), f = d.feature_count();
    std::vector<double> mean(f, 0.0), sd(f, 0.0);
    for (std::size_t j = 0; j < f; ++j) {
        for (std::size_t i = 0; i < n; ++i) mean[j] += d.features(i, j);
        mean[j] /= static_cast<double>(n);
        for (std::size_t i = 0; i < n; ++i) sd[j] += (d.features(i, j) - mean[j]) * (d.features(i, j) - mean[j]);
        sd[j] = std::sqrt(sd[j] / static_cast<double>(n));
    }
    return {mean, sd};
}

/// Checks that every entry of `after` is (before - mean) / sd (sd 1 where the column is constant).
void check_transformed(const Dataset& before, const Dataset& after, const std::vector<double>& mean,
                       const std::vector<double>& sd) {
    REQUIRE(after.size() == before.size());
    for (std::size_t i = 0; i < before.size(); ++i)
        for (std::size_t j = 0; j < before.feature_count(); ++j) {
            CAPTURE(i);
            CAPTURE(j);
            const double scale = sd[j] > 1e-6 ? sd[j] : 1.0;
            CHECK(after.features(i, j) == doctest::Approx((before.features(i, j) - mean[j]) / scale).epsilon(1e-5));
        }
}

}  // namespace

TEST_CASE("dataset: train_test_split gives disjoint parts that hold every row exactly once") {
    const Dataset data = numbered_rows(103);
    const auto [train, test] = train_test_split(data, 0.3, 11);
    CHECK(test.size() == 31);  // round(0.3 * 103) = round(30.9)
    CHECK(train.size() == 72);
    CHECK(train.classes == 3);
    CHECK(test.feature_count() == 4);

    std::vector<int> seen(data.size(), 0);
    for (std::size_t i : original_rows(train, data)) ++seen[i];
    for (std::size_t i : original_rows(test, data)) ++seen[i];
    for (std::size_t i = 0; i < data.size(); ++i) {
        CAPTURE(i);
        CHECK(seen[i] == 1);
    }

    // Shuffled: the test part is not simply the first (or last) 31 rows, and it holds rows of
    // both halves of the original order.
    const std::vector<std::size_t> test_rows = original_rows(test, data);
    std::size_t early = 0, in_order = 0;
    for (std::size_t k = 0; k < test_rows.size(); ++k) {
        early += test_rows[k] < 52;
        in_order += k > 0 && test_rows[k] > test_rows[k - 1];
    }
    CHECK(early > 5);
    CHECK(early < 26);
    CHECK(in_order < 25);

    // The seed decides the split, and only the seed.
    const auto [train_again, test_again] = train_test_split(data, 0.3, 11);
    CHECK(original_rows(test_again, data) == test_rows);
    const auto [train_other, test_other] = train_test_split(data, 0.3, 12);
    CHECK(original_rows(test_other, data) != test_rows);
}

TEST_CASE("dataset: train_test_split rounds the test size and refuses impossible fractions") {
    const Dataset data = numbered_rows(10);
    CHECK(train_test_split(data, 0.25, 1).second.size() == 3);  // 2.5 rounds away from zero
    CHECK(train_test_split(data, 0.24, 1).second.size() == 2);
    CHECK(train_test_split(data, 0.9, 1).first.size() == 1);
    CHECK_THROWS_WITH_AS(train_test_split(data, 0.0, 1), "train_test_split: test fraction must be in (0, 1), got 0.000000",
                         ConfigError);
    CHECK_THROWS_AS(train_test_split(data, 1.0, 1), ConfigError);
    CHECK_THROWS_WITH_AS(train_test_split(data, 0.01, 1), "numbered: too few rows (10) to split", DataError);
    CHECK_THROWS_WITH_AS(train_test_split(data, 0.97, 1), "numbered: too few rows (10) to split", DataError);
}

TEST_CASE("dataset: standardize scales both parts by the training part's statistics only") {
    // The test part comes from a different distribution (shifted and stretched), so its own
    // statistics differ from the training part's; feature 2 is constant in training.
    Dataset train{Matrix::from_shape({6, 3}), {0, 1, 0, 1, 0, 1}, 2, "train", {}};
    Dataset test{Matrix::from_shape({4, 3}), {1, 0, 1, 0}, 2, "test", {}};
    const float train_values[6][3] = {{1, 10, 5}, {2, 14, 5}, {4, 9, 5}, {0, 11, 5}, {3, 16, 5}, {8, 12, 5}};
    const float test_values[4][3] = {{100, -50, 7}, {120, 40, 5}, {90, 0, 3}, {150, 10, 9}};
    for (std::size_t i = 0; i < 6; ++i)
        for (std::size_t j = 0; j < 3; ++j) train.features(i, j) = train_values[i][j];
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 3; ++j) test.features(i, j) = test_values[i][j];
    const Dataset train_before = train, test_before = test;
    const auto [mean, sd] = column_statistics(train_before);
    CHECK(sd[2] == 0.0);

    standardize(train, test);
    check_transformed(train_before, train, mean, sd);
    check_transformed(test_before, test, mean, sd);
    // The training part now has mean 0 and standard deviation 1 (0 where it was constant).
    const auto [train_mean, train_sd] = column_statistics(train);
    for (std::size_t j = 0; j < 3; ++j) CHECK(train_mean[j] == doctest::Approx(0.0).epsilon(1e-5));
    CHECK(train_sd[0] == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(train_sd[1] == doctest::Approx(1.0).epsilon(1e-5));
    CHECK(test.features(1, 2) == 0.0f);  // the constant feature is only centred
    CHECK(test.features(3, 2) == 4.0f);

    Dataset narrow{Matrix::from_shape({2, 2}), {0, 1}, 2, "narrow", {}};
    CHECK_THROWS_WITH_AS(standardize(train, narrow), "standardize: train has 3 features, test 2", DataError);
}
