// Extreme classification: many labels per row, sparse features, scored by precision at k.
//
// XmlNetwork is sparse input -> hidden layers -> one output per label; IST cuts its hidden layers
// like an MLP's, so a worker holds 1/S of the hidden layer and of the huge output layer's inputs.
// Here a synthetic task of 40 labels, whose features a row's labels give away (with noise).
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <vector>

#include <ist/ist.hpp>

/// `rows` rows of the task: label l owns features 4l..4l+3, each row has one to three labels, two
/// of each label's features and two of the 16 noise features (counts as values).
ist::SparseDataset synthetic(std::size_t rows, std::uint64_t seed) {
    constexpr std::uint32_t kLabels = 40, kNoise = 16;
    std::mt19937_64 rng(seed);
    ist::SparseDataset data;
    data.features.cols = 4 * kLabels + kNoise;
    data.classes = kLabels;
    data.name = "synthetic";
    for (std::size_t r = 0; r < rows; ++r) {
        std::set<std::uint32_t> labels;  // sorted, distinct
        for (std::size_t want = 1 + rng() % 3; labels.size() < want;)
            labels.insert(static_cast<std::uint32_t>(rng() % kLabels));
        std::map<std::uint32_t, float> counts;  // feature -> count, sorted by feature
        for (std::uint32_t l : labels) counts[4 * l + rng() % 4] += 1.0f, counts[4 * l + rng() % 4] += 1.0f;
        counts[4 * kLabels + rng() % kNoise] += 1.0f, counts[4 * kLabels + rng() % kNoise] += 1.0f;
        std::vector<std::uint32_t> columns;
        std::vector<float> values;
        for (const auto& [column, count] : counts) columns.push_back(column), values.push_back(count);
        data.features.append_row(columns, values);
        data.labels.append_row(std::vector<std::uint32_t>(labels.begin(), labels.end()));
    }
    return data;
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
