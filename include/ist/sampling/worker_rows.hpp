#pragma once
// Which training rows each worker samples from, and its sampling seed: reproducible from the
// options alone, so every rank of a distributed run builds the same streams independently.
#include <vector>

#include "ist/sampling/batch_sampler.hpp"
#include "ist/detail/random.hpp"
#include "ist/detail/seed.hpp"
#include "ist/core/trainer_options.hpp"

namespace ist {

/// Pools per worker of the `rows` items a batch is drawn from (rows, or clusters with
/// Batches::Clusters): disjoint shards of a seeded shuffle (Sampling::Shards) or all of them.
inline std::vector<std::vector<std::uint32_t>> worker_row_pools(std::size_t rows, const TrainerOptions& options) {
    const std::size_t S = options.workers;
    const char* items = options.batches == Batches::Clusters ? " clusters" : " rows";
    if (rows < S) throw DataError("training set has " + std::to_string(rows) + items + ", fewer than the " +
                                  std::to_string(S) + " workers");
    detail::RandomEngine rng(detail::derive_seed(options.seed, 0));
    const std::vector<std::uint32_t> order = detail::random_permutation(rows, rng);
    std::vector<std::vector<std::uint32_t>> pools(S);
    for (std::size_t s = 0; s < S; ++s) {
        if (options.sampling == Sampling::WholeSet) pools[s] = order;
        else
            for (std::size_t k = s; k < rows; k += S) pools[s].push_back(order[k]);
    }
    return pools;
}

/// The mini-batch sampler of worker `s`.
inline BatchSampler worker_sampler(std::vector<std::uint32_t> pool, const TrainerOptions& options, std::size_t s) {
    return BatchSampler(std::move(pool), detail::derive_seed(options.seed, s + 1));
}

}  // namespace ist
