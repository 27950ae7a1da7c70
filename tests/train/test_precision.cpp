// bf16 mixed precision (TrainerOptions::precision): gradients against finite differences of the
// fp32 loss, training on the embedded digits against fp32, determinism, checkpoints, and the
// OpenBLAS backend's refusal. Under `--gemm=openblas` (ctest gemm-openblas.train) only the refusal
// runs: the rest needs oneDNN.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "gradient_check.hpp"
#include "helpers.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

/// Whether this process computes bf16 GEMMs (oneDNN backend, a CPU oneDNN has bf16 for).
bool bf16_runs() {
    if (detail::gemm_precision_supported(Precision::Bf16, detail::gemm_backend())) return true;
    MESSAGE("the GEMM backend " << detail::gemm_backend_name(detail::gemm_backend())
                                << " has no bf16 here: the bf16 training cases are skipped");
    return false;
}

struct DigitsRun {
    double accuracy;
    Network net;
};

/// The trainer test's digits run (64-256-256-10, BN, S = 4, l = 10, batch 64), 30 rounds.
DigitsRun train_digits(Precision precision) {
    auto [train, test] = train_test_split(load_digits(), 0.25, 42);
    standardize(train, test);
    Network net = make_mlp({64, {256, 256}, 10});
    TrainerOptions o = test::test_options(4, 10, 30, 64, 42);
    o.precision = precision;
    IstTrainer trainer(net, o, NeuronPartition{}, Sgd(0.05f));
    const double accuracy = trainer.train(train, test).final_test->accuracy;
    return {accuracy, std::move(net)};
}

}  // namespace

TEST_CASE("precision: bf16 training on the embedded digits ends within 1 point of fp32, and is deterministic") {
    if (!bf16_runs()) return;
    const DigitsRun fp32 = train_digits(Precision::Fp32), bf16 = train_digits(Precision::Bf16);
    MESSAGE("digits test accuracy: fp32 " << fp32.accuracy << ", bf16 " << bf16.accuracy);
    // 1 point is 4.5 of the 450 test rows; both runs are deterministic, so this is no flaky margin.
    CHECK(std::abs(bf16.accuracy - fp32.accuracy) <= 0.01);
    CHECK(bf16.accuracy >= 0.95);
    CHECK_FALSE(test::same_parameters(bf16.net, fp32.net));  // bf16 really ran
    CHECK(test::same_parameters(train_digits(Precision::Bf16).net, bf16.net));
}

namespace {

/// Central differences of the fp32 loss for every entry of every parameter, per entry the one
/// closest to `analytic` (gradient_check.hpp).
std::vector<Tensor> finite_differences(Network& net, const Matrix& x, const Labels& y, const std::vector<Tensor>& analytic) {
    std::vector<Tensor> numeric;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        Tensor& w = net.parameter(i).value;
        Tensor& out = numeric.emplace_back(xt::zeros<float>(w.shape()));
        for (std::size_t k = 0; k < w.size(); ++k)
            out.data()[k] = static_cast<float>(test::closest_central_difference(net, x, y, w, k, analytic[i].data()[k]));
    }
    return numeric;
}

/// The largest error of `analytic` over its tolerance, over every entry: fp32's finite-difference
/// tolerance (2e-3 + 2 % of the entry, gradient_check.hpp) plus bf16's 5 x 2^-7 of the parameter's
/// largest gradient (see the test).
double worst_over_tolerance(const std::vector<Tensor>& analytic, const std::vector<Tensor>& numeric) {
    double worst = 0.0;
    for (std::size_t i = 0; i < analytic.size(); ++i) {
        const double largest = xt::amax(xt::abs(numeric[i]))();
        for (std::size_t k = 0; k < analytic[i].size(); ++k) {
            const double g = numeric[i].data()[k];
            const double tolerance = 2e-3 + 2e-2 * std::abs(g) + 5 * std::ldexp(1.0, -7) * largest;
            worst = std::max(worst, std::abs(analytic[i].data()[k] - g) / tolerance);
        }
    }
    return worst;
}

}  // namespace

// The analytic gradient of a bf16 step against central differences of the fp32 loss (the loss the
// bf16 step approximates; a bf16 loss is piecewise constant in steps of a weight's bf16 spacing,
// 2^-8 of it, so it has no useful differences). Tolerance: each GEMM rounds its inputs by at most
// u_b = 2^-8 each, an error of 2^-7 of its terms' magnitudes; a gradient of this net passes through
// at most 5 GEMMs (3 forward, 2 backward input gradients before the first layer's weight gradient),
// and backpropagation's terms are on the scale of the parameter's largest gradient, not of each
// entry (an entry can be a small sum of larger terms, as BatchNorm's are): 5 x 2^-7 = 3.9 % of the
// parameter's largest gradient, on top of fp32's finite-difference tolerance. Measured: at most
// 2.1 % (the first BatchNorm's gamma). The same tolerance fails the gradient 15 % too large.
TEST_CASE("precision: a small bf16 MLP's gradients match finite differences of the fp32 loss") {
    if (!bf16_runs()) return;
    Network net = make_mlp({6, {8, 8}, 3, Norm::Batch, 5});
    const Matrix x = test::random_matrix(12, 6, 3);
    Labels y;
    for (std::size_t i = 0; i < 12; ++i) y.push_back(static_cast<std::uint32_t>((i * 7) % 3));
    std::vector<Tensor> bf16_grad, fp32_grad;
    {
        const detail::GemmPrecisionGuard bf16(Precision::Bf16);
        net.loss_and_gradient(x, y);
        for (std::size_t i = 0; i < net.parameter_count(); ++i) bf16_grad.push_back(net.parameter(i).grad);
    }
    net.loss_and_gradient(x, y);
    for (std::size_t i = 0; i < net.parameter_count(); ++i) fp32_grad.push_back(net.parameter(i).grad);
    CHECK(bf16_grad != fp32_grad);  // bf16 really ran

    const std::vector<Tensor> numeric = finite_differences(net, x, y, bf16_grad);
    const double worst = worst_over_tolerance(bf16_grad, numeric);
    MESSAGE("worst bf16 gradient error: " << worst << " of the tolerance");
    CHECK(worst <= 1.0);
    std::vector<Tensor> too_large = bf16_grad;
    for (Tensor& g : too_large) g *= 1.15f;
    CHECK(worst_over_tolerance(too_large, numeric) > 1.0);
}

TEST_CASE("precision: a bf16 run checkpointed and resumed ends with the weights of an unbroken bf16 run") {
    if (!bf16_runs()) return;
    const Dataset train = test::blobs(300, 10, 3, 1), test_set = test::blobs(90, 10, 3, 2);
    const Network initial = make_mlp({10, {14, 12}, 3});
    auto options = [](std::size_t rounds) {
        TrainerOptions o = test::test_options(3, 4, rounds, 16, 11);
        o.precision = Precision::Bf16;
        o.optimizer_state = OptimizerState::Carry;
        return o;
    };
    Network unbroken = initial;
    IstTrainer(unbroken, options(8), NeuronPartition(), MomentumSgd(0.05f, 0.9f)).train(train, test_set);

    const fs::path path = fs::temp_directory_path() / ("ist_bf16_resume_" + std::to_string(::getpid()) + ".npz");
    Network first = initial;
    IstTrainer(first, options(5), NeuronPartition(), MomentumSgd(0.05f, 0.9f))
        .train(train, test_set, Checkpoint(path.string(), 5));
    Network resumed = initial;
    IstTrainer part2(resumed, options(8), NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    part2.load_checkpoint(path.string());
    part2.train(train, test_set);
    fs::remove(path);
    CHECK(test::same_parameters(resumed, unbroken));
}

TEST_CASE("precision: the OpenBLAS backend refuses a bf16 run before training, naming itself") {
    const detail::GemmBackendGuard openblas(detail::GemmBackend::OpenBlas);
    Network net = make_mlp({10, {14}, 3});
    const Network before = net;
    TrainerOptions o = test::test_options(2, 2, 2, 16, 1);
    o.precision = Precision::Bf16;
    CHECK_THROWS_WITH_AS(IstTrainer(net, o), doctest::Contains("the GEMM backend openblas has no bf16 GEMM"), ConfigError);
    CHECK(test::same_parameters(net, before));
}
