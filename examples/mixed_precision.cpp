// bf16 mixed precision: the same IST run on the embedded digits in fp32 and with
// TrainerOptions::precision = Precision::Bf16 (bfloat16 GEMM inputs, fp32 accumulation, fp32
// weights, gradients and optimizer), their test accuracies side by side, and why bf16 needs no loss
// scaling: after every round the smallest nonzero |gradient| of the model on a training batch,
// computed in bf16, against bfloat16's smallest normal number (2^-126, fp32's own).
// Checks: bf16 ends within 1 point of fp32, and no gradient comes within 2^20 of 2^-126.
// A build whose GEMM backend is OpenBLAS shows the refusal instead.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

namespace {

/// After each round: the smallest nonzero |g| of the model's bf16 gradients on a training batch.
struct SmallestGradient {
    ist::Matrix x;
    ist::Labels y;
    float smallest = std::numeric_limits<float>::max();

    template <class Trainer>
    void on_round_end(const ist::RoundMetrics&, Trainer& trainer) {
        ist::Network net = trainer.model();  // a copy: the trainer's model keeps its own gradients
        const ist::detail::GemmPrecisionGuard bf16(ist::Precision::Bf16);
        net.loss_and_gradient(x, y);
        for (std::size_t i = 0; i < net.parameter_count(); ++i)
            for (float g : net.parameter(i).grad)
                if (g != 0.0f) smallest = std::min(smallest, std::abs(g));
    }
};

}  // namespace

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    const ist::Network initial = ist::make_mlp({64, {256, 256}, 10});
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 30, .batch_size = 64, .eval_every = 0};

    ist::Network fp32_net = initial;
    ist::IstTrainer fp32(fp32_net, options, ist::NeuronPartition{}, ist::Sgd(0.05f));
    const double fp32_accuracy = fp32.train(train, test).final_test->accuracy;

    options.precision = ist::Precision::Bf16;
    ist::Network bf16_net = initial;
    try {
        ist::IstTrainer bf16(bf16_net, options, ist::NeuronPartition{}, ist::Sgd(0.05f));
        SmallestGradient watch;
        std::vector<std::uint32_t> first_rows(64);
        std::iota(first_rows.begin(), first_rows.end(), 0u);
        ist::copy_rows(train, first_rows, watch.x, watch.y);
        const double bf16_accuracy = bf16.train(train, test, watch).final_test->accuracy;
        const float smallest_normal = std::numeric_limits<float>::min();  // 2^-126: bf16's too (same exponent)
        std::printf("test accuracy: fp32 %.4f, bf16 %.4f\n", fp32_accuracy, bf16_accuracy);
        std::printf("smallest nonzero |gradient| in bf16 over 30 rounds: %.3g (2^%.1f); bf16's smallest normal "
                    "2^-126 = %.3g\n",
                    watch.smallest, std::log2(watch.smallest), smallest_normal);
        return std::abs(bf16_accuracy - fp32_accuracy) <= 0.01 && watch.smallest > std::ldexp(smallest_normal, 20) ? 0 : 1;
    } catch (const ist::ConfigError& e) {  // the OpenBLAS backend: refused before training
        std::printf("test accuracy: fp32 %.4f; bf16 refused: %s\n", fp32_accuracy, e.what());
        return ist::detail::gemm_backend() == ist::detail::GemmBackend::OpenBlas ? 0 : 1;
    }
}
