// Federated client shards: every row dealt once, the skews measured on real data (digits), and
// the exact errors for impossible requests.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>

#include "helpers.hpp"

using namespace ist;

namespace {

void check_partition_of_rows(const ClientShards& shards, std::size_t rows) {
    std::vector<std::uint32_t> all;
    for (const auto& s : shards) {
        CHECK(std::is_sorted(s.begin(), s.end()));
        CHECK_FALSE(s.empty());
        all.insert(all.end(), s.begin(), s.end());
    }
    std::sort(all.begin(), all.end());
    REQUIRE(all.size() == rows);
    for (std::size_t r = 0; r < rows; ++r) REQUIRE(all[r] == r);
}

/// Mean over clients of the share of their most frequent class.
double mean_top_class_share(const std::vector<std::vector<std::size_t>>& histograms) {
    double total = 0.0;
    for (const auto& h : histograms) {
        std::size_t rows = 0;
        for (std::size_t c : h) rows += c;
        total += static_cast<double>(*std::max_element(h.begin(), h.end())) / static_cast<double>(rows);
    }
    return total / static_cast<double>(histograms.size());
}

}  // namespace

TEST_CASE("clients: every deal covers every row exactly once, reproducibly from the seed") {
    const Dataset digits = load_digits();
    const std::vector<ClientShards> deals{iid_clients(digits, 20, 1), dirichlet_clients(digits, 20, 0.5, 1),
                                          classes_per_client(digits, 20, 2, 1), size_skewed_clients(digits, 20, 1.0, 1)};
    for (const auto& shards : deals) check_partition_of_rows(shards, digits.size());
    CHECK(dirichlet_clients(digits, 20, 0.5, 1) == deals[1]);
    CHECK(dirichlet_clients(digits, 20, 0.5, 2) != deals[1]);
    CHECK(classes_per_client(digits, 20, 2, 1) == deals[2]);
}

TEST_CASE("clients: Dirichlet alpha sets the label skew (0.1 skewed, 100 near IID)") {
    const Dataset digits = load_digits();  // ten classes of ~180 rows
    const double skewed = mean_top_class_share(label_histograms(digits, dirichlet_clients(digits, 10, 0.1, 3)));
    const double mild = mean_top_class_share(label_histograms(digits, dirichlet_clients(digits, 10, 100.0, 3)));
    const double iid = mean_top_class_share(label_histograms(digits, iid_clients(digits, 10, 3)));
    MESSAGE("top-class share: alpha 0.1 " << skewed << ", alpha 100 " << mild << ", IID " << iid);
    CHECK(skewed > 0.5);   // most of a client's rows come from one class
    CHECK(mild < 0.2);     // about 1/10, as IID
    CHECK(iid < 0.2);
}

TEST_CASE("clients: K classes per client holds exactly K classes, each class split evenly over its holders") {
    const Dataset digits = load_digits();
    const auto shards = classes_per_client(digits, 10, 2, 4);
    const auto histograms = label_histograms(digits, shards);
    std::vector<std::size_t> holders(10, 0), class_rows(10, 0);
    for (std::uint32_t y : digits.labels) ++class_rows[y];
    for (const auto& h : histograms) {
        CHECK(std::count_if(h.begin(), h.end(), [](std::size_t c) { return c > 0; }) == 2);
        for (std::size_t y = 0; y < 10; ++y) holders[y] += h[y] > 0;
    }
    for (std::size_t y = 0; y < 10; ++y) {
        CHECK(holders[y] == 2);  // 10 clients x 2 slots over 10 classes
        for (const auto& h : histograms)
            if (h[y] > 0) CHECK(std::abs(static_cast<double>(h[y]) - class_rows[y] / 2.0) <= 1.0);
    }
}

TEST_CASE("clients: size skew keeps labels IID but makes client sizes unequal") {
    const Dataset digits = load_digits();
    const auto shards = size_skewed_clients(digits, 10, 0.5, 2);
    std::size_t smallest = digits.size(), largest = 0;
    for (const auto& s : shards) smallest = std::min(smallest, s.size()), largest = std::max(largest, s.size());
    MESSAGE("client sizes from " << smallest << " to " << largest);
    CHECK(largest > 4 * smallest);
    for (const auto& s : iid_clients(digits, 10, 2)) CHECK((s.size() == 179 || s.size() == 180));
}

TEST_CASE("clients: impossible requests are refused before anything is dealt") {
    const Dataset digits = load_digits();
    CHECK_THROWS_WITH_AS(dirichlet_clients(digits, 10, 0.0, 1), "dirichlet_clients: alpha must be positive, got 0.000000",
                         ConfigError);
    CHECK_THROWS_WITH_AS(classes_per_client(digits, 10, 11, 1),
                         "classes_per_client: K = 11 classes per client, but digits has 10 classes", ConfigError);
    CHECK_THROWS_WITH_AS(classes_per_client(digits, 4, 2, 1),
                         "classes_per_client: 4 clients x K = 2 hold only 8 class slots for 10 classes; every class "
                         "needs a client",
                         ConfigError);
    CHECK_THROWS_WITH_AS(iid_clients(digits, 2000, 1),
                         "iid_clients: 2000 clients but digits has only 1797 rows; every client needs at least one",
                         ConfigError);
    CHECK_THROWS_WITH_AS(size_skewed_clients(digits, 10, -1.0, 1), "size_skewed_clients: beta must be positive, got -1.000000",
                         ConfigError);
    DealOptions strict;
    strict.min_rows = 1000;  // 10 clients cannot each hold 1000 of 1797 rows
    strict.attempts = 3;
    CHECK_THROWS_WITH_AS(dirichlet_clients(digits, 10, 1.0, 1, strict),
                         "dirichlet_clients: with alpha = 1.000000 some client kept fewer than 1000 rows in 3 draws; use "
                         "fewer clients or a milder skew",
                         ConfigError);
    Dataset partly = digits;
    partly.labels[5] = kUnlabeled;
    CHECK_THROWS_WITH_AS(dirichlet_clients(partly, 10, 1.0, 1),
                         "dirichlet_clients: row 5 of digits is unlabelled; a label skew needs every row labelled", DataError);
}
