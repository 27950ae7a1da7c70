#pragma once
// The runs of ist-theory (bench/ist_theory.cpp) and of its ctests (tests/train/test_theory.cpp):
// the setting of the masked-neuron analysis (docs/theory.md) trained by IstTrainer with
// full-batch local steps, its error ||y - u_k||^2 after every round, and the coverage of the
// masks it trained with. Not part of the library.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include <xtensor-blas/xlinalg.hpp>

#include <ist/aggregate/holder_average.hpp>
#include <ist/data/regression_set.hpp>
#include <ist/metrics/convergence.hpp>
#include <ist/model/checksum.hpp>
#include <ist/model/two_layer_regression.hpp>
#include <ist/optim/sgd.hpp>
#include <ist/partition/full_model.hpp>
#include <ist/partition/masks.hpp>
#include <ist/train/trainer.hpp>

namespace ist::theory {

/// The analysis's sizes and steps. The library's loss is half the MEAN squared error, so a local
/// step of learning rate lr is the analysis's step eta = lr / n on ||y - u||^2 / 2.
struct Setup {
    std::size_t points = 32;      ///< n, on the unit sphere
    std::size_t dims = 16;        ///< d
    std::size_t hidden = 16384;   ///< m
    float init_sd = 0.1f;         ///< kappa (small: the lazy regime at moderate m)
    std::size_t local_steps = 5;  ///< tau
    std::size_t rounds = 100;     ///< K
    float lr = 4.0f;              ///< the library's; eta = lr / n
    std::uint64_t seed = 1;       ///< data, initialisation (seed + 1) and masks (seed + 2)
    bool scale_activations = true;  ///< a subnet's output times m / held (see TwoLayerRegression)
    /// With scale_activations: a worker's lr times the masks' expected keep fraction (xi, 1/p), so
    /// that a step on the scaled subnet, whose NTK is about H / keep, moves its outputs as a full
    /// gradient step of rate lr moves the full model's (the analysis's step eta for every p).
    bool matched_step = true;

    double eta() const { return static_cast<double>(lr) / static_cast<double>(points); }
    RegressionSet data() const { return unit_sphere_regression(points, dims, seed); }
    TwoLayerRegression model() const { return TwoLayerRegression({dims, hidden, init_sd}, seed + 1); }
    TrainerOptions options(std::size_t workers) const {
        TrainerOptions o;
        o.workers = workers;
        o.local_steps = local_steps;
        o.rounds = rounds;
        o.batch_size = points;
        o.seed = seed + 2;
        o.batches = Batches::FullSet;  // every local step is a full gradient step
        o.scale_activations = scale_activations;
        o.eval_every = 1;
        return o;
    }
};

/// One run's curve and what the theorems speak of.
struct Curve {
    std::vector<double> errors;  ///< ||y - u_k||^2, k = 0 (before training) .. K
    double coverage = 1.0;       ///< mean over rounds of the fraction of neurons some worker held
    double floor = 0.0;          ///< error_floor(errors)
    double contraction = 0.0;    ///< fitted_contraction above the level of the runs compared (fit_contractions)
    std::uint64_t checksum = 0;  ///< of the final W
};

/// The expected fraction of the neurons a worker holds.
inline double expected_keep(const FullModel&, std::size_t) { return 1.0; }
inline double expected_keep(const BernoulliMasks& masks, std::size_t) { return masks.keep(); }
inline double expected_keep(const CategoricalMasks&, std::size_t workers) { return 1.0 / static_cast<double>(workers); }

/// Fits every curve's contraction above one level, 10 x the highest floor among them, so that
/// their rates are fitted over the same range of error. Returns the level.
inline double fit_contractions(const std::vector<Curve*>& curves) {
    double level = 0.0;
    for (const Curve* c : curves) level = std::max(level, 10.0 * c->floor);
    for (Curve* c : curves) c->contraction = fitted_contraction(c->errors, level);
    return level;
}

/// ||y - u||^2 on the whole set, from the library's evaluation (half the mean squared error).
template <class Trainer>
double squared_distance(Trainer& trainer, const RegressionSet& data) {
    return 2.0 * static_cast<double>(data.size()) * trainer.evaluate(data).loss;
}

/// The mean coverage of the plans `partitioner` draws for `rounds` rounds from the trainer's
/// partition seed: the masks the run trains with.
template <Partitioner P>
double mean_coverage(const P& partitioner, const DimensionTable& dims, const TrainerOptions& o) {
    PartitionRng rng(o.seed);
    partitioner.validate(dims, o.workers);
    double sum = 0.0;
    for (std::size_t k = 0; k < o.rounds; ++k) sum += coverage(partitioner.plan(dims, o.workers, rng), 1, dims[1].size);
    return sum / static_cast<double>(o.rounds);
}

/// The learning rate of a worker's steps (Setup::matched_step).
template <Partitioner P>
float worker_lr(const Setup& setup, const P& partitioner, std::size_t workers) {
    if (!setup.scale_activations || !setup.matched_step) return setup.lr;
    return static_cast<float>(static_cast<double>(setup.lr) * expected_keep(partitioner, workers));
}

/// Trains the analysis's network on `data` with `partitioner` over `workers` workers, each
/// taking tau full-batch SGD steps on its subnet per round, merged by HolderAverage. The
/// contraction is left to fit_contractions.
template <Partitioner P>
Curve run(const Setup& setup, const RegressionSet& data, const P& partitioner, std::size_t workers) {
    TwoLayerRegression model = setup.model();
    const TrainerOptions o = setup.options(workers);
    IstTrainer<TwoLayerRegression, P> trainer(model, o, partitioner, Sgd(worker_lr(setup, partitioner, workers)));
    Curve c;
    c.errors.push_back(squared_distance(trainer, data));
    for (const RoundMetrics& m : trainer.train(data, data).history)
        c.errors.push_back(2.0 * static_cast<double>(data.size()) * m.test->loss);
    c.coverage = mean_coverage(partitioner, model.dimensions(), o);
    c.floor = error_floor(c.errors);
    c.checksum = weights_checksum(model);
    return c;
}

/// The NTK Gram matrix of the data (Du et al.): H_ij = <x_i, x_j> (pi - arccos <x_i, x_j>) / (2 pi).
inline xt::xtensor<double, 2> ntk_gram(const RegressionSet& data) {
    const std::size_t n = data.size(), d = data.feature_count();
    xt::xtensor<double, 2> h = xt::zeros<double>({n, n});
    for (std::size_t i = 0; i < n; ++i)
        for (std::size_t j = 0; j < n; ++j) {
            double dot = 0.0;
            for (std::size_t k = 0; k < d; ++k) dot += static_cast<double>(data.features(i, k)) * data.features(j, k);
            dot = std::clamp(dot, -1.0, 1.0);
            h(i, j) = dot * (std::numbers::pi - std::acos(dot)) / (2.0 * std::numbers::pi);
        }
    return h;
}

/// lambda_0 and lambda_max of the NTK Gram matrix (the analysis assumes lambda_0 > 0).
inline std::pair<double, double> ntk_eigenvalue_range(const RegressionSet& data) {
    const xt::xtensor<double, 1> eigenvalues = xt::linalg::eigvalsh(ntk_gram(data));  // ascending
    return {eigenvalues(0), eigenvalues(eigenvalues.size() - 1)};
}

/// Theorem 4's rate for disjoint masks over p workers: gamma + (1 - gamma)(1 - eta lambda_0 / 2)^tau,
/// gamma = (1 - 1/p)^(1/3).
inline double categorical_rate(const Setup& s, double lambda0, std::size_t workers) {
    const double gamma = std::cbrt(1.0 - 1.0 / static_cast<double>(workers));
    return gamma + (1.0 - gamma) * std::pow(1.0 - s.eta() * lambda0 / 2.0, static_cast<double>(s.local_steps));
}

/// Corollary 3's rate for Bernoulli masks: 1 - eta theta tau lambda_0 / 4.
inline double bernoulli_rate(const Setup& s, double lambda0, double theta) {
    return 1.0 - s.eta() * theta * static_cast<double>(s.local_steps) * lambda0 / 4.0;
}

/// theta = 1 - (1 - xi)^p: the chance that some worker keeps a neuron.
inline double bernoulli_coverage(double keep, std::size_t workers) {
    return 1.0 - std::pow(1.0 - keep, static_cast<double>(workers));
}

}  // namespace ist::theory
