#pragma once
// Filter-wise IST of a residual network with its residual streams whole: the channels inside each
// block's branch are cut among the workers, the channels the shortcuts carry are not.
#include <concepts>
#include <string>
#include <vector>

#include "ist/model/model.hpp"
#include "ist/partition/neuron_partition.hpp"
#include "ist/partition/partitioner.hpp"

namespace ist {

/// Cuts, by a fresh random permutation into S disjoint chunks per round, every channel dimension
/// that lives inside residual blocks only: the filters of each block's inner convolutions (and
/// their BatchNorms), so each worker trains every block at 1/S of its inner width. The residual
/// streams (the channels of the stem, of the projections and of each block's last convolution,
/// which the identity shortcuts add up block after block and the head reads) stay whole.
///
/// Why not cut them too (NeuronPartition, which cuts every channel dimension): a block's branch is
/// then exactly additive across workers (the full block is x + sum over workers of their branches,
/// BatchNorm being per channel), whereas a cut stream makes every convolution of a stage sum
/// channels that no worker trained together; measured on the digits ResNet (docs/loft.md), that
/// pre-training reaches 0.56 where this one reaches 0.97 and data parallel 0.98.
class BlockChannelPartition {
public:
    /// The dimensions to cut, read from `model`'s parameters: those only parameters of residual
    /// blocks index (a model without blocks has none, and validate refuses it).
    /// (Not a copy: the constraint names itself first, so the copy constructor is not weighed against it.)
    template <class M>
        requires(!std::same_as<M, BlockChannelPartition> && Model<M>)
    explicit BlockChannelPartition(const M& model) : cut_(block_channel_dims(model)) {}

    void validate(const DimensionTable& dims, std::size_t workers) const {
        detail::require(!cut_.empty(), "BlockChannelPartition: the model has no channels inside residual blocks to cut");
        for (std::size_t d : cut_)
            detail::require(d < dims.size() && cuts_features(dims[d]),
                            "BlockChannelPartition: dimension " + std::to_string(d) + " is not a channel dimension of this model");
        NeuronPartition::check_widths("BlockChannelPartition", dims, cut_, workers);
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        return NeuronPartition::disjoint_plan(dims, cut_, workers, rng);
    }

    const std::vector<std::size_t>& cut_dims() const { return cut_; }

    /// The feature dimensions of `model` that no parameter outside a residual block indexes.
    template <Model M>
    static std::vector<std::size_t> block_channel_dims(const M& model) {
        std::vector<char> outside(model.dimensions().size(), 0);
        for (std::size_t i = 0; i < model.parameter_count(); ++i)
            if (!unit_of(model, i).in_unit())
                for (DimId d : model.parameter_dims(i))
                    if (d != kWholeAxis) outside[static_cast<std::size_t>(d)] = 1;
        std::vector<std::size_t> out;
        for (std::size_t d : NeuronPartition::feature_dims(model.dimensions()))
            if (!outside[d]) out.push_back(d);
        return out;
    }

private:
    std::vector<std::size_t> cut_;
};

}  // namespace ist
