// ResNet builders (model/resnet/resnet.hpp): the post-activation block (the first rungs of the ResIST
// ablation, Dun et al. 2022), the pre-activation net without its final BN -> ReLU, and the cut of
// their convolutions by channel (NeuronPartition: LOFT's filter-wise subnets).
#include <algorithm>

#include <doctest/doctest.h>

#include <ist/model/resnet/resnet.hpp>
#include <ist/aggregate/holder_average.hpp>
#include <ist/model/mlp.hpp>
#include <ist/partition/block_channel_partition.hpp>
#include <ist/partition/neuron_partition.hpp>

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

namespace {

/// The full network with every channel `plan` does not hold removed by hand: the filters (Out
/// axes: convolutions, dense rows, BatchNorm2d's gamma and beta) that produce a non-held channel
/// are zeroed, so the channel is 0 everywhere it is read (BN of an all-zero channel is its beta,
/// 0; ReLU(0) = 0; an identity shortcut passes 0). With `scale_inputs`, every weight reading a cut
/// dimension is multiplied by full/held width, which a subnet built with scale_activations does
/// to its layers' outputs instead (the same for a linear layer; biases are not scaled by either).
Network without_unheld_channels(Network net, const WorkerPlan& plan, bool scale_inputs) {
    const DimensionTable& dims = net.dimensions();
    const auto holds = [&](DimId d, std::size_t index) {
        const IndexSet& set = plan.dims.at(static_cast<std::size_t>(d));
        return !set || std::binary_search(set->begin(), set->end(), static_cast<std::uint32_t>(index));
    };
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        Tensor& value = net.parameter(i).value;
        const std::vector<Axis>& axes = net.parameter(i).axes;
        const auto shape = value.shape();
        for (std::size_t flat = 0; flat < value.size(); ++flat) {
            std::size_t rest = flat;
            for (std::size_t a = axes.size(); a-- > 0;) {
                const std::size_t index = rest % shape[a];
                rest /= shape[a];
                const DimId d = net.parameter_dims(i)[a];
                if (d == kWholeAxis) continue;
                REQUIRE(dims[static_cast<std::size_t>(d)].kind != DimKind::Derived);  // pooled heads read channels
                if (axes[a] == Axis::Out && !holds(d, index)) value.data()[flat] = 0.0f;
                if (axes[a] == Axis::In && scale_inputs && value.dimension() > 1)
                    value.data()[flat] *= static_cast<float>(dims[static_cast<std::size_t>(d)].size) /
                                          static_cast<float>(plan.held(d, dims[static_cast<std::size_t>(d)].size));
            }
        }
    }
    return net;
}

/// Whether `plan` holds entry `flat` of parameter `i` of `net`: its index along every cut axis is held.
bool holds_entry(const Network& net, std::size_t i, std::size_t flat, const WorkerPlan& plan) {
    const auto shape = net.parameter(i).value.shape();
    for (std::size_t a = shape.size(); a-- > 0;) {
        const std::size_t index = flat % shape[a];
        flat /= shape[a];
        const DimId d = net.parameter_dims(i)[a];
        if (d == kWholeAxis) continue;
        const IndexSet& set = plan.dims.at(static_cast<std::size_t>(d));
        if (set && !std::binary_search(set->begin(), set->end(), static_cast<std::uint32_t>(index))) return false;
    }
    return true;
}

Network channel_resnet(BlockOrder order) {
    return make_resnet({.channels = 2, .height = 4, .width = 4, .classes = 3, .stage_channels = {5, 7},
                        .stage_blocks = {2, 2}, .seed = 11, .order = order});
}

/// The full network's output equals the subnet's for each worker of `plan`, which cuts `cut` dimensions.
void check_channel_cut_is_removal(const Network& net, const Plan& plan, std::size_t cut_dims, bool scale_activations) {
    const Matrix x = test::random_matrix(9, 32, 4);
    for (const WorkerPlan& worker : plan) {
        std::size_t cut = 0;
        for (const IndexSet& set : worker.dims) cut += set && !set->empty();
        REQUIRE(cut == cut_dims);
        Network sub = net.subnet(worker, scale_activations);
        Network oracle = without_unheld_channels(net, worker, scale_activations);
        // Training mode: every BatchNorm2d normalises with the statistics of this batch in both.
        CHECK(xt::allclose(sub.forward(x, Mode::Train), oracle.forward(x, Mode::Train), 1e-4, 1e-5));
    }
}

}  // namespace

TEST_CASE("resnet: a subnet cut by channels computes the full network with the other channels removed") {
    for (BlockOrder order : {BlockOrder::PreActivation, BlockOrder::PostActivation})
        for (bool scale : {false, true}) {
            CAPTURE(static_cast<int>(order));
            CAPTURE(scale);
            const Network net = channel_resnet(order);
            PartitionRng rng(5);
            // Every convolution's channels: the two stages' streams and the four blocks' inner ones.
            check_channel_cut_is_removal(net, NeuronPartition().plan(net.dimensions(), 3, rng), 2 + 4, scale);
            // The blocks' inner channels only, the streams whole.
            check_channel_cut_is_removal(net, BlockChannelPartition(net).plan(net.dimensions(), 3, rng), 4, scale);
        }
}

TEST_CASE("resnet: BlockChannelPartition cuts each block's inner filters, never a stream the stem, a shortcut or the head reads") {
    for (BlockOrder order : {BlockOrder::PreActivation, BlockOrder::PostActivation}) {
        const Network net = channel_resnet(order);
        // By hand: a block's first convolution (the first kernel of its unit) opens its inner
        // channels; the stem's kernel (parameter 0) and the head's weight (the last but one) write
        // and read the streams.
        std::vector<std::size_t> inner;
        std::vector<std::pair<DimId, std::uint32_t>> seen;
        for (std::size_t i = 0; i < net.parameter_count(); ++i) {
            const UnitRef u = net.parameter_unit(i);
            if (!u.in_unit() || net.parameter(i).value.dimension() != 4) continue;
            if (std::find(seen.begin(), seen.end(), std::pair(u.dim, u.index)) != seen.end()) continue;
            seen.emplace_back(u.dim, u.index);
            inner.push_back(static_cast<std::size_t>(net.parameter_dims(i)[0]));
        }
        REQUIRE(inner.size() == 4);
        const BlockChannelPartition partition(net);
        CHECK(partition.cut_dims() == inner);
        const auto stream_of = [&](std::size_t i, std::size_t axis) { return static_cast<std::size_t>(net.parameter_dims(i)[axis]); };
        CHECK(std::ranges::count(partition.cut_dims(), stream_of(0, 0)) == 0);
        CHECK(std::ranges::count(partition.cut_dims(), stream_of(net.parameter_count() - 2, 1)) == 0);
        PartitionRng rng(8);
        partition.validate(net.dimensions(), 5);
        CHECK_THROWS_WITH_AS(partition.validate(net.dimensions(), 6),
                             "BlockChannelPartition: S = 6 workers but dimension 'hidden3' has only 5 indices; each worker "
                             "needs at least one", ConfigError);
        const Plan plan = partition.plan(net.dimensions(), 2, rng);
        for (std::size_t d : inner) {  // disjoint halves that cover the channels
            std::vector<std::uint32_t> both = *plan[0].dims[d];
            both.insert(both.end(), plan[1].dims[d]->begin(), plan[1].dims[d]->end());
            std::sort(both.begin(), both.end());
            CHECK(both.size() == net.dimensions()[d].size);
            CHECK(std::adjacent_find(both.begin(), both.end()) == both.end());
        }
    }
    const Network mlp = make_mlp({4, {8}, 2});
    CHECK_THROWS_WITH_AS(BlockChannelPartition(mlp).validate(mlp.dimensions(), 2),
                         "BlockChannelPartition: the model has no channels inside residual blocks to cut", ConfigError);
}

TEST_CASE("resnet: channel subnets' gradients match finite differences") {
    for (BlockOrder order : {BlockOrder::PreActivation, BlockOrder::PostActivation}) {
        const Network net = channel_resnet(order);
        PartitionRng rng(6);
        const Plan plan = NeuronPartition().plan(net.dimensions(), 2, rng);
        test::check_gradients(net.subnet(plan[1], true), 32, 3, 3);
    }
}

TEST_CASE("resnet: merging channel subnets writes each kernel, BN and head entry back where its worker held it") {
    Network net = channel_resnet(BlockOrder::PostActivation);
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {  // every entry holds its own flat index
        Tensor& w = net.parameter(i).value;
        for (std::size_t k = 0; k < w.size(); ++k) w.data()[k] = static_cast<float>(k);
    }
    PartitionRng rng(7);
    const Plan plan = NeuronPartition().plan(net.dimensions(), 3, rng);
    std::vector<Network> workers;
    for (std::size_t s = 0; s < plan.size(); ++s) {
        workers.push_back(net.subnet(plan[s]));
        for (std::size_t i = 0; i < net.parameter_count(); ++i) workers.back().parameter(i).value += 0.25f * static_cast<float>(s + 1);
    }
    Network merged = net;
    std::vector<MergeItem> items;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        MergeItem& item = items.emplace_back(MergeItem{&merged.parameter(i).value, net.parameter_dims(i), {}, net.parameter_unit(i)});
        for (const Network& w : workers) item.workers.push_back(&w.parameter(i).value);
    }
    HolderAverage().merge(items, MergeContext(plan));
    // By hand: an entry takes the mean shift of the workers holding it (a cut entry: one worker's,
    // or none, when its channels fell to different workers; an uncut one: all three, 0.5).
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        for (std::size_t k = 0; k < net.parameter(i).value.size(); ++k) {
            float shift = 0.0f, holders = 0.0f;
            for (std::size_t s = 0; s < plan.size(); ++s)
                if (holds_entry(net, i, k, plan[s])) shift += 0.25f * static_cast<float>(s + 1), holders += 1.0f;
            CAPTURE(i);
            CAPTURE(k);
            REQUIRE(merged.parameter(i).value.data()[k] == static_cast<float>(k) + (holders > 0 ? shift / holders : 0.0f));
        }
}
