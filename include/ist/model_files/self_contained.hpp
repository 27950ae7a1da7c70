#pragma once
// A trained network made into a model that turns raw rows into predictions by itself, and back:
// the programs train on standardised rows with a network that has no Standardize layer, and save
// it with one in front (docs/model_files.md).
#include <cstddef>
#include <optional>
#include <utility>

#include "ist/data/dataset.hpp"
#include "ist/model/batch_norm.hpp"
#include "ist/model/batch_norm2d.hpp"
#include "ist/model/network.hpp"
#include "ist/model/refresh_statistics.hpp"
#include "ist/model/resnet/residual.hpp"
#include "ist/model/standardize.hpp"

namespace ist {

namespace detail {

/// A copy of `net`'s layers from layer `first` on, each passed through `convert`, behind `front`
/// when it is set. Blocks are rebuilt whole (a block's evaluation scale is not kept: set it again).
template <class Convert>
Network rebuilt(const Network& net, std::optional<AnyLayer> front, std::size_t first, Convert&& convert) {
    Network out;
    if (front) out.add(std::move(*front));
    const auto& topology = *net.topology();
    for (const Topology::Step& step : topology.steps()) {
        if (!step.block) {
            if (step.layer >= first) out.add(convert(net.layer(step.layer)));
            continue;
        }
        const Topology::Block& b = topology.blocks()[*step.block];
        require(b.shortcut_begin >= first, "rebuilt: cannot drop layers of a residual block");
        Residual block;
        for (std::size_t l = b.shortcut_begin; l < b.branch_begin; ++l) block.shortcut(convert(net.layer(l)));
        for (std::size_t l = b.branch_begin; l < b.branch_end; ++l) block.add(convert(net.layer(l)));
        out.add(std::move(block));
    }
    return out;
}

inline AnyLayer unchanged(const AnyLayer& layer) { return layer; }

}  // namespace detail

/// The standardisation `s` (x -> (x - mean) / sd) as a layer: Standardize(mean, 1 / sd).
inline Standardize standardize_layer(const Standardization& s) {
    return Standardize(s.mean, xt::xtensor<float, 1>(1.0f / s.sd));
}

/// `trained` (which takes standardised rows) behind a Standardize layer of `s`: a network that
/// takes raw rows. ConfigError if `trained` already starts with one.
inline Network with_standardization(const Network& trained, const Standardization& s) {
    detail::require(trained.layer_count() > 0 && trained.layer(0).as<Standardize>() == nullptr,
                    "with_standardization: the network already starts with a Standardize layer");
    return detail::rebuilt(trained, AnyLayer(standardize_layer(s)), 0, detail::unchanged);
}

/// `model` without its front Standardize layer, if it has one: the network to train further on
/// rows standardised by the program.
inline Network without_standardization(const Network& model) {
    if (model.layer_count() == 0 || model.layer(0).as<Standardize>() == nullptr) return model;
    return detail::rebuilt(model, std::nullopt, 1, detail::unchanged);
}

/// `model` with every batch norm normalising with the statistics of each batch again (momentum 0),
/// its gamma and beta kept: undoes use_population_statistics, to train further as the reference
/// network trains.
inline Network with_batch_statistics(const Network& model) {
    return detail::rebuilt(model, std::nullopt, 0, [](const AnyLayer& layer) {
        if (const BatchNorm* bn = layer.as<BatchNorm>())
            return AnyLayer(detail::with_parameters_of(*bn, BatchNorm(bn->features(), bn->affine(), bn->eps(), 0.0f)));
        if (const BatchNorm2d* bn = layer.as<BatchNorm2d>())
            return AnyLayer(detail::with_parameters_of(
                *bn, BatchNorm2d(bn->channels(), bn->height(), bn->width(), bn->affine(), bn->eps(), 0.0f)));
        return layer;
    });
}

}  // namespace ist
