#pragma once
// A residual block of layers, the unit ResIST (Dun et al. 2022) deals to workers.
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/model/any_layer.hpp"

namespace ist {

namespace detail {
template <class> inline constexpr bool always_false = false;

/// Type-erases a layer, failing at compile time with a readable message for anything else.
template <class L>
AnyLayer make_layer(L&& layer) {
    using T = std::remove_cvref_t<L>;
    if constexpr (std::is_same_v<T, AnyLayer>) {
        return AnyLayer(std::forward<L>(layer));  // already erased (a layer rebuilt from a model file)
    } else if constexpr (Layer<T>) {
        return AnyLayer(T(std::forward<L>(layer)));
    } else {
        static_assert(always_false<T>,
                      "ist::Network::add / ist::Residual::add: this type does not model ist::Layer. It needs "
                      "forward(x, y, mode), backward(x, y, dy, dx), parameters() (const and non-const, returning "
                      "std::span<Parameter>) and a static bool opens_dimension; see ist/model/layer.hpp.");
    }
}
}  // namespace detail

/// A residual block, y = shortcut(x) + branch(x). The shortcut is the identity unless layers are
/// given for it: a projection (a layer that opens a dimension: strided or widening blocks, which
/// start a section) or shape-keeping layers (postact_block's ReLU, which continue one). In a
/// Network, consecutive blocks form a section: a Units dimension that ResIST deals to workers. A
/// worker without a block runs its shortcut alone (the identity for plain blocks), so a subnet is
/// a shallower network.
class Residual {
public:
    template <class L>
    Residual& add(L&& layer) {
        branch_.push_back(detail::make_layer(std::forward<L>(layer)));
        return *this;
    }
    template <class L>
    Residual& shortcut(L&& layer) {
        shortcut_.push_back(detail::make_layer(std::forward<L>(layer)));
        return *this;
    }

private:
    friend class Network;  // moves the layers out when the block is added
    std::vector<AnyLayer> branch_, shortcut_;
};

}  // namespace ist
