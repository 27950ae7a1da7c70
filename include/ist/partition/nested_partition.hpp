#pragma once
// Nested subnets for heterogeneous workers (HeteroFL, Diao et al. 2021; FjORD, Horvath et al.
// 2021): worker s holds the first fraction p_s of every hidden dimension in a fixed order, so a
// small worker's subnet is a corner of a larger worker's.
#include <cmath>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "ist/partition/neuron_partition.hpp"
#include "ist/partition/partitioner.hpp"
#include "ist/partition/worker_shares.hpp"

namespace ist {

/// Worker s holds indices 0 .. ceil(p_s * width) - 1 of every hidden dimension, every round (no
/// randomness: the RNG is not drawn from). Subnets overlap, and the aggregator averages each index
/// over its holders (HolderAverage); indices beyond the largest p keep their values. Each p is a
/// fraction of the full width in (0, 1]; they need not sum to 1 (HeteroFL's usual choice gives
/// the strongest worker p = 1).
class NestedPartition {
public:
    explicit NestedPartition(std::vector<double> fractions) : fractions_(std::move(fractions)) {}

    void validate(const DimensionTable& dims, std::size_t workers) const {
        detail::check_shares(kName, fractions_, workers);
        for (std::size_t d : NeuronPartition::feature_dims(dims))
            detail::check_no_empty_chunk(kName, fractions_, widths(dims[d].size), dims[d]);
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng&) const {
        Plan plan = full_plan(dims, workers);
        for (std::size_t d : NeuronPartition::feature_dims(dims)) {
            const std::vector<std::size_t> held = widths(dims[d].size);
            for (std::size_t s = 0; s < workers; ++s) {
                std::vector<std::uint32_t> prefix(held[s]);
                std::iota(prefix.begin(), prefix.end(), 0u);
                plan[s].dims[d] = std::move(prefix);
            }
        }
        return plan;
    }

    const std::vector<double>& fractions() const { return fractions_; }

private:
    /// ceil(p_s * width) per worker (a product within 1e-9 of an integer counts as that integer).
    std::vector<std::size_t> widths(std::size_t width) const {
        std::vector<std::size_t> out;
        for (double p : fractions_)
            out.push_back(static_cast<std::size_t>(std::ceil(p * static_cast<double>(width) - 1e-9)));
        return out;
    }

    static constexpr const char* kName = "NestedPartition";
    std::vector<double> fractions_;
};

}  // namespace ist
