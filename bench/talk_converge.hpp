#pragma once
// ist-bench talk --epochs E: every run trained to convergence under the reference's accounting
// (BinhangYuan/IST_Release), each evaluation logging the full model's training loss and accuracy,
// its validation accuracy (rows held out of training) and its test accuracy; the reported model is
// the one chosen on the validation rows, and a run is flagged converged when its last evaluations
// agree. bench/talk_tables.hpp prints the table at convergence from these.
#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include <ist/data/dataset.hpp>
#include <ist/metrics/round_metrics.hpp>

namespace ist_bench::talk {

/// A run is converged when the spread (max - min) of its last kConvergedWindow test accuracies is
/// below kConvergedSpread.
inline constexpr std::size_t kConvergedWindow = 5;
inline constexpr double kConvergedSpread = 0.003;
/// Training loss and accuracy are those of the full model on this many of the first training rows.
inline constexpr std::size_t kTrainSampleRows = 5000;

/// IST_Release's accounting of an epoch. Its 2-layer script gives each worker len(loader) / S
/// batches per epoch (drop_last, so len(loader) = rows / batch, rounded down) for E epochs; its
/// 3-layer script runs E x S of those epochs. Here a round is l steps, so an epoch is that many
/// steps rounded up to whole rounds (the reference's last repartition of an epoch is shorter).
struct EpochPlan {
    std::size_t epochs = 0;            ///< the reference's epochs: E (2-layer) or E x S (3-layer)
    std::size_t steps_per_epoch = 0;   ///< batches per worker per epoch: (rows / batch) / S
    std::size_t rounds_per_epoch = 0;  ///< steps_per_epoch / l, rounded up
    std::size_t rounds() const { return epochs * rounds_per_epoch; }
};

inline EpochPlan epoch_plan(std::size_t hidden_layers, std::size_t workers, std::size_t epochs, std::size_t train_rows,
                            std::size_t batch, std::size_t local_steps) {
    EpochPlan p;
    p.epochs = hidden_layers == 1 ? epochs : epochs * workers;
    p.steps_per_epoch = train_rows / batch / workers;
    p.rounds_per_epoch = (p.steps_per_epoch + local_steps - 1) / local_steps;
    return p;
}

/// One evaluation of the full model (every epoch).
struct EpochPoint {
    ist::Evaluation train, test;
    std::optional<ist::Evaluation> validation;
};

/// What a run reached: the model chosen on the validation rows (the last one without them).
struct Convergence {
    std::size_t chosen = 0, evaluations = 0;  ///< 1-based evaluation (= epoch) chosen, of how many
    double chosen_test = 0.0, last_test = 0.0, chosen_validation = 0.0;
    double train_accuracy = 0.0, train_loss = 0.0;  ///< at the chosen evaluation
    double spread = 0.0;                            ///< of the last kConvergedWindow test accuracies
    bool converged = false;
};

inline Convergence converge(const std::vector<EpochPoint>& points) {
    Convergence c;
    c.evaluations = points.size();
    if (points.empty()) return c;
    std::size_t chosen = points.size() - 1;
    if (points.front().validation) {
        chosen = 0;  // the first best: a later tie is no better on the validation rows
        for (std::size_t i = 1; i < points.size(); ++i)
            if (points[i].validation->accuracy > points[chosen].validation->accuracy) chosen = i;
        c.chosen_validation = points[chosen].validation->accuracy;
    }
    c.chosen = chosen + 1;
    c.chosen_test = points[chosen].test.accuracy;
    c.last_test = points.back().test.accuracy;
    c.train_accuracy = points[chosen].train.accuracy;
    c.train_loss = points[chosen].train.loss;
    if (points.size() >= kConvergedWindow) {
        const auto last = points.end() - static_cast<std::ptrdiff_t>(kConvergedWindow);
        const auto [low, high] = std::minmax_element(last, points.end(), [](const EpochPoint& a, const EpochPoint& b) {
            return a.test.accuracy < b.test.accuracy;
        });
        c.spread = high->test.accuracy - low->test.accuracy;
        c.converged = c.spread < kConvergedSpread;
    }
    return c;
}

/// The trainer's callback: on every evaluation round, the full model's loss and accuracy on the
/// training sample and the validation rows beside the trainer's own test evaluation; each point is
/// also written to stderr as a `curve:` line (`label` names the run).
class EpochLog {
public:
    EpochLog(const ist::Dataset& train_sample, const ist::Dataset& validation, std::string label)
        : train_sample_(train_sample), validation_(validation), label_(std::move(label)) {}

    template <class Trainer>
    void on_round_end(const ist::RoundMetrics& m, Trainer& trainer) {
        if (!m.test) return;
        EpochPoint p{trainer.evaluate(train_sample_), *m.test, std::nullopt};
        if (validation_.size()) p.validation = trainer.evaluate(validation_);
        points_.push_back(p);
        std::fprintf(stderr, "  curve: %s evaluation %zu train loss %.6f accuracy %.6f validation %.6f test %.6f\n",
                     label_.c_str(), points_.size(), p.train.loss, p.train.accuracy,
                     p.validation ? p.validation->accuracy : -1.0, p.test.accuracy);
    }

    const std::vector<EpochPoint>& points() const { return points_; }

private:
    const ist::Dataset& train_sample_;
    const ist::Dataset& validation_;
    std::string label_;
    std::vector<EpochPoint> points_;
};

}  // namespace ist_bench::talk
