// A transformer trained with IST: each subnet holds a share of every block's attention heads and
// feed-forward neurons (TransformerCut::Both); a subnet with 1/S of the heads scales their sum by S.
//
// The task: a sequence of 2 to 6 tokens (ids 1..11); the label is which of the tokens 1, 2, 3
// occurs most often (ties to the smaller).
#include <algorithm>
#include <array>
#include <iostream>
#include <random>

#include <ist/ist.hpp>

ist::Dataset counting_task(std::size_t rows, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    ist::Dataset data{ist::Matrix::from_shape({rows, 6}), {}, 3, "counting", {}};
    for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t length = 2 + rng() % 5;
        std::array<int, 3> counts{};
        for (std::size_t t = 0; t < 6; ++t) {
            const auto token = t < length ? static_cast<std::uint32_t>(1 + rng() % 11) : ist::kPadToken;
            data.features(r, t) = static_cast<float>(token);
            if (token >= 1 && token <= 3) ++counts[token - 1];
        }
        data.labels.push_back(static_cast<std::uint32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin()));
    }
    return data;
}

int main() {
    const ist::Dataset train = counting_task(1200, 3), test = counting_task(300, 4);
    ist::Transformer model({.vocabulary = 12, .sequence_length = 6, .width = 16, .heads = 4, .ffn = 32, .blocks = 2,
                            .classes = 3, .seed = 7});
    ist::TrainerOptions options{.workers = 2, .local_steps = 10, .rounds = 40, .batch_size = 32, .seed = 8};
    options.scale_activations = true;
    options.eval_every = 0;
    ist::IstTrainer<ist::Transformer, ist::TransformerPartition, ist::Adam> trainer(
        model, options, ist::TransformerPartition(ist::TransformerCut::Both), ist::Adam(3e-3f));
    const double accuracy = trainer.train(train, test).final_test->accuracy;

    // The rate of always answering the most common label: what a model that learned nothing scores.
    std::array<std::size_t, 3> per_label{};
    for (std::uint32_t y : test.labels) ++per_label[y];
    const double majority = static_cast<double>(*std::max_element(per_label.begin(), per_label.end())) /
                            static_cast<double>(test.size());
    std::cout << "transformer, IST by heads and FFN neurons (S = 2): test accuracy " << accuracy
              << " (most common label: " << majority << ")\n";
    return accuracy >= 0.6 && accuracy > majority + 0.1 ? 0 : 1;
}
