#pragma once
// Per-worker shares of every hidden dimension, for heterogeneous workers (a phone and a server
// in one federated round): the checks and the rounding the capacity partitioners share.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/error.hpp"

namespace ist::detail {

/// Throws ConfigError, naming `who`, unless there is one share per worker, each in (0, 1].
inline void check_shares(const std::string& who, const std::vector<double>& shares, std::size_t workers) {
    require(workers > 0, who + ": the number of workers S must be at least 1");
    require(shares.size() == workers, who + ": " + std::to_string(shares.size()) + " shares for S = " +
                                          std::to_string(workers) + " workers; give one share per worker");
    for (std::size_t s = 0; s < shares.size(); ++s)
        require(shares[s] > 0.0 && shares[s] <= 1.0 && std::isfinite(shares[s]),
                who + ": worker " + std::to_string(s) + "'s share is " + std::to_string(shares[s]) +
                    "; each share must be in (0, 1]");
}

/// Throws ConfigError unless the shares sum to 1 (within 1e-6): a disjoint cut deals every index.
inline void check_shares_sum_to_one(const std::string& who, const std::vector<double>& shares) {
    double sum = 0.0;
    for (double v : shares) sum += v;
    require(std::abs(sum - 1.0) <= 1e-6, who + ": the shares sum to " + std::to_string(sum) +
                                             ", not 1; a disjoint cut deals every index to one worker");
}

/// Chunk sizes of a width-`width` dimension in proportion to `shares` (summing to 1), by largest
/// remainder: floor(share * width) each, the indices left over to the largest fractional parts
/// (the earlier worker on ties). The sizes sum to `width`.
inline std::vector<std::size_t> proportional_sizes(const std::vector<double>& shares, std::size_t width) {
    std::vector<std::size_t> sizes(shares.size());
    std::vector<double> remainder(shares.size());
    std::size_t dealt = 0;
    for (std::size_t s = 0; s < shares.size(); ++s) {
        const double exact = shares[s] * static_cast<double>(width);
        sizes[s] = static_cast<std::size_t>(std::floor(exact));
        remainder[s] = exact - std::floor(exact);
        dealt += sizes[s];
    }
    for (; dealt < width; ++dealt) {
        std::size_t best = 0;
        for (std::size_t s = 1; s < shares.size(); ++s)
            if (remainder[s] > remainder[best]) best = s;
        ++sizes[best];
        remainder[best] = -1.0;
    }
    return sizes;
}

/// `order` cut into consecutive runs of the given sizes (which sum to order.size()), one per worker.
inline std::vector<std::vector<std::uint32_t>> cut_in_runs(const std::vector<std::uint32_t>& order,
                                                           const std::vector<std::size_t>& sizes) {
    std::vector<std::vector<std::uint32_t>> runs;
    auto next = order.begin();
    for (std::size_t size : sizes) {
        runs.emplace_back(next, next + static_cast<std::ptrdiff_t>(size));
        next += static_cast<std::ptrdiff_t>(size);
    }
    return runs;
}

/// Throws ConfigError naming the worker, its share and the dimension when a size is 0: a
/// zero-width layer cannot be trained.
inline void check_no_empty_chunk(const std::string& who, const std::vector<double>& shares,
                                 const std::vector<std::size_t>& sizes, const Dimension& dim) {
    for (std::size_t s = 0; s < sizes.size(); ++s)
        if (sizes[s] == 0)
            throw ConfigError(who + ": worker " + std::to_string(s) + "'s share " + std::to_string(shares[s]) +
                              " of dimension '" + dim.name + "' (" + std::to_string(dim.size) +
                              " indices) is no index at all; every worker needs at least one");
}

}  // namespace ist::detail
