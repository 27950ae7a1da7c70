#pragma once
// IST for heterogeneous workers: a disjoint cut whose chunk sizes follow each worker's capacity.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "ist/partition/neuron_partition.hpp"
#include "ist/partition/partitioner.hpp"
#include "ist/partition/worker_shares.hpp"

namespace ist {

/// Like NeuronPartition (a fresh random permutation of every hidden dimension each round, cut
/// into S disjoint chunks), but worker s gets a chunk of about shares[s] of every dimension, so a
/// worker with half the compute trains (and moves) about half the neurons of an equal share.
/// Shares must sum to 1; chunk sizes are rounded by largest remainder (worker_shares.hpp), and a
/// share that rounds to no index in some dimension is refused by validate().
class CapacityPartition {
public:
    explicit CapacityPartition(std::vector<double> shares) : shares_(std::move(shares)) {}

    void validate(const DimensionTable& dims, std::size_t workers) const {
        detail::check_shares(kName, shares_, workers);
        detail::check_shares_sum_to_one(kName, shares_);
        for (std::size_t d : NeuronPartition::feature_dims(dims))
            detail::check_no_empty_chunk(kName, shares_, detail::proportional_sizes(shares_, dims[d].size), dims[d]);
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        Plan plan = full_plan(dims, workers);
        for (std::size_t d : NeuronPartition::feature_dims(dims)) {
            const std::vector<std::uint32_t> order = detail::random_permutation(dims[d].size, rng);
            auto chunks = detail::cut_in_runs(order, detail::proportional_sizes(shares_, dims[d].size));
            for (std::size_t s = 0; s < workers; ++s) {
                std::sort(chunks[s].begin(), chunks[s].end());
                plan[s].dims[d] = std::move(chunks[s]);
            }
        }
        return plan;
    }

    const std::vector<double>& shares() const { return shares_; }

private:
    static constexpr const char* kName = "CapacityPartition";
    std::vector<double> shares_;
};

}  // namespace ist
