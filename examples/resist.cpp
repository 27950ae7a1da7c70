// ResIST: IST on a residual network, dealing whole residual blocks instead of neurons.
//
// A pre-activation ResNet of the 8x8 digits with three sections of 1, 4 and 1 blocks. ResIST
// deals the blocks of the longest section (the 4) to the S subnets, at least min_depth each;
// the stem, the strided (projecting) blocks and the head are shared by all and averaged. In
// evaluation every block is active and each dealt branch is scaled by max(1/S, min_depth/n).
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    ist::Network net = ist::make_preact_resnet({.channels = 1, .height = 8, .width = 8, .classes = 10,
                                                .stage_channels = {8, 16, 32}, .stage_blocks = {1, 4, 1}});
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 20, .batch_size = 32, .eval_every = 0};
    ist::IstTrainer trainer(net, options, ist::ResistPartition({.min_depth = 1}), ist::MomentumSgd(0.05f, 0.9f, 5e-4f));
    trainer.set_schedule(ist::step_decay(options.rounds));  // /10 at 50% and 75% of the rounds
    const ist::TrainResult result = trainer.train(train, test);

    // A subnet holds one of the section's 4 blocks and every shared layer: less than the model.
    const std::uint64_t full_model_bytes = 4 * net.parameter_elements();
    const ist::RoundMetrics& last = result.history.back();
    std::cout << "ResIST: final test accuracy " << result.final_test->accuracy << ", busiest worker "
              << last.max_worker_bytes / 2 << " bytes each way of a " << full_model_bytes << "-byte model\n";
    return result.final_test->accuracy > 0.85 && last.max_worker_bytes / 2 < full_model_bytes ? 0 : 1;
}
