// Regression with IST: the two-layer ReLU network of the masked-neuron analysis (docs/theory.md)
// on points of the unit sphere, trained by the same IstTrainer with full-batch steps, first as
// gradient descent (one worker, the whole model), then with the neurons dealt to 4 workers.
#include <cmath>
#include <iostream>

#include <ist/ist.hpp>

/// ||y - u||^2 over the set, computed by hand from the model's predictions.
double squared_distance(ist::TwoLayerRegression& model, const ist::RegressionSet& data) {
    const ist::Matrix& u = model.forward(data.features, ist::Mode::Eval);
    double sum = 0.0;
    for (std::size_t i = 0; i < data.size(); ++i) sum += std::pow(u(i, 0) - data.targets(i, 0), 2.0);
    return sum;
}

int main() {
    const ist::RegressionSet data = ist::unit_sphere_regression(32, 16, 1);  // n = 32 points in R^16
    const ist::TwoLayerRegression initial({.inputs = 16, .hidden = 2048, .init_sd = 0.1f}, 2);
    ist::TrainerOptions options{.workers = 1, .local_steps = 5, .rounds = 60, .batch_size = 32,
                                .batches = ist::Batches::FullSet, .scale_activations = true, .eval_every = 0};

    ist::TwoLayerRegression gd = initial;
    ist::IstTrainer<ist::TwoLayerRegression, ist::FullModel> descent(gd, options, ist::FullModel(), ist::Sgd(4.0f));
    descent.train(data, data);

    options.workers = 4;  // each worker trains a quarter of the neurons, its output scaled by 4, at lr / 4
    ist::TwoLayerRegression ist_model = initial;
    ist::IstTrainer<ist::TwoLayerRegression, ist::CategoricalMasks> masked(ist_model, options, ist::CategoricalMasks(),
                                                                     ist::Sgd(1.0f));
    masked.train(data, data);

    ist::TwoLayerRegression untrained = initial;
    const double start = squared_distance(untrained, data), after_gd = squared_distance(gd, data),
                 after_ist = squared_distance(ist_model, data);
    std::cout << "||y - u||^2: " << start << " at the start, " << after_gd << " after gradient descent, " << after_ist
              << " after IST over 4 workers (300 steps each)\n";
    return after_gd < start / 100 && after_ist < start / 100 ? 0 : 1;
}
