// The federated deals against their definitions (issue 36): IID sizes are differences of rounded
// cumulative shares, a Dirichlet deal draws fresh proportions per class with the asked spread, K
// classes per client splits each class evenly over exactly its holders, and every deal shuffles
// within a class and covers every row exactly once.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <vector>

#include <ist/data/clients.hpp>

using namespace ist;

namespace {

/// `rows` rows, row r of class r % classes (so a class's rows are spread over the whole set).
Dataset labelled_rows(std::size_t rows, std::size_t classes) {
    Dataset d;
    d.features = xt::zeros<float>({rows, std::size_t{1}});
    d.labels.resize(rows);
    for (std::size_t r = 0; r < rows; ++r) d.labels[r] = static_cast<std::uint32_t>(r % classes);
    d.classes = classes;
    d.name = "toy";
    return d;
}

void require_every_row_once(const ClientShards& shards, std::size_t rows) {
    std::vector<std::size_t> seen(rows, 0);
    for (const auto& s : shards) {
        CHECK(std::is_sorted(s.begin(), s.end()));
        for (std::uint32_t r : s) {
            REQUIRE(r < rows);
            ++seen[r];
        }
    }
    for (std::size_t r = 0; r < rows; ++r) REQUIRE_MESSAGE(seen[r] == 1, "row " << r << " dealt " << seen[r] << " times");
}

/// The rows of class y a client holds, as ranks among the class's rows (row r is rank r / classes).
std::vector<std::size_t> ranks_in_class(const std::vector<std::uint32_t>& shard, std::size_t y, std::size_t classes) {
    std::vector<std::size_t> ranks;
    for (std::uint32_t r : shard)
        if (r % classes == y) ranks.push_back(r / classes);
    return ranks;
}

bool is_run_from(const std::vector<std::size_t>& ranks, std::size_t first) {
    for (std::size_t i = 0; i < ranks.size(); ++i)
        if (ranks[i] != first + i) return false;
    return true;
}

}  // namespace

TEST_CASE("deals: IID client k gets round(n (k+1) / c) - round(n k / c) shuffled rows") {
    for (std::size_t n : {10ul, 100ul, 101ul, 1000ul})
        for (std::size_t c : {1ul, 3ul, 7ul, 9ul}) {  // odd c: no share ends on a tie
            const ClientShards shards = iid_clients(labelled_rows(n, 2), c, 11);
            REQUIRE(shards.size() == c);
            require_every_row_once(shards, n);
            for (std::size_t k = 0; k < c; ++k) {
                const auto end = static_cast<std::size_t>(std::llround(static_cast<double>(n * (k + 1)) / c));
                const auto begin = static_cast<std::size_t>(std::llround(static_cast<double>(n * k) / c));
                CHECK_MESSAGE(shards[k].size() == end - begin, "n = " << n << ", c = " << c << ", client " << k);
            }
            if (c > 1 && n >= 100) CHECK(shards[0].back() >= shards[0].size() + 10);  // not the first rows in order
        }
}

TEST_CASE("deals: Dirichlet draws each class's proportions afresh, spread as Beta(alpha, alpha) for 2 clients") {
    // 2 clients: client 0's share of a class is Beta(alpha, alpha), mean 1/2, variance 1 / (4 (2 alpha + 1)).
    // Over 300 classes of 40 rows the sample mean's standard error is <= 0.021 and the sample
    // variance's about 0.006 (alpha = 0.5; the rounding to 1/40 adds < 1e-4): the bounds below are 5
    // standard errors (false alarm ~1e-6 under the normal approximation; the seed is fixed).
    const std::size_t classes = 300, per_class = 40;
    const Dataset data = labelled_rows(classes * per_class, classes);
    for (double alpha : {0.5, 4.0}) {
        const ClientShards shards = dirichlet_clients(data, 2, alpha, 3);
        require_every_row_once(shards, data.size());
        std::vector<double> share(classes, 0.0);
        std::size_t partial = 0, prefixes = 0;
        for (std::size_t y = 0; y < classes; ++y) {
            const auto ranks = ranks_in_class(shards[0], y, classes);
            share[y] = static_cast<double>(ranks.size()) / per_class;
            if (!ranks.empty() && ranks.size() < per_class) {
                ++partial;
                prefixes += is_run_from(ranks, 0) || is_run_from(ranks, per_class - ranks.size());
            }
        }
        double mean = 0, variance = 0;
        for (double s : share) mean += s / classes;
        for (double s : share) variance += (s - mean) * (s - mean) / (classes - 1);
        const double expected = 1.0 / (4.0 * (2.0 * alpha + 1.0));
        CHECK_MESSAGE(std::abs(mean - 0.5) < 0.105, "alpha " << alpha);
        CHECK_MESSAGE(std::abs(variance - expected) < (alpha < 1 ? 0.03 : 0.012), "alpha " << alpha << ": variance " << variance);
        // Shuffled within each class: a client's rows of a class are almost never its first or last ones.
        CHECK(partial > 100);
        CHECK(prefixes * 20 < partial);
    }
}

TEST_CASE("deals: K classes per client: exactly K classes each, a class's rows split evenly over exactly its holders") {
    const std::size_t classes = 5, per_class = 103, clients = 10, k = 2;
    const Dataset data = labelled_rows(classes * per_class, classes);
    const ClientShards shards = classes_per_client(data, clients, k, 9);
    require_every_row_once(shards, data.size());
    std::vector<std::vector<std::size_t>> holders(classes);
    for (std::size_t c = 0; c < clients; ++c) {
        std::set<std::size_t> held;
        for (std::uint32_t r : shards[c]) held.insert(r % classes);
        CHECK(held.size() == k);
        for (std::size_t y : held) holders[y].push_back(c);
    }
    for (std::size_t y = 0; y < classes; ++y) {
        // Round-robin over a shuffled class order: clients x K / classes = 4 holders per class.
        REQUIRE(holders[y].size() == clients * k / classes);
        std::size_t smallest = per_class, largest = 0, runs = 0;
        for (std::size_t c : holders[y]) {
            const auto ranks = ranks_in_class(shards[c], y, classes);
            smallest = std::min(smallest, ranks.size());
            largest = std::max(largest, ranks.size());
            runs += is_run_from(ranks, ranks.empty() ? 0 : ranks.front());
        }
        CHECK(largest - smallest <= 1);
        CHECK(smallest >= per_class / holders[y].size());
        CHECK(runs == 0);  // each holder's part is a random subset, not a consecutive run of the class
    }
}

TEST_CASE("deals: size skew covers every row once, with sizes that differ") {
    const Dataset data = labelled_rows(600, 3);
    const ClientShards shards = size_skewed_clients(data, 6, 0.5, 4);
    require_every_row_once(shards, data.size());
    std::size_t smallest = data.size(), largest = 0;
    for (const auto& s : shards) smallest = std::min(smallest, s.size()), largest = std::max(largest, s.size());
    CHECK(largest >= 2 * smallest);
}
