// Callbacks: stop early when the test loss stops improving, and log every round's metrics.
//
// Any object with some of on_train_begin(trainer), on_round_end(metrics) -> bool (true: stop),
// on_train_end(result) is a callback; train() takes any number of them after the data. Here the
// library's EarlyStop (patience 3 evaluations) and MetricsLog (CSV), and one of our own that keeps
// the test losses it saw, to check EarlyStop's rule by hand.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

/// Our own callback: the test loss of every evaluation.
struct TestLosses {
    std::vector<double> losses;
    void on_round_end(const ist::RoundMetrics& m) {
        if (m.test) losses.push_back(m.test->loss);
    }
};

/// EarlyStop's rule, by hand: stop at the evaluation that is the patience-th in a row not below the best.
std::size_t expected_stop(const std::vector<double>& losses, std::size_t patience) {
    double best = std::numeric_limits<double>::infinity();
    std::size_t stale = 0;
    for (std::size_t i = 0; i < losses.size(); ++i) {
        if (losses[i] < best) best = losses[i], stale = 0;
        else if (++stale == patience) return i + 1;
    }
    return 0;  // never
}

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 3);
    ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {128, 128}, 10});
    // A large rate: the test loss soon stops improving (long before 300 rounds).
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 300, .batch_size = 64};
    ist::IstTrainer trainer(net, options, ist::NeuronPartition(), ist::Sgd(0.2f));

    const std::string log_path = "callbacks_metrics.csv";
    TestLosses seen;
    const ist::TrainResult result = trainer.train(train, test, ist::EarlyStop(3), ist::MetricsLog(log_path), seen);

    std::size_t log_rows = 0;
    std::ifstream log(log_path);
    for (std::string line; std::getline(log, line);) ++log_rows;
    std::remove(log_path.c_str());
    const std::size_t rounds = result.history.size();
    std::cout << "stopped early: " << (result.stopped_early ? "yes" : "no") << " after " << rounds << " of "
              << options.rounds << " rounds; " << log_path << ": " << log_rows - 1 << " rows\n";
    const bool rule_held = result.stopped_early && expected_stop(seen.losses, 3) == rounds;
    return rule_held && log_rows == rounds + 1 ? 0 : 1;  // + 1: the CSV header
}
