#pragma once
// GIST: graph convolutional networks cut along their hidden feature dimensions, exactly as IST
// cuts neurons, with the two options of the reference implementation (GIST: Wolfe et al. 2021).
#include "ist/partition/neuron_partition.hpp"

namespace ist {

struct GistOptions {
    /// Also cut the input features: each worker's first layer reads only its share of the
    /// columns (the trainer hands each worker those columns).
    bool split_input = false;
    /// Leave the last hidden dimension whole: the output layer's weight and bias are then held by
    /// every worker and averaged.
    bool keep_last_hidden = false;
};

/// Disjoint random cut of every hidden feature dimension (plus the input's with split_input),
/// the first width % S workers taking one index more. With GraphConv layers and
/// TrainerOptions::batches = Batches::FullSet each sub-GCN trains on the whole graph; with
/// Batches::Clusters, on Cluster-GCN mini-batches.
class GistPartition {
public:
    GistPartition() = default;
    explicit GistPartition(GistOptions options) : options_(options) {}

    void validate(const DimensionTable& dims, std::size_t workers) const {
        NeuronPartition::check_widths("GistPartition", dims, cut_dims(dims), workers);
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        return NeuronPartition::disjoint_plan(dims, cut_dims(dims), workers, rng);
    }

    /// The dimensions this partitioner cuts, in table order.
    std::vector<std::size_t> cut_dims(const DimensionTable& dims) const {
        std::vector<std::size_t> cut = NeuronPartition::feature_dims(dims);
        if (options_.keep_last_hidden && !cut.empty()) cut.pop_back();
        if (options_.split_input && !dims.empty()) cut.insert(cut.begin(), 0);
        return cut;
    }

    const GistOptions& options() const { return options_; }

private:
    GistOptions options_;
};

}  // namespace ist
