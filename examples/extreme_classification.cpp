// Extreme classification: many labels per row, sparse features, scored by precision at k.
//
// XmlNetwork is sparse input -> hidden layers -> one output per label; IST cuts its hidden layers
// like an MLP's, so a worker holds 1/S of the hidden layer and of the huge output layer's inputs.
// A synthetic task: label l owns features 4l..4l+3; a row has one to three labels, two of each
// label's features and two noise features.
#include <algorithm>
#include <iostream>
#include <random>
#include <vector>

#include <ist/ist.hpp>

ist::SparseDataset synthetic(std::size_t rows, std::uint64_t seed) {
    constexpr std::size_t kLabels = 40, kFeatures = 4 * kLabels + 16;
    std::mt19937_64 rng(seed);
    ist::SparseDataset d;
    d.features.cols = kFeatures;
    d.classes = kLabels;
    d.name = "synthetic";
    for (std::size_t r = 0; r < rows; ++r) {
        std::vector<std::uint32_t> labels;
        while (labels.size() < 1 + rng() % 3) {
            const auto l = static_cast<std::uint32_t>(rng() % kLabels);
            if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
        }
        std::vector<float> row(kFeatures, 0.0f);
        for (std::uint32_t l : labels)
            for (int k = 0; k < 2; ++k) row[4 * l + rng() % 4] += 1.0f;
        for (int k = 0; k < 2; ++k) row[4 * kLabels + rng() % 16] += 1.0f;
        std::vector<std::uint32_t> columns;
        std::vector<float> values;
        for (std::uint32_t j = 0; j < kFeatures; ++j)
            if (row[j] != 0.0f) columns.push_back(j), values.push_back(row[j]);
        std::sort(labels.begin(), labels.end());
        d.features.append_row(columns, values);
        d.labels.append_row(labels);
    }
    return d;
}

int main() {
    const ist::SparseDataset train = synthetic(2000, 1), test = synthetic(500, 2);
    ist::XmlNetwork net(train.feature_count(), 128, train.classes, /*seed*/ 5);
    ist::TrainerOptions options{.workers = 4, .local_steps = 5, .rounds = 40, .batch_size = 32, .eval_every = 0};
    ist::IstTrainer<ist::XmlNetwork> trainer(net, options, ist::NeuronPartition(), ist::Sgd(0.5f));
    const double before = trainer.evaluate(test).accuracy;  // P@1 of the untrained network
    const ist::Evaluation after = *trainer.train(train, test).final_test;
    const ist::RankingMetrics& r = *after.ranking;
    std::cout << "XmlNetwork, " << train.classes << " labels: P@1 " << before << " -> " << r.precision[0] << ", P@3 "
              << r.precision[1] << ", P@5 " << r.precision[2] << ", nDCG@5 " << r.ndcg[2] << '\n';
    return before < 0.2 && r.precision[0] > 0.8 ? 0 : 1;
}
