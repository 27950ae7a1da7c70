#pragma once
// IST for transformers: each worker holds some attention heads and/or some feed-forward neurons of
// every block (IST's cut, Yuan et al. 2019, with heads as the units of attention).
#include <string>
#include <vector>

#include "ist/partition/neuron_partition.hpp"
#include "ist/partition/partitioner.hpp"

namespace ist {

/// What a TransformerPartition cuts. Whole blocks are ResistPartition's cut of the "blocks" section.
enum class TransformerCut {
    Heads,  ///< each block's heads dealt disjointly (rows of Q, K, V; columns of the output projection)
    Ffn,    ///< each block's feed-forward neurons dealt disjointly, like an MLP's (NeuronPartition's cut)
    Both,   ///< both, each dimension with its own random permutation
};

/// Deals the chosen dimensions (Heads and / or Features) of a model by a fresh random permutation
/// each round, S near-equal disjoint chunks as NeuronPartition does: a head is never split. More
/// workers than a block has heads (or neurons) is refused.
class TransformerPartition {
public:
    explicit TransformerPartition(TransformerCut cut = TransformerCut::Both) : cut_(cut) {}

    void validate(const DimensionTable& dims, std::size_t workers) const {
        if (cut_dims(dims).empty())
            throw ConfigError(std::string("TransformerPartition: the model has no ") +
                              (cut_ == TransformerCut::Heads ? "attention heads" : "partitionable dimension") + " to cut");
        NeuronPartition::check_widths("TransformerPartition", dims, cut_dims(dims), workers);
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        return NeuronPartition::disjoint_plan(dims, cut_dims(dims), workers, rng);
    }

    TransformerCut cut() const { return cut_; }

private:
    std::vector<std::size_t> cut_dims(const DimensionTable& dims) const {
        std::vector<std::size_t> out;
        for (std::size_t d = 0; d < dims.size(); ++d) {
            if (!dims[d].partitionable) continue;
            const bool heads = dims[d].kind == DimKind::Heads, features = dims[d].kind == DimKind::Features;
            if ((heads && cut_ != TransformerCut::Ffn) || (features && cut_ != TransformerCut::Heads)) out.push_back(d);
        }
        return out;
    }

    TransformerCut cut_;
};

}  // namespace ist
