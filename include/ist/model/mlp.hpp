#pragma once
// Builder for the multi-layer perceptrons of the IST papers.
#include <vector>

#include "ist/model/activation.hpp"
#include "ist/model/batch_norm.hpp"
#include "ist/detail/seed.hpp"
#include "ist/model/dense.hpp"
#include "ist/model/dropout.hpp"
#include "ist/model/layer_norm.hpp"
#include "ist/model/network.hpp"

namespace ist {

/// How hidden pre-activations are normalised; it decides how a subnet's ~1/S smaller
/// pre-activations are handled.
enum class Norm {
    Batch,  ///< reference IST: Dense (no bias) -> BatchNorm -> ReLU, parameter-free BatchNorm on the logits
    Layer,  ///< GIST style: Dense -> parameter-free LayerNorm -> ReLU
    None,   ///< Dense -> ReLU; pair with activation scaling (TrainerOptions::scale_activations)
};

struct MlpSpec {
    std::size_t inputs = 0;
    std::vector<std::size_t> hidden;
    std::size_t classes = 0;
    Norm norm = Norm::Batch;
    std::uint64_t seed = 1;
    float dropout = 0.0f;  ///< rate of a Dropout after every hidden activation; 0: none
};

/// Builds the MLP of `spec`. The default (Norm::Batch) is the reference IST network, because its
/// norms absorb the subnet scale with no extra option and match the published results.
inline Network make_mlp(const MlpSpec& spec) {
    detail::require(spec.inputs > 0 && spec.classes > 0, "make_mlp: inputs and classes must be positive");
    detail::require(spec.dropout >= 0.0f && spec.dropout < 1.0f,
                    "make_mlp: dropout must be in [0, 1), got " + std::to_string(spec.dropout));
    Network net;
    std::size_t width = spec.inputs;
    std::uint64_t seed = spec.seed, dropouts = 0;
    const bool bias = spec.norm != Norm::Batch;  // a bias before BatchNorm is cancelled by the mean
    for (std::size_t h : spec.hidden) {
        detail::require(h > 0, "make_mlp: hidden widths must be positive");
        net.add(Dense(width, h, bias, seed++));
        if (spec.norm == Norm::Batch) net.add(BatchNorm(h));
        if (spec.norm == Norm::Layer) net.add(LayerNorm());
        net.add(ReLU());
        // Dropout seeds come from their own stream, so the dense layers' seeds stay as without it.
        if (spec.dropout > 0.0f) net.add(Dropout(spec.dropout, detail::derive_seed(spec.seed, 0xD50 + dropouts++)));
        width = h;
    }
    net.add(Dense(width, spec.classes, bias, seed++));
    if (spec.norm == Norm::Batch) net.add(BatchNorm(spec.classes, /*affine=*/false));
    return net;
}

}  // namespace ist
