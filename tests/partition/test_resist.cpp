// ResIST: residual blocks as units of a section, the ResIST partitioner, absent blocks as the
// identity, evaluation scaling, and training through the same IstTrainer.
#include <doctest/doctest.h>

#include <ist/data/builtin.hpp>
#include <ist/model/resnet/resnet.hpp>
#include <ist/partition/full_model.hpp>
#include <ist/partition/resist.hpp>
#include <ist/train/trainer.hpp>

#include "gradient_check.hpp"

using namespace ist;

namespace {

ResNetSpec tiny_resnet() {
    ResNetSpec spec;
    spec.channels = 1;
    spec.height = spec.width = 4;
    spec.classes = 3;
    spec.stage_channels = {2, 3};
    spec.stage_blocks = {2, 3};
    spec.seed = 11;
    return spec;
}

Network residual_mlp(std::size_t inputs, std::size_t blocks, std::size_t classes, std::uint64_t seed) {
    return make_residual_mlp({.inputs = inputs, .width = 16, .hidden = 16, .classes = classes, .blocks = blocks, .seed = seed});
}

/// The Units dimensions of a network, in order.
std::vector<DimId> sections(const Network& net) {
    std::vector<DimId> out;
    for (std::size_t d = 0; d < net.dimensions().size(); ++d)
        if (net.dimensions()[d].kind == DimKind::Units) out.push_back(static_cast<DimId>(d));
    return out;
}

/// A user's own partitioner: the same fixed plan every round.
struct FixedPlan {
    Plan fixed;
    void validate(const DimensionTable&, std::size_t) const {}
    Plan plan(const DimensionTable&, std::size_t, PartitionRng&) const { return fixed; }
};

bool same_tensor(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a == b; }

}  // namespace

TEST_CASE("resist: each stage of a pre-activation ResNet is a section of blocks, and projecting blocks are marked") {
    const Network net = make_preact_resnet(tiny_resnet());
    const auto units = sections(net);
    REQUIRE(units.size() == 2);
    const Dimension& first = net.dimensions()[static_cast<std::size_t>(units[0])];
    const Dimension& second = net.dimensions()[static_cast<std::size_t>(units[1])];
    CHECK(first.name == "section1");
    CHECK(second.name == "section2");
    CHECK(first.size == 2);
    CHECK(first.projecting.empty());
    CHECK(second.size == 3);
    CHECK(second.projecting == std::vector<std::uint32_t>{0});  // the stride-2 block starting stage 2
    CHECK(first.partitionable);
    CHECK(net.input_size() == 16);
    CHECK(net.output_size() == 3);
    // Every parameter of a block belongs to its unit; the shortcut projection and the rest to none.
    std::size_t in_units = 0;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) in_units += net.parameter_unit(i).in_unit();
    CHECK(in_units == 5 * 6);  // per block: two BatchNorm2d (gamma, beta) and two convs
}

TEST_CASE("resist: gradients through residual blocks, projections and absent blocks") {
    const Network resnet = make_preact_resnet(tiny_resnet());
    test::check_gradients(resnet, 16, 3, 1);
    test::check_gradients(residual_mlp(5, 3, 3, 2), 5, 3, 2);
    // A subnet without the projecting block and one plain block: the projection alone remains.
    WorkerPlan plan{std::vector<IndexSet>(resnet.dimensions().size())};
    const auto units = sections(resnet);
    plan.dims[static_cast<std::size_t>(units[0])] = std::vector<std::uint32_t>{1};
    plan.dims[static_cast<std::size_t>(units[1])] = std::vector<std::uint32_t>{2};
    const Network sub = resnet.subnet(plan);
    std::size_t empty = 0;
    for (std::size_t i = 0; i < sub.parameter_count(); ++i) empty += sub.parameter(i).value.size() == 0;
    CHECK(empty == 3 * 6);
    test::check_gradients(sub, 16, 3, 3);
}

TEST_CASE("resist: an absent block is the identity") {
    Network net = residual_mlp(6, 3, 4, 5);
    const DimId section = sections(net).front();
    // Zeroing block 1's last dense layer makes that block the identity in the full network.
    // Parameters of block 1, in order: BN gamma, beta, Dense weight, BN gamma, beta, Dense weight, bias.
    std::vector<std::size_t> block;
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        if (net.parameter_unit(i).dim == section && net.parameter_unit(i).index == 1) block.push_back(i);
    REQUIRE(block.size() == 7);
    net.parameter(block[5]).value.fill(0.0f);
    net.parameter(block[6]).value.fill(0.0f);
    WorkerPlan without{std::vector<IndexSet>(net.dimensions().size())};
    without.dims[static_cast<std::size_t>(section)] = std::vector<std::uint32_t>{0, 2};
    Network sub = net.subnet(without);
    const Matrix x = test::random_matrix(10, 6, 9);
    const Matrix full = net.forward(x, Mode::Train);
    CHECK(xt::allclose(sub.forward(x, Mode::Train), full, 1e-6, 1e-6));
    // And a block that is not the identity changes the output when absent.
    without.dims[static_cast<std::size_t>(section)] = std::vector<std::uint32_t>{1, 2};
    CHECK_FALSE(xt::allclose(net.subnet(without).forward(x, Mode::Train), full, 1e-3, 1e-3));
}

TEST_CASE("resist: the partitioner deals blocks disjointly, shares projecting blocks and leaves features whole") {
    const Network net = make_preact_resnet(tiny_resnet());
    const auto& dims = net.dimensions();
    const auto units = sections(net);
    PartitionRng rng(1);
    const ResistPartition all({.all_sections = true});
    const Plan plan = all.plan(dims, 2, rng);
    for (std::size_t d = 0; d < dims.size(); ++d)
        if (dims[d].kind != DimKind::Units) CHECK_FALSE(plan[0].dims[d].has_value());
    const auto first = static_cast<std::size_t>(units[0]), second = static_cast<std::size_t>(units[1]);
    CHECK(plan[0].dims[first]->size() == 1);
    CHECK(plan[1].dims[first]->size() == 1);
    CHECK((*plan[0].dims[first])[0] != (*plan[1].dims[first])[0]);
    // Section 2: block 0 projects, so both hold it; blocks 1 and 2 are dealt one each.
    for (const auto& wp : plan) {
        REQUIRE(wp.dims[second]->size() == 2);
        CHECK((*wp.dims[second])[0] == 0);
    }
    CHECK((*plan[0].dims[second])[1] != (*plan[1].dims[second])[1]);

    // The default deals only the longest section; the other is held whole by everyone.
    const Plan longest = ResistPartition{}.plan(dims, 2, rng);
    CHECK_FALSE(longest[0].dims[first].has_value());
    CHECK(longest[0].dims[second].has_value());
    // Projecting blocks dealt too when not shared (the ablation's "naive" rule).
    const Plan naive = ResistPartition({.all_sections = true, .share_projecting = false}).plan(dims, 3, rng);
    std::vector<std::uint32_t> seen;
    for (const auto& wp : naive) {
        CHECK(wp.dims[second]->size() == 1);
        seen.push_back((*wp.dims[second])[0]);
    }
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<std::uint32_t>{0, 1, 2});
}

TEST_CASE("resist: a minimum depth overlaps blocks, every block is held, and extract-then-merge is the identity") {
    const Network net = residual_mlp(6, 7, 3, 3);
    const auto& dims = net.dimensions();
    const auto section = static_cast<std::size_t>(sections(net).front());
    PartitionRng rng(4);
    for (std::size_t S = 1; S <= 6; ++S)
        for (std::size_t depth : {1, 3, 9}) {
            CAPTURE(S);
            CAPTURE(depth);
            const Plan plan = ResistPartition({.min_depth = depth}).plan(dims, S, rng);
            std::vector<int> holders(7, 0);
            for (const auto& wp : plan) {
                const std::size_t held = wp.dims[section]->size();
                CHECK(held >= std::min<std::size_t>(depth, 7));
                CHECK(held >= 7 / S);
                for (std::uint32_t b : *wp.dims[section]) ++holders[b];
            }
            CHECK(*std::min_element(holders.begin(), holders.end()) >= 1);
            if (depth * S <= 7) CHECK(*std::max_element(holders.begin(), holders.end()) == 1);
            CHECK(test::same_parameters(test::extract_then_merge(net, plan), net));
        }
}

TEST_CASE("resist: evaluation scales each dealt branch by max(1/S, min_depth/n) and nothing else") {
    const Network net = make_preact_resnet(tiny_resnet());
    const auto& dims = net.dimensions();
    const auto units = sections(net);
    const ResistPartition plain({.all_sections = true});
    CHECK(plain.unit_scale(dims, {units[0], 0}, 4) == doctest::Approx(0.5f));   // 2 blocks: min_depth 1 of 2
    CHECK(plain.unit_scale(dims, {units[1], 0}, 4) == 1.0f);                   // projecting: shared
    CHECK(plain.unit_scale(dims, {units[1], 1}, 4) == doctest::Approx(0.5f));
    CHECK(plain.unit_scale(dims, {units[1], 1}, 1) == 1.0f);                   // S = 1: plain training
    const Network deep = residual_mlp(4, 8, 3, 1);
    const DimId section = sections(deep).front();
    CHECK(ResistPartition{}.unit_scale(deep.dimensions(), {section, 3}, 4) == doctest::Approx(0.25f));
    CHECK(ResistPartition({.min_depth = 4}).unit_scale(deep.dimensions(), {section, 3}, 4) == doctest::Approx(0.5f));
    CHECK(ResistPartition({.scale_branches = false}).unit_scale(deep.dimensions(), {section, 3}, 4) == 1.0f);
    CHECK(ResistPartition{}.unit_scale(dims, {units[0], 1}, 4) == 1.0f);  // not dealt by default

    // The trainer applies the scales to the full model's evaluation only.
    Network model = residual_mlp(4, 8, 3, 1);
    const Matrix x = test::random_matrix(9, 4, 2);
    const Matrix before_eval = model.forward(x, Mode::Eval);
    IstTrainer<Network, ResistPartition> trainer(model, test::test_options(4, 1, 1, 8, 1));
    const Matrix train_mode = model.forward(x, Mode::Train);
    CHECK(xt::allclose(train_mode, before_eval));
    CHECK_FALSE(xt::allclose(model.forward(x, Mode::Eval), before_eval, 1e-3, 1e-3));
    // A later trainer without ResIST (fine-tuning the whole model) resets every scale to 1.
    {
        Network copy = model;
        IstTrainer<Network, FullModel> fine_tune(copy, test::test_options(1, 1, 1, 8, 1));
        CHECK(xt::allclose(copy.forward(x, Mode::Eval), copy.forward(x, Mode::Train)));
    }
    // Scale 0 everywhere is the network with no blocks at all.
    for (std::uint32_t b = 0; b < 8; ++b) model.set_unit_scale({section, b}, 0.0f);
    WorkerPlan none{std::vector<IndexSet>(model.dimensions().size())};
    none.dims[static_cast<std::size_t>(section)] = std::vector<std::uint32_t>{};
    CHECK(xt::allclose(model.forward(x, Mode::Eval), model.subnet(none).forward(x, Mode::Eval), 1e-6, 1e-6));
}

TEST_CASE("resist: blocks outside every subnet keep their values, held blocks and shared layers train") {
    auto [train, test_set] = train_test_split(load_digits(), 0.2, 3);
    Network net = residual_mlp(64, 4, 10, 7);
    const Network before = net;
    const auto section = static_cast<std::size_t>(sections(net).front());
    Plan plan = full_plan(net.dimensions(), 2);
    plan[0].dims[section] = std::vector<std::uint32_t>{0};
    plan[1].dims[section] = std::vector<std::uint32_t>{0, 2};  // block 0 in both: averaged; 1 and 3 in none
    IstTrainer<Network, FixedPlan> trainer(net, test::test_options(2, 5, 2, 32, 1), FixedPlan{plan});
    trainer.train(train, test_set);
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        const UnitRef u = net.parameter_unit(i);
        CAPTURE(i);
        const bool held = !u.in_unit() || u.index == 0 || u.index == 2;
        const bool same = same_tensor(net.parameter(i).value, before.parameter(i).value);
        if (!held) CHECK(same);
        // Weights of held blocks train (a bias before a BatchNorm may have no gradient at all).
        else if (net.parameter(i).value.dimension() == 2) CHECK_FALSE(same);
    }
}

TEST_CASE("resist: S = 1 is plain training, bit for bit") {
    auto [train, test_set] = train_test_split(load_digits(), 0.2, 3);
    Network a = residual_mlp(64, 4, 10, 9), b = a;
    const TrainerOptions o = test::test_options(1, 4, 3, 32, 5);
    IstTrainer<Network, ResistPartition> resist(a, o);
    IstTrainer<Network, FullModel> plain(b, o);
    resist.train(train, test_set);
    plain.train(train, test_set);
    CHECK(test::same_parameters(a, b));
}

TEST_CASE("resist: carried momentum follows its blocks, and threads equal serial") {
    auto [train, test_set] = train_test_split(load_digits(), 0.2, 3);
    Network a = residual_mlp(64, 6, 10, 2), b = a;
    TrainerOptions o = test::test_options(3, 3, 4, 32, 8);
    o.optimizer_state = OptimizerState::Carry;
    const ResistPartition partition({.min_depth = 3});
    IstTrainer<Network, ResistPartition, MomentumSgd> threads(a, o, partition, MomentumSgd(0.05f, 0.9f));
    IstTrainer<Network, ResistPartition, MomentumSgd, HolderAverage, SerialTransport> serial(
        b, o, partition, MomentumSgd(0.05f, 0.9f));
    threads.train(train, test_set);
    serial.train(train, test_set);
    CHECK(test::same_parameters(a, b));
}

TEST_CASE("resist: a residual MLP trained with ResIST (S = 4) reaches 0.93 on the digits") {
    auto [train, test_set] = train_test_split(load_digits(), 0.25, 1);
    Network net = make_residual_mlp({.inputs = 64, .width = 64, .hidden = 64, .classes = 10, .blocks = 8, .seed = 3});
    TrainerOptions o = test::test_options(4, 10, 60, 64, 2);
    IstTrainer<Network, ResistPartition, MomentumSgd> trainer(net, o, {}, MomentumSgd(0.05f, 0.9f));
    const auto result = trainer.train(train, test_set);
    MESSAGE("ResIST residual MLP, digits, S = 4: test accuracy " << result.final_test->accuracy << ", "
                                                                 << trainer.total_bytes() << " bytes");
    CHECK(result.final_test->accuracy >= 0.93);
}

TEST_CASE("resist: impossible configurations are refused with the reason") {
    const Network mlp = make_mlp({.inputs = 4, .hidden = {8}, .classes = 2});
    CHECK_THROWS_WITH_AS(ResistPartition{}.validate(mlp.dimensions(), 2),
                         "ResistPartition: the model has no residual blocks (add ist::Residual blocks)", ConfigError);
    const Network net = residual_mlp(4, 3, 2, 1);
    CHECK_THROWS_WITH_AS(ResistPartition({.sections = {"stage9"}}).validate(net.dimensions(), 2),
                         "ResistPartition: the model has no section of residual blocks named 'stage9'", ConfigError);
    CHECK_THROWS_WITH_AS(ResistPartition({.min_depth = 0}).validate(net.dimensions(), 2),
                         "ResistPartition: min_depth must be at least 1", ConfigError);
    Residual widening;
    widening.add(Dense(4, 6, true, 1));  // changes the width with no projection
    Network bad;
    bad.add(Dense(3, 4, true, 1));
    CHECK_THROWS_WITH_AS(bad.add(widening),
                         "Network::add: layer 1 (ist::Dense): parameter 'weight' has 6 entries along hidden1, which has 4",
                         ConfigError);
    // The refused block left nothing behind: the network still builds and trains as before.
    CHECK(bad.layer_count() == 1);
    CHECK(bad.dimensions().size() == 2);
    bad.add(residual_mlp_block(4, 5, 3)).add(Dense(4, 2, true, 4));
    test::check_gradients(bad, 3, 2, 5);
}

TEST_CASE("resist: channel IST cuts a pre-activation ResNet's channels through its blocks and projections") {
    const Network net = make_preact_resnet(tiny_resnet());
    const auto& dims = net.dimensions();
    PartitionRng rng(6);
    for (std::size_t S = 1; S <= 2; ++S) {
        CAPTURE(S);
        const Plan plan = NeuronPartition{}.plan(dims, S, rng);
        for (const auto& wp : plan)
            for (std::size_t d = 0; d < dims.size(); ++d)
                if (dims[d].kind == DimKind::Units) CHECK_FALSE(wp.dims[d].has_value());  // every block kept
        CHECK(test::same_parameters(test::extract_then_merge(net, plan), net));
    }
    const Plan plan = NeuronPartition{}.plan(dims, 2, rng);
    test::check_gradients(net.subnet(plan[1]), 16, 3, 4);
}

TEST_CASE("resist: shares by capacity give each worker blocks in proportion, disjointly, every block dealt") {
    const Network net = residual_mlp(6, 8, 3, 3);
    const auto& dims = net.dimensions();
    const auto section = static_cast<std::size_t>(sections(net).front());
    const ResistPartition by_capacity({.shares = {0.5, 0.25, 0.125, 0.125}});
    by_capacity.validate(dims, 4);
    PartitionRng rng(5);
    std::vector<std::uint32_t> first_round;
    for (int round = 0; round < 3; ++round) {
        const Plan plan = by_capacity.plan(dims, 4, rng);
        const std::vector<std::size_t> expected{4, 2, 1, 1};
        std::vector<std::uint32_t> all;
        for (std::size_t s = 0; s < 4; ++s) {
            CHECK(plan[s].dims[section]->size() == expected[s]);
            all.insert(all.end(), plan[s].dims[section]->begin(), plan[s].dims[section]->end());
        }
        std::sort(all.begin(), all.end());
        CHECK(all == std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7});  // disjoint and complete
        CHECK(test::same_parameters(test::extract_then_merge(net, plan), net));
        if (round == 0) first_round = *plan[0].dims[section];
        else CHECK(*plan[0].dims[section] != first_round);  // a fresh random draw each round
    }
    // 7 blocks at 0.4 / 0.3 / 0.2 / 0.1: 2.8, 2.1, 1.4, 0.7 round by largest remainder to 3, 2, 1, 1.
    const Network seven = residual_mlp(6, 7, 3, 3);
    const Plan uneven = ResistPartition({.shares = {0.4, 0.3, 0.2, 0.1}}).plan(seven.dimensions(), 4, rng);
    const auto section7 = static_cast<std::size_t>(sections(seven).front());
    CHECK(uneven[0].dims[section7]->size() == 3);
    CHECK(uneven[1].dims[section7]->size() == 2);
    CHECK(uneven[2].dims[section7]->size() == 1);
    CHECK(uneven[3].dims[section7]->size() == 1);
}

TEST_CASE("resist: impossible shares are refused, naming the value") {
    const Network net = residual_mlp(4, 5, 2, 1);
    CHECK_THROWS_WITH_AS(ResistPartition({.shares = {0.5, 0.4}}).validate(net.dimensions(), 2),
                         "ResistPartition: the shares sum to 0.900000, not 1; a disjoint cut deals every index to one worker",
                         ConfigError);
    CHECK_THROWS_WITH_AS(ResistPartition({.shares = {0.5, 0.5}}).validate(net.dimensions(), 3),
                         "ResistPartition: 2 shares for S = 3 workers; give one share per worker", ConfigError);
    CHECK_THROWS_WITH_AS(ResistPartition({.shares = {0.9, 0.1}}).validate(net.dimensions(), 2),
                         "ResistPartition: worker 1's share 0.100000 of section 'section1' (5 blocks) is 0 blocks, "
                         "fewer than min_depth = 1",
                         ConfigError);
    CHECK_THROWS_WITH_AS(ResistPartition({.min_depth = 2, .shares = {0.7, 0.3}}).validate(net.dimensions(), 2),
                         "ResistPartition: worker 1's share 0.300000 of section 'section1' (5 blocks) is 1 blocks, "
                         "fewer than min_depth = 2",
                         ConfigError);
}
