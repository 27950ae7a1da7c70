// IST on an MLP: the README's first example, whole.
//
// The embedded digits data set (1,797 8x8 images), a 64-256-256-10 MLP, S = 4 workers (threads),
// each training its quarter of every hidden layer for 10 local steps per round. The trainer's
// policies are its defaults: Network, NeuronPartition, Sgd, HolderAverage, ThreadsTransport, Fp32.
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {256, 256}, 10});  // Dense -> BatchNorm -> ReLU ...
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 60, .batch_size = 64};
    options.eval_every = 20;
    ist::IstTrainer trainer(net, options, ist::NeuronPartition(), ist::Sgd(0.05f));
    const ist::TrainResult result = trainer.train(train, test, ist::PrintMetrics());

    // Each round a worker receives and returns only its subnet: well under the full model's
    // bytes, both ways, per worker.
    const std::uint64_t full_model_bytes = 4 * net.parameter_elements();
    const ist::RoundMetrics& last = result.history.back();
    std::cout << "final test accuracy " << result.final_test->accuracy << ", busiest worker "
              << last.max_worker_bytes << " bytes in round " << last.round << " (the full model: "
              << 2 * full_model_bytes << " both ways)\n";
    const bool learned = result.final_test->accuracy > 0.9;
    const bool subnets_only = last.max_worker_bytes < full_model_bytes;  // less than half a full exchange
    return learned && subnets_only ? 0 : 1;
}
