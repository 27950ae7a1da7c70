#pragma once
// Federated rounds: which S of the n clients take part in round r. Derived from the seed and the
// round alone, so every MPI rank draws the same clients without communicating.
#include <cstdint>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/clients.hpp"
#include "ist/detail/random.hpp"
#include "ist/detail/seed.hpp"
#include "ist/core/trainer_options.hpp"

namespace ist {

namespace detail {
inline constexpr std::uint64_t kClientSelectionStream = 0xC11E475E1EC7ull;  ///< seed streams of the draws
inline constexpr std::uint64_t kClientDataStream = 0xC11E47DA7Aull;        ///< ... and of the clients' batches
}  // namespace detail

/// Throws (naming the client and the row) unless `shards` can serve `workers` workers on a
/// training set of `rows` rows: at least S clients, none empty, every row in range.
inline void check_clients(const ClientShards& shards, std::size_t workers, std::size_t rows) {
    detail::require(shards.size() >= workers, "Sampling::Clients: S = " + std::to_string(workers) + " workers but only " +
                                                  std::to_string(shards.size()) + " clients to sample from");
    for (std::size_t c = 0; c < shards.size(); ++c) {
        detail::require(!shards[c].empty(), "Sampling::Clients: client " + std::to_string(c) + " has no rows");
        for (std::uint32_t r : shards[c])
            detail::require<DataError>(r < rows, "Sampling::Clients: client " + std::to_string(c) + " has row " +
                                                     std::to_string(r) + ", but the training set has " +
                                                     std::to_string(rows) + " rows");
    }
}

/// The clients of round `round` (1-based), one per worker: S distinct clients drawn uniformly or
/// in proportion to their sizes (successive draws without replacement, in integers, so the result
/// is the same on every platform).
inline std::vector<std::size_t> select_clients(const ClientShards& shards, const TrainerOptions& options,
                                               std::size_t round) {
    detail::RandomEngine rng(detail::derive_seed(detail::derive_seed(options.seed, detail::kClientSelectionStream), round));
    const std::size_t n = shards.size(), S = options.workers;
    std::vector<std::size_t> chosen;
    if (options.client_selection == ClientSelection::Uniform) {
        for (std::uint32_t c : detail::sample_without_replacement(n, S, rng)) chosen.push_back(c);
        return chosen;
    }
    std::vector<std::uint64_t> weight(n);
    std::uint64_t total = 0;
    for (std::size_t c = 0; c < n; ++c) total += weight[c] = shards[c].size();
    for (std::size_t k = 0; k < S; ++k) {
        std::uint64_t u = detail::uniform_below(rng, total);
        std::size_t c = 0;
        while (u >= weight[c]) u -= weight[c++];
        chosen.push_back(c);
        total -= weight[c];
        weight[c] = 0;
    }
    return chosen;
}

}  // namespace ist
