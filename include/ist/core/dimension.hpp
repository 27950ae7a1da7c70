#pragma once
// Dimensions of a model: the things a partitioner cuts.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ist {

/// Index of a dimension in a model's dimension table.
using DimId = int;

/// In a parameter's list of axis dimensions: an axis no partitioner cuts (every subnet holds it whole).
inline constexpr DimId kWholeAxis = -1;
/// The former name of kWholeAxis, which also stood for "no unit" and "no parent dimension".
[[deprecated("use kWholeAxis for uncut axes and UnitRef::in_unit() for units")]] inline constexpr DimId kSharedDim =
    kWholeAxis;

/// What the indices of a dimension stand for, which tells partitioners what they may cut.
enum class DimKind : std::uint8_t {
    Features,  ///< neurons of a hidden layer, channels of a conv layer (IST, GIST, channel IST)
    Units,     ///< residual blocks of one section: a parameter belongs whole to one unit (ResIST)
    Derived,   ///< a Features dimension seen column by column (a dense layer after a conv): each
               ///< index of `parent` spans `span` consecutive indices here; never cut directly,
               ///< its index sets follow the parent's (see derive_indices in core/plan.hpp)
    Heads,     ///< attention heads of one transformer block: an index is a whole head, whose
               ///< columns a Derived dimension (span = head width) views; partitioners deal heads
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
    std::optional<DimId> parent;  ///< Derived only: the Features (or Heads) dimension it views column by column
    /// Units only: blocks whose shortcut is a projection (strided / downsampling blocks); an
    /// absent one reduces to its projection, and ResIST shares them by default.
    std::vector<std::uint32_t> projecting;
};

using DimensionTable = std::vector<Dimension>;

/// A dimension of neurons (DimKind::Features) of `size` indices, cut by partitioners or not.
inline Dimension features_dimension(std::string name, std::size_t size, bool partitionable) {
    Dimension d;
    d.name = std::move(name);
    d.size = size;
    d.partitionable = partitionable;
    return d;
}

/// Parameters of a residual block belong whole to one unit of a Units dimension.
struct UnitRef {
    static constexpr DimId kNoUnit = -1;
    DimId dim = kNoUnit;  ///< the Units dimension (section); kNoUnit: no block (held whenever its axes are)
    std::uint32_t index = 0;
    /// Whether the parameter belongs to a residual block at all.
    bool in_unit() const { return dim != kNoUnit; }
};

}  // namespace ist
