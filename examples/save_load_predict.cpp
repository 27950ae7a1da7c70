// Save a trained model, load it back, and predict: the loaded model gives the same logits bit for
// bit, and its argmax predictions score the trainer's own test accuracy.
#include <cstdio>
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {128, 128}, 10});
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 30, .batch_size = 64, .eval_every = 0};
    const double trained_accuracy = ist::IstTrainer(net, options).train(train, test).final_test->accuracy;

    const char* path = "save_load_predict.npz";
    ist::save_model(net, path);  // architecture.json + named tensors; atomic
    ist::Network loaded = ist::load_model(path);
    std::remove(path);

    // The whole test set as one batch (450 rows, under the trainer's evaluation batch of 1000):
    // BatchNorm takes its statistics over the same rows the trainer's evaluation did.
    const ist::Matrix logits = net.forward(test.features, ist::Mode::Eval);
    const ist::Matrix loaded_logits = loaded.forward(test.features, ist::Mode::Eval);
    std::size_t correct = 0;
    for (std::size_t i = 0; i < test.size(); ++i) {
        std::size_t best = 0;
        for (std::size_t k = 1; k < logits.shape()[1]; ++k)
            if (loaded_logits(i, k) > loaded_logits(i, best)) best = k;
        correct += best == test.labels[i];
    }
    const double predicted_accuracy = static_cast<double>(correct) / static_cast<double>(test.size());
    const bool same_logits = logits == loaded_logits;
    std::cout << "loaded model: same logits " << (same_logits ? "yes" : "no") << ", predicted accuracy "
              << predicted_accuracy << " (trainer: " << trained_accuracy << ")\n";
    return same_logits && predicted_accuracy == trained_accuracy && trained_accuracy > 0.9 ? 0 : 1;
}
