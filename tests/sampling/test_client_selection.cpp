// Client selection against its definition (issue 36): S distinct clients per round, each client
// equally likely (Uniform) or, draw after draw, in proportion to its rows among those not yet drawn
// (BySize), measured as frequencies over many rounds.
#include <doctest/doctest.h>

#include <cmath>
#include <set>
#include <vector>

#include <ist/sampling/client_selection.hpp>

using namespace ist;

namespace {

ClientShards shards_of_sizes(const std::vector<std::size_t>& sizes) {
    ClientShards shards;
    std::uint32_t row = 0;
    for (std::size_t n : sizes) {
        shards.emplace_back();
        for (std::size_t i = 0; i < n; ++i) shards.back().push_back(row++);
    }
    return shards;
}

TrainerOptions selection_options(std::size_t workers, ClientSelection selection) {
    TrainerOptions o;
    o.workers = workers;
    o.seed = 17;
    o.client_selection = selection;
    return o;
}

// Over N independent rounds a frequency is within e of its probability except with probability
// 2 exp(-2 N e^2) (Hoeffding): N = 20000, e = 0.02 gives 2.3e-7 per frequency (the seed is fixed,
// so the outcome is deterministic; the bound says it is not a lucky one).
constexpr std::size_t kRounds = 20000;
constexpr double kMargin = 0.02;

}  // namespace

TEST_CASE("client selection: Uniform draws S distinct clients, each with probability S / n") {
    const ClientShards shards = shards_of_sizes({5, 1, 9, 2, 2, 30, 4});
    const TrainerOptions o = selection_options(3, ClientSelection::Uniform);
    std::vector<std::size_t> chosen_count(shards.size(), 0), first_count(shards.size(), 0);
    for (std::size_t round = 1; round <= kRounds; ++round) {
        const auto chosen = select_clients(shards, o, round);
        REQUIRE(chosen.size() == 3);
        REQUIRE(std::set<std::size_t>(chosen.begin(), chosen.end()).size() == 3);
        ++first_count[chosen[0]];
        for (std::size_t c : chosen) ++chosen_count[c];
    }
    for (std::size_t c = 0; c < shards.size(); ++c) {
        CHECK_MESSAGE(std::abs(chosen_count[c] / double(kRounds) - 3.0 / 7.0) < kMargin, "client " << c);
        CHECK_MESSAGE(std::abs(first_count[c] / double(kRounds) - 1.0 / 7.0) < kMargin, "client " << c);
    }
}

TEST_CASE("client selection: BySize draws in proportion to the rows of the clients not yet drawn") {
    const std::vector<std::size_t> sizes{1, 2, 3, 4, 10};
    const double total = 20;
    const ClientShards shards = shards_of_sizes(sizes);
    const TrainerOptions o = selection_options(2, ClientSelection::BySize);
    std::vector<std::size_t> first_count(sizes.size(), 0), second_count(sizes.size(), 0);
    for (std::size_t round = 1; round <= kRounds; ++round) {
        const auto chosen = select_clients(shards, o, round);
        REQUIRE(chosen.size() == 2);
        REQUIRE(chosen[0] != chosen[1]);
        ++first_count[chosen[0]];
        ++second_count[chosen[1]];
    }
    for (std::size_t c = 0; c < sizes.size(); ++c) {
        const double p = sizes[c] / total;
        double second = 0;  // P(second = c) = sum over d != c of p_d * p_c / (1 - p_d)
        for (std::size_t d = 0; d < sizes.size(); ++d)
            if (d != c) second += sizes[d] / total * p / (1 - sizes[d] / total);
        CHECK_MESSAGE(std::abs(first_count[c] / double(kRounds) - p) < kMargin, "client " << c);
        CHECK_MESSAGE(std::abs(second_count[c] / double(kRounds) - second) < kMargin, "client " << c);
    }
}

TEST_CASE("client selection: with S = n every client is drawn every round, by either rule") {
    const ClientShards shards = shards_of_sizes({3, 1, 4, 1, 5});
    for (ClientSelection rule : {ClientSelection::Uniform, ClientSelection::BySize})
        for (std::size_t round = 1; round <= 200; ++round) {
            const auto chosen = select_clients(shards, selection_options(5, rule), round);
            CHECK(std::set<std::size_t>(chosen.begin(), chosen.end()).size() == 5);
        }
}
