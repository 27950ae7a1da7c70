// Pruning: masks, magnitude pruning, fine-tuning under masks with every trainer and optimizer,
// masks in checkpoints, and the lottery-ticket controls.
#include <doctest/doctest.h>

#include <filesystem>
#include <unistd.h>

#include "helpers.hpp"
#include "../scratch.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

/// Wide enough that pruning leaves every neuron connected, and without normalisation: a batch norm
/// makes a neuron with one kept input weight scale-invariant in it (zero gradient).
Network small_mlp(std::uint64_t seed = 1) { return make_mlp({10, {64, 48}, 3, Norm::None, seed}); }

/// Every masked weight is exactly +0.0f, and, if `before` is given (its gradients taken on the
/// whole training set), the kept weights with a gradient moved. (A kept weight without one is cut
/// off by pruning or behind a dead ReLU: it has no reason to move. A few with one may not move
/// under IST either, when no subnet keeps a live path through them.)
template <class M>
void check_masks_held(const Masked<M>& model, const Masked<M>* before = nullptr) {
    std::size_t moved = 0, live = 0;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        const Tensor& mask = model.masks()[i];
        if (!is_mask_set(mask)) continue;
        const Tensor& w = model.parameter(i).value;
        for (std::size_t k = 0; k < w.size(); ++k) {
            if (mask.data()[k] == 0.0f) {
                REQUIRE(w.data()[k] == 0.0f);
                REQUIRE_FALSE(std::signbit(w.data()[k]));
            } else if (before && before->parameter(i).grad.data()[k] != 0.0f) {
                ++live;
                moved += w.data()[k] != before->parameter(i).value.data()[k];
            }
        }
    }
    if (before) CHECK(live > 0);
    if (before) CHECK(static_cast<double>(moved) >= 0.99 * static_cast<double>(live));
}

/// A copy of `model` holding its gradients on the whole of `data`.
template <class M>
Masked<M> with_gradients(const Masked<M>& model, const Dataset& data) {
    Masked<M> copy = model;
    copy.loss_and_gradient(data.features, data.labels);
    return copy;
}

template <class Trainer, class P>
void check_fine_tuning(double sparsity, PruneScope scope, P partitioner) {
    const Dataset train = test::blobs(300, 10, 3, 1), test_set = test::blobs(90, 10, 3, 2);
    Masked<Network> model(small_mlp());
    prune(model, sparsity, scope);
    CHECK(weight_sparsity(model.model()) == doctest::Approx(sparsity).epsilon(0.01));
    const Masked<Network> before = with_gradients(model, train);
    // 30 rounds: an IST round trains a hidden-to-hidden weight only if both its neurons fall in one
    // subnet (1 in S), so every kept weight is trained in some round.
    Trainer trainer(model, test::test_options(3, 4, 30, 16, 7), partitioner, Sgd(0.05f));
    trainer.train(train, test_set);
    check_masks_held(model, &before);
}

fs::path scratch(const std::string& name) {
    return ist::test::scratch_path("prune", name);
}

}  // namespace

TEST_CASE("prune: masks hold only 0 and 1 and fit their parameters") {
    Network net = small_mlp();
    PruningMasks masks(net.parameter_count());
    masks[0] = xt::ones<float>(net.parameter(0).value.shape());
    masks[0](0, 0) = 0.5f;
    CHECK_THROWS_WITH_AS(Masked<Network>(net, masks), doctest::Contains("element 0 is 0.5"), ConfigError);
    masks[0] = xt::ones<float>({3, 3});
    CHECK_THROWS_WITH_AS(Masked<Network>(net, masks), doctest::Contains("not shaped like its parameter"), ConfigError);
    CHECK_THROWS_WITH_AS(Masked<Network>(net, PruningMasks(2)), doctest::Contains("2 masks for"), ConfigError);
    const std::vector<std::uint8_t> bytes{1, 0, 2, 1};
    CHECK_THROWS_WITH_AS(mask_from_bytes(bytes, {2, 2}), doctest::Contains("byte 2 is 2"), ConfigError);
    const Tensor ok = mask_from_bytes(std::vector<std::uint8_t>{1, 0, 0, 1}, {2, 2});
    CHECK(pruned_count(ok) == 2);
}

TEST_CASE("prune: a sparsity outside 0 to 1 (1 excluded) is refused") {
    Masked<Network> model(small_mlp());
    for (double s : {1.0, -0.1, 1.5, std::nan("")})
        CHECK_THROWS_WITH_AS(prune(model, s), doctest::Contains("sparsity must be in [0, 1)"), ConfigError);
    CHECK_THROWS_AS(iterative_sparsity(1.0, 2), ConfigError);
    CHECK_THROWS_AS(prune_iteratively(model, 0.5, 0, PruneScope::Global, [](std::size_t) {}), ConfigError);
}

TEST_CASE("prune: global magnitude pruning removes the smallest weights of every dense layer, never a norm parameter") {
    const Network net = small_mlp();
    const PruningMasks masks = magnitude_masks(net, 0.75, PruneScope::Global);
    std::size_t total = 0, pruned = 0;
    float largest_pruned = 0.0f, smallest_kept = 1e9f;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        const Parameter& p = net.parameter(i);
        CHECK(is_mask_set(masks[i]) == (p.value.dimension() == 2));
        if (!is_mask_set(masks[i])) continue;
        total += p.value.size();
        pruned += pruned_count(masks[i]);
        for (std::size_t k = 0; k < p.value.size(); ++k)
            (masks[i].data()[k] == 0.0f ? largest_pruned : smallest_kept) =
                masks[i].data()[k] == 0.0f ? std::max(largest_pruned, std::fabs(p.value.data()[k]))
                                           : std::min(smallest_kept, std::fabs(p.value.data()[k]));
    }
    CHECK(pruned == static_cast<std::size_t>(std::llround(0.75 * static_cast<double>(total))));
    CHECK(largest_pruned <= smallest_kept);
}

TEST_CASE("prune: per-layer pruning reaches the sparsity in every weight tensor") {
    const Network net = small_mlp();
    const PruningMasks masks = magnitude_masks(net, 0.5, PruneScope::PerLayer);
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        if (is_mask_set(masks[i]))
            CHECK(pruned_count(masks[i]) == static_cast<std::size_t>(std::llround(0.5 * static_cast<double>(masks[i].size()))));
}

TEST_CASE("prune: iterative pruning prunes a rate of the remaining weights per step and never un-prunes") {
    Masked<Network> model(small_mlp());
    PruningMasks previous = model.masks();
    std::size_t calls = 0;
    prune_iteratively(model, 0.5, 3, PruneScope::Global, [&](std::size_t step) {
        CHECK(step == ++calls);
        CHECK(weight_sparsity(model.model()) == doctest::Approx(1.0 - std::pow(0.5, step)).epsilon(0.01));
        for (std::size_t i = 0; i < previous.size(); ++i)
            if (is_mask_set(previous[i])) CHECK(xt::all(model.masks()[i] <= previous[i]));
        previous = model.masks();
        // Fine-tuning between steps moves the kept weights, so the next step ranks new magnitudes.
        for (std::size_t i = 0; i < model.parameter_count(); ++i) model.parameter(i).value *= 1.5f;
        model.project_parameters();
    });
    CHECK(calls == 3);
    CHECK(iterative_sparsity(0.5, 3) == doctest::Approx(0.875));
}

TEST_CASE("prune: fine-tuning with IST keeps pruned weights at exactly zero (SGD)") {
    check_fine_tuning<IstTrainer<Masked<Network>>>(0.8, PruneScope::Global, NeuronPartition());
}

TEST_CASE("prune: fine-tuning with local SGD keeps pruned weights at exactly zero") {
    check_fine_tuning<LocalSgdTrainer<Masked<Network>>>(0.9, PruneScope::PerLayer, FullModel());
}

TEST_CASE("prune: fine-tuning data parallel keeps pruned weights at exactly zero") {
    check_fine_tuning<DataParallelTrainer<Masked<Network>>>(0.5, PruneScope::Global, FullModel());
}

TEST_CASE("prune: momentum and Adam, weight decay and carried state keep pruned weights and their state at zero") {
    const Dataset train = test::blobs(300, 10, 3, 1), test_set = test::blobs(90, 10, 3, 2);
    TrainerOptions o = test::test_options(3, 2, 30, 16, 7);  // 30 rounds, as check_fine_tuning
    o.optimizer_state = OptimizerState::Carry;
    const fs::path path = scratch("state.npz");
    const auto run = [&](auto optimizer) {
        Masked<Network> model(small_mlp());
        prune(model, 0.8);
        const Masked<Network> before = with_gradients(model, train);
        IstTrainer trainer(model, o, NeuronPartition(), optimizer);
        trainer.train(train, test_set, Checkpoint(path.string(), 30));
        check_masks_held(model, &before);
        // The carried state (checkpoint members optimizer_<j>, K per parameter) is zero where pruned.
        const NpzArchive npz(path.string());
        const std::size_t K = decltype(optimizer)::state_per_parameter;
        for (std::size_t j = 0; j < K * model.parameter_count(); ++j) {
            const Tensor& mask = model.masks()[j / K];
            if (!is_mask_set(mask)) continue;
            Tensor state = Tensor::from_shape(mask.shape());
            npz.read_into("optimizer_" + std::to_string(j), state);
            CHECK(xt::all(xt::equal(xt::where(xt::equal(mask, 0.0f), state, 0.0f), 0.0f)));
            CHECK(xt::any(xt::not_equal(state, 0.0f)));
        }
    };
    run(MomentumSgd(0.05f, 0.9f, 5e-4f));
    run(Adam(1e-2f, 0.9f, 0.999f, 1e-8f, 5e-4f));
}

TEST_CASE("prune: masks go into checkpoints and a masked run resumes bit-identically") {
    const Dataset train = test::blobs(300, 10, 3, 1), test_set = test::blobs(90, 10, 3, 2);
    TrainerOptions o = test::test_options(3, 4, 8, 16, 7);
    o.optimizer_state = OptimizerState::Carry;
    Masked<Network> pruned(small_mlp());
    prune(pruned, 0.7);
    Masked<Network> unbroken = pruned;
    IstTrainer full(unbroken, o, NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    full.train(train, test_set);

    const fs::path path = scratch("resume.npz");
    Masked<Network> first = pruned;
    TrainerOptions five = o;
    five.rounds = 5;
    IstTrainer part1(first, five, NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    part1.train(train, test_set, Checkpoint(path.string(), 5));

    Masked<Network> resumed(small_mlp(99));  // other weights, no masks: both come from the checkpoint
    IstTrainer part2(resumed, o, NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    part2.load_checkpoint(path.string());
    for (std::size_t i = 0; i < pruned.parameter_count(); ++i) CHECK(resumed.masks()[i] == pruned.masks()[i]);
    part2.train(train, test_set);
    CHECK(test::same_parameters(resumed, unbroken));

    Network plain = small_mlp();  // a model without masks refuses a checkpoint that has them
    IstTrainer refuses(plain, o, NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    CHECK_THROWS_WITH_AS(refuses.load_checkpoint(path.string()), doctest::Contains("holds pruning masks"), DataError);
}

TEST_CASE("prune: rewind and random re-initialisation train the same mask from other weights") {
    const Network initial = small_mlp(1);
    Masked<Network> model(initial);
    for (std::size_t i = 0; i < model.parameter_count(); ++i) model.parameter(i).value += 0.25f;  // "trained"
    prune(model, 0.6);
    const PruningMasks masks = model.masks();
    rewind(model, initial);
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        Tensor expected = initial.parameter(i).value;
        if (is_mask_set(masks[i])) apply_mask(masks[i], expected);
        CHECK(model.parameter(i).value == expected);
    }
    rewind(model, small_mlp(5));  // a sparse random net with the same mask
    check_masks_held(model);
    CHECK(model.parameter(0).value != model.parameter(0).value * 0.0f);
    CHECK_THROWS_WITH_AS(rewind(model, make_mlp({10, {64, 40}, 3, Norm::None})), doctest::Contains("shaped differently"), ConfigError);
}

TEST_CASE("prune: a masked ResNet trains with ResIST subnets that lack whole blocks") {
    const Dataset train = test::blobs(120, 64, 3, 3), test_set = test::blobs(30, 64, 3, 4);
    Masked<Network> model(make_preact_resnet(
        {.channels = 1, .height = 8, .width = 8, .classes = 3, .stage_channels = {4, 8}, .stage_blocks = {3, 1}, .seed = 3}));
    prune(model, 0.8);
    const Network before = model.model();
    IstTrainer<Masked<Network>, ResistPartition> trainer(model, test::test_options(2, 2, 3, 8, 5));
    trainer.train(train, test_set);
    check_masks_held(model);
    CHECK_FALSE(test::same_parameters(model.model(), before));
}
