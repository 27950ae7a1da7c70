#pragma once
// IST's default decomposition: every partitionable dimension gets a fresh random permutation,
// cut into S disjoint chunks, one per worker.
#include <algorithm>
#include <cassert>
#include <string>

#include "ist/partition/partitioner.hpp"

namespace ist {

/// Disjoint partition of every hidden dimension (IST: Yuan et al. 2019, fully connected networks).
///
/// Width not divisible by S: the first (width % S) workers get one index more than the others,
/// so chunk sizes differ by at most one and every index belongs to exactly one worker.
/// Hidden-to-hidden weight blocks that pair indices of different workers belong to nobody in
/// that round and are left unchanged by the aggregator.
class NeuronPartition {
public:
    void validate(const DimensionTable& dims, std::size_t workers) const {
        check_widths("NeuronPartition", dims, feature_dims(dims), workers);
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        return disjoint_plan(dims, feature_dims(dims), workers, rng);
    }

    /// The dimensions IST cuts: every partitionable dimension of neurons or channels.
    static std::vector<std::size_t> feature_dims(const DimensionTable& dims) {
        std::vector<std::size_t> out;
        for (std::size_t d = 0; d < dims.size(); ++d)
            if (cuts_features(dims[d])) out.push_back(d);
        return out;
    }

    /// Throws ConfigError, naming `who`, when S is 0 or a dimension in `cut` is narrower than S.
    static void check_widths(const std::string& who, const DimensionTable& dims, const std::vector<std::size_t>& cut,
                             std::size_t workers) {
        detail::require(workers > 0, who + ": the number of workers S must be at least 1");
        for (std::size_t d : cut)
            if (dims[d].size < workers)
                throw ConfigError(who + ": S = " + std::to_string(workers) + " workers but dimension '" + dims[d].name +
                                  "' has only " + std::to_string(dims[d].size) + " indices; each worker needs at least one");
    }

    /// A plan cutting each dimension in `cut` by a fresh random permutation into S disjoint chunks
    /// (check_widths must have passed).
    static Plan disjoint_plan(const DimensionTable& dims, const std::vector<std::size_t>& cut, std::size_t workers,
                              PartitionRng& rng) {
        Plan plan = full_plan(dims, workers);
        for (std::size_t d : cut) {
            assert(dims[d].size >= workers);
            auto chunks = split(detail::random_permutation(dims[d].size, rng), workers);
            for (std::size_t s = 0; s < workers; ++s) plan[s].dims[d] = std::move(chunks[s]);
        }
        return plan;
    }

    /// Cut `order` into `parts` chunks of near-equal size, each sorted (sorted indices make
    /// gathers cache friendly and plans easy to read).
    static std::vector<std::vector<std::uint32_t>> split(const std::vector<std::uint32_t>& order,
                                                         std::size_t parts) {
        assert(parts > 0);
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
