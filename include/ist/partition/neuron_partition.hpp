#pragma once
// IST's default decomposition: every partitionable dimension gets a fresh random permutation,
// cut into S disjoint chunks, one per worker.
#include <algorithm>
#include <numeric>
#include <string>

#include "ist/partition/partitioner.hpp"

namespace ist {

/// Disjoint partition of every hidden dimension (CONTEXT §3, fully connected IST).
///
/// Width not divisible by S: the first (width % S) workers get one index more than the others,
/// so chunk sizes differ by at most one and every index belongs to exactly one worker.
/// Hidden-to-hidden weight blocks that pair indices of different workers belong to nobody in
/// that round and are left unchanged by the aggregator.
class NeuronPartition {
public:
    void validate(const DimensionTable& dims, std::size_t workers) const {
        detail::require(workers > 0, "NeuronPartition: the number of workers S must be at least 1");
        for (const auto& d : dims)
            if (cuts_features(d) && d.size < workers)
                throw ConfigError("NeuronPartition: S = " + std::to_string(workers) +
                                  " workers but dimension '" + d.name + "' has only " +
                                  std::to_string(d.size) + " indices; each worker needs at least one");
    }

    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        validate(dims, workers);
        Plan plan = full_plan(dims, workers);
        for (std::size_t d = 0; d < dims.size(); ++d) {
            if (!cuts_features(dims[d])) continue;
            auto chunks = split(permutation(dims[d].size, rng), workers);
            for (std::size_t s = 0; s < workers; ++s) plan[s].dims[d] = std::move(chunks[s]);
        }
        return plan;
    }

    /// A permutation drawn with our own Fisher-Yates so that it is identical on every platform
    /// (std::shuffle's algorithm is implementation-defined).
    static std::vector<std::uint32_t> permutation(std::size_t n, PartitionRng& rng) {
        std::vector<std::uint32_t> p(n);
        std::iota(p.begin(), p.end(), 0u);
        for (std::size_t i = n; i > 1; --i) std::swap(p[i - 1], p[rng() % i]);
        return p;
    }

    /// Cut `order` into `parts` chunks of near-equal size, each sorted (sorted indices make
    /// gathers cache friendly and plans easy to read).
    static std::vector<std::vector<std::uint32_t>> split(const std::vector<std::uint32_t>& order,
                                                         std::size_t parts) {
        std::vector<std::vector<std::uint32_t>> out(parts);
        const std::size_t base = order.size() / parts, extra = order.size() % parts;
        std::size_t pos = 0;
        for (std::size_t s = 0; s < parts; ++s) {
            const std::size_t len = base + (s < extra ? 1 : 0);
            out[s].assign(order.begin() + static_cast<std::ptrdiff_t>(pos),
                          order.begin() + static_cast<std::ptrdiff_t>(pos + len));
            std::sort(out[s].begin(), out[s].end());
            pos += len;
        }
        return out;
    }
};

}  // namespace ist
