#pragma once
// The lottery-ticket controls (Frankle & Carbin 2019): after pruning, train the surviving
// connections from their initial values ("rewind": is this mask a winning ticket?) or from a
// fresh random draw (a sparse random net with the same mask: the control a ticket must beat).
//
// Both are one operation: copy every parameter of another network of the same shapes, then
// re-apply the masks. Rewind passes the initial network (or a copy saved after an early round);
// random re-initialisation passes the same architecture built with a fresh seed.
#include <string>

#include "ist/core/error.hpp"
#include "ist/model/model.hpp"
#include "ist/prune/masked.hpp"

namespace ist {

/// Sets every parameter of `model` to `weights`' and zeroes the pruned ones again. ConfigError
/// (and `model` unchanged) if the two do not have the same parameter shapes.
template <Model M>
void rewind(Masked<M>& model, const M& weights) {
    detail::require(weights.parameter_count() == model.parameter_count(),
                    "rewind: the weights have " + std::to_string(weights.parameter_count()) + " parameters, the model " +
                        std::to_string(model.parameter_count()));
    for (std::size_t i = 0; i < model.parameter_count(); ++i)
        detail::require(weights.parameter(i).value.shape() == model.parameter(i).value.shape(),
                        "rewind: parameter " + std::to_string(i) + " (" + model.parameter(i).name +
                            ") is shaped differently in the weights");
    for (std::size_t i = 0; i < model.parameter_count(); ++i) model.parameter(i).value = weights.parameter(i).value;
    model.project_parameters();
}

}  // namespace ist
