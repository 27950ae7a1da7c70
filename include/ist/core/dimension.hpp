#pragma once
// Dimensions of a model: the things a partitioner cuts.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ist {

/// Index of a dimension in a model's dimension table; kSharedDim marks an uncut axis.
using DimId = int;
inline constexpr DimId kSharedDim = -1;

/// What the indices of a dimension stand for, which tells partitioners what they may cut.
enum class DimKind : std::uint8_t {
    Features,  ///< neurons of a hidden layer, channels of a conv layer (IST, GIST, channel IST)
    Units,     ///< residual blocks of one section: a parameter belongs whole to one unit (ResIST)
    Derived,   ///< a Features dimension seen column by column (a dense layer after a conv): each
               ///< index of `parent` spans `span` consecutive indices here; never cut directly,
               ///< its index sets follow the parent's (see derive_indices in partition/plan.hpp)
};

/// A named dimension of a model.
struct Dimension {
    std::string name;
    std::size_t size = 0;
    bool partitionable = false;  ///< input, output and derived dimensions are never cut by default
    DimKind kind = DimKind::Features;
    /// Matrix columns one index takes in the activations (pixels of a channel); for Derived, the
    /// columns per index of `parent`.
    std::size_t span = 1;
    DimId parent = kSharedDim;  ///< Derived only
    /// Units only: blocks whose shortcut is a projection (strided / downsampling blocks); an
    /// absent one reduces to its projection, and ResIST shares them by default.
    std::vector<std::uint32_t> projecting;
};

using DimensionTable = std::vector<Dimension>;

/// Parameters of a residual block belong whole to one unit of a Units dimension.
struct UnitRef {
    DimId dim = kSharedDim;  ///< kSharedDim: the parameter belongs to no unit (held whenever its axes are)
    std::uint32_t index = 0;
};

}  // namespace ist
