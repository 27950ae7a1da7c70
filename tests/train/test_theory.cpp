// The masked-neuron theory of docs/theory.md at small sizes (ist-theory runs the same at the
// issue's size): IST over one worker, and the whole model (FullModel), is gradient descent bit for
// bit (against a gradient descent loop written here over plain xtensor), Bernoulli masks cover
// 1 - (1 - xi)^p of the neurons, disjoint masks converge more slowly as p grows, Bernoulli masks
// settle lower as p grows. Also
// the trainer's handling of a RegressionSet: mini-batches, and what it refuses.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <xtensor/xnoalias.hpp>

#include "theory_runs.hpp"

using namespace ist;

namespace {

/// The sizes of these tests: seconds, and still over-parameterised (m = 16 n).
theory::Setup small_setup() {
    theory::Setup s;
    s.points = 16;
    s.dims = 8;
    s.hidden = 256;
    s.rounds = 60;
    return s;
}

/// `steps` full-batch gradient descent steps on ||y - u||^2 / (2n), u_i = sum_r a_r relu(<w_r, x_i>) / sqrt(m),
/// written from the definition (each sum in double, in index order), from W = w.
Tensor gradient_descent(Tensor w, const Tensor& a, const RegressionSet& data, float lr, std::size_t steps) {
    const std::size_t n = data.size(), m = w.shape()[0], d = w.shape()[1];
    const double scale = 1.0 / std::sqrt(static_cast<double>(m));
    Matrix pre = Matrix::from_shape({n, m});
    std::vector<float> residual_over_n(n);
    Tensor grad = xt::zeros<float>(w.shape());
    for (std::size_t step = 0; step < steps; ++step) {
        for (std::size_t i = 0; i < n; ++i) {
            double u = 0.0;
            for (std::size_t r = 0; r < m; ++r) {
                double z = 0.0;
                for (std::size_t j = 0; j < d; ++j) z += static_cast<double>(w(r, j)) * static_cast<double>(data.features(i, j));
                pre(i, r) = static_cast<float>(z);
                if (pre(i, r) > 0.0f) u += static_cast<double>(a(r)) * pre(i, r);
            }
            residual_over_n[i] = (static_cast<float>(scale * u) - data.targets(i, 0)) / static_cast<float>(n);
        }
        for (std::size_t r = 0; r < m; ++r) {
            std::vector<double> sum(d, 0.0);
            for (std::size_t i = 0; i < n; ++i)
                if (pre(i, r) > 0.0f)
                    for (std::size_t j = 0; j < d; ++j)
                        sum[j] += scale * static_cast<double>(a(r)) * static_cast<double>(residual_over_n[i]) *
                                  static_cast<double>(data.features(i, j));
            for (std::size_t j = 0; j < d; ++j) grad(r, j) = static_cast<float>(sum[j]);
        }
        xt::noalias(w) -= lr * grad;
    }
    return w;
}

}  // namespace

TEST_CASE("theory: IST over one worker (categorical masks, p = 1) is gradient descent bit for bit") {
    theory::Setup s = small_setup();
    s.hidden = 60;  // not a power of two: a whole layer's scale must stay exactly 1 / sqrt(m)
    s.rounds = 4;
    s.local_steps = 3;
    const RegressionSet data = s.data();
    const TwoLayerRegression start = s.model();
    const Tensor expected =
        gradient_descent(start.parameter(0).value, start.output_signs(), data, s.lr, s.rounds * s.local_steps);
    for (const bool scaled : {true, false}) {
        s.scale_activations = scaled;
        TwoLayerRegression model = s.model();
        IstTrainer<TwoLayerRegression, CategoricalMasks> trainer(model, s.options(1), CategoricalMasks(), Sgd(s.lr));
        trainer.train(data, data);
        CHECK(model.parameter(0).value == expected);
    }
    // The whole model, no masks: gradient descent as examples/regression.cpp runs it.
    TwoLayerRegression whole = s.model();
    IstTrainer<TwoLayerRegression, FullModel> descent(whole, s.options(1), FullModel(), Sgd(s.lr));
    descent.train(data, data);
    CHECK(whole.parameter(0).value == expected);
    CHECK(expected != start.parameter(0).value);
}

TEST_CASE("theory: Bernoulli masks cover 1 - (1 - xi)^p of the neurons (xi = 0.3, p = 1..8), within 0.01") {
    theory::Setup s = small_setup();
    s.hidden = 4096;
    s.rounds = 10;
    const TwoLayerRegression model = s.model();
    for (std::size_t p = 1; p <= 8; ++p) {
        const double measured = theory::mean_coverage(BernoulliMasks(0.3), model.dimensions(), s.options(p));
        const double theta = 1.0 - std::pow(0.7, static_cast<double>(p));
        CAPTURE(p);
        CHECK(std::abs(measured - theta) <= 0.01);
    }
}

TEST_CASE("theory: with categorical (disjoint) masks the fitted contraction factor grows with p = 1, 2, 4, 8") {
    const theory::Setup s = small_setup();
    const RegressionSet data = s.data();
    std::vector<theory::Curve> curves;
    for (std::size_t p : {1, 2, 4, 8}) curves.push_back(theory::run(s, data, CategoricalMasks(), p));
    std::vector<theory::Curve*> fitted;
    for (auto& c : curves) fitted.push_back(&c);
    theory::fit_contractions(fitted);
    for (std::size_t k = 1; k < curves.size(); ++k) {
        CAPTURE(k);
        CHECK(curves[k].contraction > curves[k - 1].contraction);
        CHECK(curves[k].floor > curves[k - 1].floor);  // Theorem 4's error term grows with gamma
    }
    CHECK(curves.back().contraction < 1.0);  // still converging
}

TEST_CASE("theory: with Bernoulli masks (xi = 0.5) the error floor falls as p grows (1, 2, 4, 8)") {
    const theory::Setup s = small_setup();
    const RegressionSet data = s.data();
    std::vector<double> floors;
    for (std::size_t p : {1, 2, 4, 8}) floors.push_back(theory::run(s, data, BernoulliMasks(0.5), p).floor);
    for (std::size_t k = 1; k < floors.size(); ++k) {
        CAPTURE(k);
        CHECK(floors[k] < floors[k - 1]);
    }
}

TEST_CASE("theory: a RegressionSet trains in mini-batches too, and the trainer refuses what does not fit") {
    const theory::Setup s = small_setup();
    const RegressionSet data = s.data();
    TwoLayerRegression model = s.model();
    TrainerOptions o = s.options(2);
    o.batches = Batches::Rows;
    o.batch_size = 4;
    IstTrainer<TwoLayerRegression> trainer(model, o, NeuronPartition(), Sgd(s.lr / 8));
    const double before = trainer.evaluate(data).loss;
    const TrainResult result = trainer.train(data, data);
    CHECK(result.final_test->loss < before / 4);
    // Evaluation in batches of at most 5 rows reports half the mean squared error over all 16 rows.
    o.eval_batch = 5;
    IstTrainer<TwoLayerRegression> batched(model, o, NeuronPartition(), Sgd(s.lr));
    const Matrix& u = model.forward(data.features, Mode::Eval);
    double half_mean = 0.0;
    for (std::size_t i = 0; i < data.size(); ++i) half_mean += std::pow(u(i, 0) - data.targets(i, 0), 2.0) / 32.0;
    CHECK(batched.evaluate(data).loss == doctest::Approx(half_mean).epsilon(1e-6));

    const RegressionSet wide = unit_sphere_regression(16, 9, 1);
    CHECK_THROWS_WITH_AS(trainer.train(wide, wide), doctest::Contains("9 features, the model takes 8"), DataError);
    RegressionSet two_targets = data;
    two_targets.targets = xt::zeros<float>({std::size_t{16}, std::size_t{2}});
    CHECK_THROWS_WITH_AS(trainer.train(two_targets, two_targets), doctest::Contains("2 targets per row, the model outputs 1"),
                         DataError);
    o.batches = Batches::Clusters;
    TwoLayerRegression other = s.model();
    IstTrainer<TwoLayerRegression> clusters(other, o, NeuronPartition(), Sgd(s.lr));
    CHECK_THROWS_WITH_AS(clusters.train(data, data), doctest::Contains("not by clusters or clients"), ConfigError);
}

TEST_CASE("theory: error_floor is the mean of the last fifth, fitted_contraction recovers a geometric rate") {
    // e_k = 8 * 0.6^k + 0.001 for 50 rounds: above the level 0.01 the floor is a small part, so the fit
    // finds 0.6 within a percent; below it (k >= 12) only the last fifth counts for the floor.
    std::vector<double> errors;
    for (int k = 0; k <= 50; ++k) errors.push_back(8.0 * std::pow(0.6, k) + 0.001);
    double tail = 0.0;
    for (int k = 41; k <= 50; ++k) tail += errors[static_cast<std::size_t>(k)] / 10.0;
    CHECK(error_floor(errors) == doctest::Approx(tail).epsilon(1e-12));
    CHECK(fitted_contraction(errors, 0.01) == doctest::Approx(0.6).epsilon(0.01));
    // An exact geometric sequence is fitted exactly, whatever the level.
    std::vector<double> geometric;
    for (int k = 0; k <= 10; ++k) geometric.push_back(std::pow(0.9, k));
    CHECK(fitted_contraction(geometric, 0.0) == doctest::Approx(0.9).epsilon(1e-12));
    CHECK(fitted_contraction(geometric, 0.5) == doctest::Approx(0.9).epsilon(1e-12));
    CHECK_THROWS_WITH_AS(error_floor(std::vector<double>{1.0}), doctest::Contains("at least one round"), ConfigError);
}
