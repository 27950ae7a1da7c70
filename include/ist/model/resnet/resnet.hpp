#pragma once
// Builders for residual networks: the pre-activation ResNet ResIST trains (and the original
// post-activation ResNet, the first rungs of the ResIST ablation, Dun et al. 2022), and a residual
// MLP with the same block structure for fast experiments and tests.
#include <vector>

#include "ist/model/activation.hpp"
#include "ist/model/batch_norm.hpp"
#include "ist/model/batch_norm2d.hpp"
#include "ist/model/conv2d.hpp"
#include "ist/model/dense.hpp"
#include "ist/model/network.hpp"
#include "ist/model/pooling.hpp"

namespace ist {

/// The shape of one residual block (either order: preact_block or postact_block).
struct PreActBlockSpec {
    std::size_t in_channels = 0, out_channels = 0;
    std::size_t height = 0, width = 0;  ///< input image size
    std::size_t stride = 1;             ///< 2 for a downsampling block
    std::uint64_t seed = 0;
};

/// Pre-activation block (He et al. 2016): BN -> ReLU -> conv3x3(stride) -> BN -> ReLU -> conv3x3,
/// plus the identity, or a 1x1 conv (stride) when the block changes size, which makes it a
/// projecting block (ResIST shares those by default).
inline Residual preact_block(const PreActBlockSpec& b) {
    detail::require(b.stride > 0, "preact_block: stride must be positive");
    const std::size_t oh = (b.height - 1) / b.stride + 1, ow = (b.width - 1) / b.stride + 1;
    Residual block;
    block.add(BatchNorm2d(b.in_channels, b.height, b.width))
        .add(ReLU())
        .add(Conv2d({.in_channels = b.in_channels, .out_channels = b.out_channels, .height = b.height, .width = b.width,
                     .kernel = 3, .stride = b.stride, .padding = 1, .bias = false, .seed = b.seed}))
        .add(BatchNorm2d(b.out_channels, oh, ow))
        .add(ReLU())
        .add(Conv2d({.in_channels = b.out_channels, .out_channels = b.out_channels, .height = oh, .width = ow,
                     .kernel = 3, .padding = 1, .bias = false, .seed = b.seed + 1}));
    if (b.stride != 1 || b.in_channels != b.out_channels)
        block.shortcut(Conv2d({.in_channels = b.in_channels, .out_channels = b.out_channels, .height = b.height,
                               .width = b.width, .kernel = 1, .stride = b.stride, .bias = false, .seed = b.seed + 2}));
    return block;
}

/// Post-activation block (He et al. 2015, the original ResNet): conv3x3(stride) -> BN -> ReLU ->
/// conv3x3 -> BN, plus the identity or a 1x1 conv(stride) -> BN, then ReLU after the sum. A
/// Residual has no layer after its sum, so that ReLU moves to the start of the next block, on its
/// branch and its shortcut alike (both read ReLU(sum)); make_resnet starts the head with it. The
/// network computes the same function, and a block ResIST leaves out runs its shortcut's ReLU
/// alone, which is exactly skipping the block (ReLU is idempotent). The ReLU-only shortcut of an
/// identity block opens no dimension, so the block is not projecting: the section continues.
inline Residual postact_block(const PreActBlockSpec& b) {
    detail::require(b.stride > 0, "postact_block: stride must be positive");
    const std::size_t oh = (b.height - 1) / b.stride + 1, ow = (b.width - 1) / b.stride + 1;
    Residual block;
    block.add(ReLU())
        .add(Conv2d({.in_channels = b.in_channels, .out_channels = b.out_channels, .height = b.height, .width = b.width,
                     .kernel = 3, .stride = b.stride, .padding = 1, .bias = false, .seed = b.seed}))
        .add(BatchNorm2d(b.out_channels, oh, ow))
        .add(ReLU())
        .add(Conv2d({.in_channels = b.out_channels, .out_channels = b.out_channels, .height = oh, .width = ow,
                     .kernel = 3, .padding = 1, .bias = false, .seed = b.seed + 1}))
        .add(BatchNorm2d(b.out_channels, oh, ow));
    block.shortcut(ReLU());
    if (b.stride != 1 || b.in_channels != b.out_channels)
        block.shortcut(Conv2d({.in_channels = b.in_channels, .out_channels = b.out_channels, .height = b.height,
                               .width = b.width, .kernel = 1, .stride = b.stride, .bias = false, .seed = b.seed + 2}))
            .shortcut(BatchNorm2d(b.out_channels, oh, ow));
    return block;
}

/// Where a block's BatchNorm and ReLU stand relative to its convolutions.
enum class BlockOrder {
    PreActivation,   ///< preact_block (He et al. 2016): what ResIST trains
    PostActivation,  ///< postact_block (He et al. 2015): the "naive" rungs of the ResIST ablation
};

struct ResNetSpec {
    std::size_t channels = 1, height = 0, width = 0;  ///< input images
    std::size_t classes = 0;
    std::vector<std::size_t> stage_channels{16, 32, 64};
    std::vector<std::size_t> stage_blocks{2, 2, 2};  ///< blocks per stage; each stage is a section
    std::uint64_t seed = 1;
    BlockOrder order = BlockOrder::PreActivation;
    /// Pre-activation only: BN -> ReLU before the pool. The ResIST reference's PreActResNet (after
    /// kuangliu/pytorch-cifar) goes from its last block straight to the pool: false builds that.
    bool final_norm = true;
};

/// ResNet: conv3x3 stem (post-activation: -> BN), stages of blocks of spec.order (every stage after
/// the first starts with a stride-2 projecting block), then [BN ->] ReLU -> global average pool ->
/// dense head. Each stage is one Units dimension ("section<k>") of the network.
inline Network make_resnet(const ResNetSpec& spec) {
    detail::require(spec.channels > 0 && spec.height > 0 && spec.width > 0 && spec.classes > 0,
                    "make_resnet: channels, image size and classes must be positive");
    detail::require(!spec.stage_channels.empty() && spec.stage_channels.size() == spec.stage_blocks.size(),
                    "make_resnet: stage_channels and stage_blocks need one entry per stage");
    const bool post = spec.order == BlockOrder::PostActivation;
    Network net;
    std::uint64_t seed = spec.seed;
    std::size_t c = spec.stage_channels.front(), h = spec.height, w = spec.width;
    net.add(Conv2d({.in_channels = spec.channels, .out_channels = c, .height = h, .width = w, .kernel = 3,
                    .padding = 1, .bias = false, .seed = seed++}));
    if (post) net.add(BatchNorm2d(c, h, w));
    for (std::size_t s = 0; s < spec.stage_channels.size(); ++s)
        for (std::size_t b = 0; b < spec.stage_blocks[s]; ++b) {
            const std::size_t stride = s > 0 && b == 0 ? 2 : 1;
            const PreActBlockSpec block{c, spec.stage_channels[s], h, w, stride, seed};
            net.add(post ? postact_block(block) : preact_block(block));
            seed += 3;
            c = spec.stage_channels[s];
            h = (h - 1) / stride + 1;
            w = (w - 1) / stride + 1;
        }
    if (!post && spec.final_norm) net.add(BatchNorm2d(c, h, w));
    if (post || spec.final_norm) net.add(ReLU());  // post-activation: the last block's ReLU after its sum
    net.add(GlobalAvgPool(h, w)).add(Dense(c, spec.classes, true, seed));
    return net;
}

/// make_resnet of a pre-activation spec (the name ResIST's programs and tests use).
inline Network make_preact_resnet(const ResNetSpec& spec) {
    detail::require(spec.order == BlockOrder::PreActivation, "make_preact_resnet: spec.order is PostActivation; use make_resnet");
    return make_resnet(spec);
}

/// Residual MLP block: BN -> ReLU -> Dense(width, hidden) -> BN -> ReLU -> Dense(hidden, width).
inline Residual residual_mlp_block(std::size_t width, std::size_t hidden, std::uint64_t seed) {
    Residual block;
    block.add(BatchNorm(width)).add(ReLU()).add(Dense(width, hidden, false, seed)).add(BatchNorm(hidden)).add(ReLU())
        .add(Dense(hidden, width, true, seed + 1));
    return block;
}

struct ResidualMlpSpec {
    std::size_t inputs = 0, width = 64, hidden = 64, classes = 0;
    std::size_t blocks = 8;  ///< one section of this many blocks
    std::uint64_t seed = 1;
};

/// Dense stem, `blocks` residual MLP blocks (one section), BN -> ReLU -> dense head.
inline Network make_residual_mlp(const ResidualMlpSpec& spec) {
    detail::require(spec.inputs > 0 && spec.width > 0 && spec.hidden > 0 && spec.classes > 0,
                    "make_residual_mlp: inputs, width, hidden and classes must be positive");
    Network net;
    net.add(Dense(spec.inputs, spec.width, true, spec.seed));
    for (std::size_t b = 0; b < spec.blocks; ++b) net.add(residual_mlp_block(spec.width, spec.hidden, spec.seed + 1 + 2 * b));
    net.add(BatchNorm(spec.width)).add(ReLU()).add(Dense(spec.width, spec.classes, true, spec.seed + 1 + 2 * spec.blocks));
    return net;
}

}  // namespace ist
