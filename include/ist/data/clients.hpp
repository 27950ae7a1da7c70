#pragma once
// Federated data: the rows of a training set dealt to n clients, IID or skewed the ways the
// federated-learning literature measures (Dirichlet label skew, Hsu et al. 2019; k classes per
// client, McMahan et al. 2017; Dirichlet size skew), and each client's label histogram.
// A client's rows are fixed once dealt: in a federated run its data never moves.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/random.hpp"

namespace ist {

/// Row indices of each client, each list sorted; together they cover every row exactly once.
using ClientShards = std::vector<std::vector<std::uint32_t>>;

/// How a skewed deal may fail: a client left with fewer than `min_rows` rows is redrawn (with
/// the same RNG, so the result stays reproducible) up to `attempts` times before ConfigError.
struct DealOptions {
    std::size_t min_rows = 1;
    std::size_t attempts = 100;
};

namespace detail {

inline void check_client_count(const Dataset& data, std::size_t clients, const std::string& who) {
    require(clients > 0, who + ": the number of clients must be at least 1");
    require(clients <= data.size(), who + ": " + std::to_string(clients) + " clients but " + data.name + " has only " +
                                        std::to_string(data.size()) + " rows; every client needs at least one");
}

/// The rows of each class, in row order; refuses unlabelled rows (they have no class to skew by).
inline std::vector<std::vector<std::uint32_t>> rows_by_class(const Dataset& data, const std::string& who) {
    std::vector<std::vector<std::uint32_t>> by_class(data.classes);
    for (std::size_t r = 0; r < data.size(); ++r) {
        const std::uint32_t y = data.labels[r];
        if (y == kUnlabeled)
            throw DataError(who + ": row " + std::to_string(r) + " of " + data.name +
                            " is unlabelled; a label skew needs every row labelled");
        by_class[y].push_back(static_cast<std::uint32_t>(r));
    }
    return by_class;
}

/// Deals `rows` (already shuffled) to the clients in consecutive runs of the given proportions:
/// client k gets the rows between the rounded cumulative sums of proportions 0..k-1 and 0..k.
inline void deal_by_proportions(const std::vector<std::uint32_t>& rows, const std::vector<double>& proportions,
                                ClientShards& shards) {
    double cumulative = 0.0;
    std::size_t begin = 0;
    for (std::size_t k = 0; k < proportions.size(); ++k) {
        cumulative += proportions[k];
        const std::size_t end = k + 1 == proportions.size()
                                    ? rows.size()
                                    : std::min(rows.size(), static_cast<std::size_t>(std::llround(cumulative * static_cast<double>(rows.size()))));
        for (std::size_t i = begin; i < end; ++i) shards[k].push_back(rows[i]);  // rounded sums never decrease
        begin = std::max(begin, end);
    }
}

inline std::size_t smallest_shard(const ClientShards& shards) {
    std::size_t smallest = shards.front().size();
    for (const auto& s : shards) smallest = std::min(smallest, s.size());
    return smallest;
}

/// Repeats `deal` until every client has at least options.min_rows rows; ConfigError naming
/// `what` (the skew parameter) when it never does.
template <class Deal>
ClientShards deal_until_every_client_has_rows(Deal&& deal, const DealOptions& options, const std::string& who,
                                              const std::string& what) {
    for (std::size_t attempt = 0; attempt < std::max<std::size_t>(options.attempts, 1); ++attempt) {
        ClientShards shards = deal();
        if (smallest_shard(shards) >= options.min_rows) {
            for (auto& s : shards) std::sort(s.begin(), s.end());
            return shards;
        }
    }
    throw ConfigError(who + ": with " + what + " some client kept fewer than " + std::to_string(options.min_rows) +
                      " rows in " + std::to_string(options.attempts) +
                      " draws; use fewer clients or a milder skew");
}

}  // namespace detail

/// IID: the rows shuffled with `seed` and cut into `clients` near-equal parts.
inline ClientShards iid_clients(const Dataset& data, std::size_t clients, std::uint64_t seed) {
    detail::check_client_count(data, clients, "iid_clients");
    detail::RandomEngine rng(seed);
    ClientShards shards(clients);
    detail::deal_by_proportions(detail::random_permutation(data.size(), rng),
                                std::vector<double>(clients, 1.0 / static_cast<double>(clients)), shards);
    for (auto& s : shards) std::sort(s.begin(), s.end());
    return shards;
}

/// Dirichlet label skew (Hsu et al. 2019): for every class, its rows are shuffled and dealt to
/// the clients in proportions drawn from Dirichlet(alpha). Small alpha (0.1) gives each client a
/// few dominant classes; large alpha (100) is close to IID. Throws ConfigError for alpha <= 0.
inline ClientShards dirichlet_clients(const Dataset& data, std::size_t clients, double alpha, std::uint64_t seed,
                                      const DealOptions& options = {}) {
    const std::string who = "dirichlet_clients";
    detail::check_client_count(data, clients, who);
    detail::require(alpha > 0.0 && std::isfinite(alpha), who + ": alpha must be positive, got " + std::to_string(alpha));
    const auto by_class = detail::rows_by_class(data, who);
    detail::RandomEngine rng(seed);
    auto deal = [&] {
        ClientShards shards(clients);
        for (auto rows : by_class) {
            detail::shuffle(rows, rng);
            detail::deal_by_proportions(rows, detail::dirichlet(rng, clients, alpha), shards);
        }
        return shards;
    };
    return detail::deal_until_every_client_has_rows(deal, options, who, "alpha = " + std::to_string(alpha));
}

/// Pathological skew (McMahan et al. 2017): every client holds exactly `k` distinct classes. The
/// classes, in an order shuffled with `seed`, are handed out round-robin (client c gets entries
/// c*k .. c*k+k-1 of the repeated order), and each class's rows are split evenly among the
/// clients that hold it. Throws ConfigError unless 1 <= k <= classes and clients * k >= classes
/// (every class needs a client, or its rows would be lost).
inline ClientShards classes_per_client(const Dataset& data, std::size_t clients, std::size_t k, std::uint64_t seed) {
    const std::string who = "classes_per_client";
    detail::check_client_count(data, clients, who);
    const std::size_t classes = data.classes;
    detail::require(k >= 1 && k <= classes, who + ": K = " + std::to_string(k) + " classes per client, but " +
                                                data.name + " has " + std::to_string(classes) + " classes");
    detail::require(clients * k >= classes, who + ": " + std::to_string(clients) + " clients x K = " + std::to_string(k) +
                                                " hold only " + std::to_string(clients * k) + " class slots for " +
                                                std::to_string(classes) + " classes; every class needs a client");
    auto by_class = detail::rows_by_class(data, who);
    detail::RandomEngine rng(seed);
    const std::vector<std::uint32_t> order = detail::random_permutation(classes, rng);
    std::vector<std::vector<std::size_t>> holders(classes);
    for (std::size_t c = 0; c < clients; ++c)
        for (std::size_t j = 0; j < k; ++j) holders[order[(c * k + j) % classes]].push_back(c);
    ClientShards shards(clients);
    for (std::size_t y = 0; y < classes; ++y) {
        detail::shuffle(by_class[y], rng);
        ClientShards parts(holders[y].size());
        detail::deal_by_proportions(by_class[y], std::vector<double>(parts.size(), 1.0 / static_cast<double>(parts.size())),
                                    parts);
        for (std::size_t h = 0; h < parts.size(); ++h)
            shards[holders[y][h]].insert(shards[holders[y][h]].end(), parts[h].begin(), parts[h].end());
    }
    for (std::size_t c = 0; c < clients; ++c) {
        if (shards[c].empty())
            throw ConfigError(who + ": client " + std::to_string(c) + " got no rows (its classes have fewer rows than holders)");
        std::sort(shards[c].begin(), shards[c].end());
    }
    return shards;
}

/// Size skew: labels stay IID, but client sizes follow proportions drawn from Dirichlet(beta)
/// (small beta: a few large clients and many small ones). Throws ConfigError for beta <= 0.
inline ClientShards size_skewed_clients(const Dataset& data, std::size_t clients, double beta, std::uint64_t seed,
                                        const DealOptions& options = {}) {
    const std::string who = "size_skewed_clients";
    detail::check_client_count(data, clients, who);
    detail::require(beta > 0.0 && std::isfinite(beta), who + ": beta must be positive, got " + std::to_string(beta));
    detail::RandomEngine rng(seed);
    auto deal = [&] {
        ClientShards shards(clients);
        detail::deal_by_proportions(detail::random_permutation(data.size(), rng), detail::dirichlet(rng, clients, beta),
                                    shards);
        return shards;
    };
    return detail::deal_until_every_client_has_rows(deal, options, who, "beta = " + std::to_string(beta));
}

/// histogram[c][y]: how many rows of class y client c holds (unlabelled rows are not counted).
inline std::vector<std::vector<std::size_t>> label_histograms(const Dataset& data, const ClientShards& shards) {
    std::vector<std::vector<std::size_t>> histogram(shards.size(), std::vector<std::size_t>(data.classes, 0));
    for (std::size_t c = 0; c < shards.size(); ++c)
        for (std::uint32_t r : shards[c]) {
            detail::require<DataError>(r < data.size(), "label_histograms: client " + std::to_string(c) + " has row " +
                                                            std::to_string(r) + ", out of range for " +
                                                            std::to_string(data.size()) + " rows");
            if (data.labels[r] != kUnlabeled) ++histogram[c][data.labels[r]];
        }
    return histogram;
}

}  // namespace ist
