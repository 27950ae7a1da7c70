#pragma once
// Feature dimensions of a model: the things a partitioner cuts.
#include <cstddef>
#include <string>
#include <vector>

namespace ist {

/// Index of a dimension in a model's dimension table; kSharedDim marks an uncut axis.
using DimId = int;
inline constexpr DimId kSharedDim = -1;

/// A named feature dimension (the neurons of a hidden layer, the channels of a conv layer, ...).
struct Dimension {
    std::string name;
    std::size_t size = 0;
    bool partitionable = false;  ///< input and output dimensions are never cut
};

using DimensionTable = std::vector<Dimension>;

}  // namespace ist
