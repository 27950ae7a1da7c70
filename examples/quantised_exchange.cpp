// Quantised exchange: subnets travel as 8-bit codes instead of 32-bit floats.
//
// The Codec is the trainer's sixth policy: ist::Uniform(8) codes every row of a tensor with 8 bits
// per value (its own scale and offset, stochastic rounding), both ways. With CodedValues::Updates a
// worker sends back what it changed (trained minus received) rather than its weights; error feedback
// adds what coding lost of its last update to its next one. The same run in fp32 is the yardstick.
// A coarser variant: Uniform(4, Rounding::Nearest, Scaling::PerTensor), one scale per tensor and
// round to nearest ("q4-tensor-nearest"), with a master copy: the coordinator adds the decoded
// updates to its fp32 weights, so the downlink's rounding does not build up in them.
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

/// Trains the same MLP from the same seed with `codec`; returns (final accuracy, bytes of the last round).
template <class Codec>
std::pair<double, std::uint64_t> run(const ist::Dataset& train, const ist::Dataset& test, Codec codec,
                                     ist::CodedValues coded, bool master_copy = false) {
    ist::Network net = ist::make_mlp({64, {256, 256}, 10});
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 30, .batch_size = 64, .eval_every = 0};
    options.coded_values = coded;
    options.error_feedback = coded == ist::CodedValues::Updates && !master_copy;
    options.master_copy = master_copy;
    ist::IstTrainer trainer(net, options, ist::NeuronPartition(), ist::Sgd(0.05f), ist::HolderAverage(),
                            ist::ThreadsTransport(), codec);
    const ist::TrainResult result = trainer.train(train, test);
    return {result.final_test->accuracy, result.history.back().bytes};
}

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    const auto [fp32_accuracy, fp32_bytes] = run(train, test, ist::Fp32(), ist::CodedValues::Weights);
    const auto [q8_accuracy, q8_bytes] = run(train, test, ist::Uniform(8), ist::CodedValues::Updates);
    const auto [q4_accuracy, q4_bytes] = run(train, test, ist::Uniform(4, ist::Rounding::Nearest, ist::Scaling::PerTensor),
                                             ist::CodedValues::Updates, true);
    const double ratio = static_cast<double>(q8_bytes) / static_cast<double>(fp32_bytes);
    std::cout << "fp32: accuracy " << fp32_accuracy << ", " << fp32_bytes << " bytes per round\n"
              << "q8 updates + error feedback: accuracy " << q8_accuracy << ", " << q8_bytes << " bytes per round ("
              << ratio << " of fp32)\n"
              << "q4-tensor-nearest updates + master copy: accuracy " << q4_accuracy << ", " << q4_bytes
              << " bytes per round\n";
    // 8 of 32 bits is a quarter; each row's scale and offset add a little. Per tensor, 4 bits
    // cost an eighth plus one header per tensor.
    const bool q4_small = static_cast<double>(q4_bytes) < 0.13 * static_cast<double>(fp32_bytes);
    return ratio > 0.25 && ratio < 0.3 && q8_accuracy > fp32_accuracy - 0.03 && q4_small ? 0 : 1;
}
