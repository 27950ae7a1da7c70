// ResNet builders (model/resnet/resnet.hpp): the post-activation block (the first rungs of the ResIST
// ablation, Dun et al. 2022) and the pre-activation net without its final BN -> ReLU.
#include <doctest/doctest.h>

#include <ist/model/resnet/resnet.hpp>

#include "gradient_check.hpp"

using namespace ist;

namespace {

ResNetSpec tiny(BlockOrder order) {
    return {.channels = 1, .height = 4, .width = 4, .classes = 3, .stage_channels = {2, 3}, .stage_blocks = {2, 2},
            .seed = 7, .order = order};
}

std::vector<std::size_t> section_dims(const Network& net) {
    std::vector<std::size_t> out;
    for (std::size_t d = 0; d < net.dimensions().size(); ++d)
        if (net.dimensions()[d].kind == DimKind::Units) out.push_back(d);
    return out;
}

}  // namespace

TEST_CASE("resnet: post-activation gradients match finite differences, with projections and absent blocks") {
    const Network net = make_resnet(tiny(BlockOrder::PostActivation));
    test::check_gradients(net, 16, 3, 1);
    // A subnet without an identity block of each stage: their shortcuts (a ReLU) run alone.
    WorkerPlan plan{std::vector<IndexSet>(net.dimensions().size())};
    const auto units = section_dims(net);
    plan.dims[units[0]] = std::vector<std::uint32_t>{0};
    plan.dims[units[1]] = std::vector<std::uint32_t>{0};
    test::check_gradients(net.subnet(plan), 16, 3, 2);
}

TEST_CASE("resnet: post-activation identity blocks continue a section; the projecting one starts the next") {
    const Network net = make_resnet(tiny(BlockOrder::PostActivation));
    const auto units = section_dims(net);
    REQUIRE(units.size() == 2);
    CHECK(net.dimensions()[units[0]].size == 2);
    CHECK(net.dimensions()[units[0]].projecting.empty());
    CHECK(net.dimensions()[units[1]].size == 2);
    CHECK(net.dimensions()[units[1]].projecting == std::vector<std::uint32_t>{0});
    // Per block: two convs and two BatchNorm2d (gamma, beta) in the branch; the projecting block's
    // shortcut conv and BatchNorm belong to no unit.
    std::size_t in_units = 0;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) in_units += net.parameter_unit(i).in_unit();
    CHECK(in_units == 4 * 6);
}

TEST_CASE("resnet: an absent post-activation block is ReLU of its input, as skipping the block") {
    Network net = make_resnet(tiny(BlockOrder::PostActivation));
    const std::size_t section = section_dims(net)[0];
    // A branch whose last BatchNorm has gamma = beta = 0 adds nothing: the block is ReLU(x).
    std::vector<std::size_t> block;
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        if (net.parameter_unit(i).dim == static_cast<DimId>(section) && net.parameter_unit(i).index == 1) block.push_back(i);
    REQUIRE(block.size() == 6);  // conv, BN gamma, beta, conv, BN gamma, beta
    net.parameter(block[4]).value.fill(0.0f);
    net.parameter(block[5]).value.fill(0.0f);
    WorkerPlan without{std::vector<IndexSet>(net.dimensions().size())};
    without.dims[section] = std::vector<std::uint32_t>{0};
    const Matrix x = test::random_matrix(10, 16, 3);
    const Matrix full = net.forward(x, Mode::Train);
    Network sub = net.subnet(without);
    CHECK(xt::allclose(sub.forward(x, Mode::Train), full, 1e-5, 1e-5));
}

TEST_CASE("resnet: final_norm = false drops the pre-activation net's BN -> ReLU before the pool") {
    ResNetSpec spec = tiny(BlockOrder::PreActivation);
    const Network with = make_resnet(spec);
    CHECK(make_preact_resnet(spec).layer_count() == with.layer_count());
    spec.final_norm = false;
    const Network without = make_resnet(spec);
    CHECK(without.layer_count() + 2 == with.layer_count());
    CHECK(without.parameter_elements() + 2 * 3 == with.parameter_elements());  // gamma and beta of 3 channels
    test::check_gradients(without, 16, 3, 4);
    spec.order = BlockOrder::PostActivation;
    CHECK_THROWS_AS(make_preact_resnet(spec), ConfigError);
}
