// squared_error and TwoLayerRegression (the masked-neuron analysis's network) against their
// definitions and against finite differences; the analysis's data; a subnet's slice and scale.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <ist/data/regression_set.hpp>
#include <ist/model/squared_error.hpp>
#include <ist/model/two_layer_regression.hpp>

using namespace ist;

namespace {

/// f(W, x_i) = (1 / sqrt(m)) * scale * sum_r a_r max(<w_r, x_i>, 0), straight from the definition, in double.
std::vector<double> definition_outputs(const Tensor& w, const Tensor& a, const Matrix& x, double scale) {
    const std::size_t m = w.shape()[0], d = w.shape()[1];
    std::vector<double> out;
    for (std::size_t i = 0; i < x.shape()[0]; ++i) {
        double sum = 0.0;
        for (std::size_t r = 0; r < m; ++r) {
            double z = 0.0;
            for (std::size_t j = 0; j < d; ++j) z += static_cast<double>(w(r, j)) * x(i, j);
            sum += a(r) * std::max(z, 0.0);
        }
        out.push_back(scale * sum);
    }
    return out;
}

/// Half the mean of the squared residuals, in double.
double half_mean_square(const std::vector<double>& u, const Matrix& y) {
    double sum = 0.0;
    for (std::size_t i = 0; i < u.size(); ++i) sum += (u[i] - y(i, 0)) * (u[i] - y(i, 0));
    return sum / (2.0 * static_cast<double>(u.size()));
}

}  // namespace

TEST_CASE("regression: squared_error is half the mean squared residual, its gradient the residual over rows") {
    const Matrix u = {{0.5f, -1.0f}, {2.0f, 0.25f}, {0.0f, 3.0f}};
    const Matrix y = {{1.0f, -1.0f}, {0.0f, 0.5f}, {-1.0f, 1.0f}};
    Matrix grad;
    const float loss = squared_error(u, y, &grad);
    // (0.25 + 0 + 4 + 0.0625 + 1 + 4) / (2 * 3)
    CHECK(loss == doctest::Approx(9.3125 / 6.0).epsilon(1e-7));
    for (std::size_t k = 0; k < u.size(); ++k) {
        // Central difference in prediction k.
        Matrix up = u, down = u;
        up.data()[k] += 1e-2f, down.data()[k] -= 1e-2f;
        const double numeric = (static_cast<double>(squared_error(up, y)) - squared_error(down, y)) / 2e-2;
        CHECK(grad.data()[k] == doctest::Approx(numeric).epsilon(1e-3));
    }
    CHECK_THROWS_WITH_AS(squared_error(u, Matrix{{1.0f}}), doctest::Contains("predictions are 3 x 2, targets 1 x 1"),
                         DataError);
}

TEST_CASE("regression: the analysis's data lie on the unit sphere with labels in [-1, 1], the same for a seed") {
    const RegressionSet data = unit_sphere_regression(50, 7, 3);
    REQUIRE(data.size() == 50);
    REQUIRE(data.feature_count() == 7);
    REQUIRE(data.target_count() == 1);
    double label_mean = 0.0;
    for (std::size_t i = 0; i < 50; ++i) {
        double norm2 = 0.0;
        for (std::size_t j = 0; j < 7; ++j) norm2 += static_cast<double>(data.features(i, j)) * data.features(i, j);
        CHECK(norm2 == doctest::Approx(1.0).epsilon(1e-6));
        CHECK(std::abs(data.targets(i, 0)) <= 1.0f);
        label_mean += data.targets(i, 0) / 50.0;
    }
    CHECK(std::abs(label_mean) < 0.3);  // uniform on [-1, 1]: sd of the mean 0.08
    CHECK(unit_sphere_regression(50, 7, 3).features == data.features);
    CHECK(unit_sphere_regression(50, 7, 4).features != data.features);
    data.validate();
    RegressionSet broken = data;
    broken.targets(4, 0) = NAN;
    CHECK_THROWS_WITH_AS(broken.validate(), doctest::Contains("target 0 of row 4 is not finite"), DataError);
}

TEST_CASE("regression: TwoLayerRegression computes f(W, x) = sum_r a_r relu(<w_r, x>) / sqrt(m), signs fixed +-1") {
    TwoLayerRegression model({5, 64, 1.0f}, 11);
    const RegressionSet data = unit_sphere_regression(9, 5, 2);
    const Tensor& a = model.output_signs();
    REQUIRE(a.size() == 64);
    std::size_t positive = 0;
    for (float s : a) {
        CHECK((s == 1.0f || s == -1.0f));
        positive += s > 0.0f;
    }
    CHECK(positive > 16);  // about half of 64
    CHECK(positive < 48);
    const std::vector<double> expected = definition_outputs(model.parameter(0).value, a, data.features, 1.0 / 8.0);
    const Matrix& u = model.forward(data.features, Mode::Eval);
    REQUIRE(u.shape()[0] == 9);
    for (std::size_t i = 0; i < 9; ++i) CHECK(u(i, 0) == doctest::Approx(expected[i]).epsilon(1e-5));
    CHECK(model.dimensions()[1].partitionable);
    CHECK_FALSE(model.dimensions()[0].partitionable);
}

TEST_CASE("regression: TwoLayerRegression's gradient in W equals central differences of its loss") {
    TwoLayerRegression model({4, 24, 1.0f}, 5);
    const RegressionSet data = unit_sphere_regression(6, 4, 8);
    model.loss_and_gradient(data.features, data.targets);
    const Tensor grad = model.parameter(0).grad;
    Tensor& w = model.parameter(0).value;
    const Tensor& a = model.output_signs();
    std::size_t checked = 0;
    for (std::size_t k = 0; k < w.size(); ++k) {
        // In double from the definition, so the difference is not lost to float rounding; a
        // step across a ReLU kink would make the difference one-sided: those entries are skipped.
        const float h = 1e-3f, saved = w.data()[k];
        w.data()[k] = saved + h;
        const double up = half_mean_square(definition_outputs(w, a, data.features, 1.0 / std::sqrt(24.0)), data.targets);
        w.data()[k] = saved - h;
        const double down = half_mean_square(definition_outputs(w, a, data.features, 1.0 / std::sqrt(24.0)), data.targets);
        w.data()[k] = saved;
        const std::size_t r = k / 4;
        bool near_kink = false;
        for (std::size_t i = 0; i < 6; ++i) {
            double z = 0.0;
            for (std::size_t j = 0; j < 4; ++j) z += static_cast<double>(w(r, j)) * data.features(i, j);
            near_kink = near_kink || std::abs(z) < 2 * h;
        }
        if (near_kink) continue;
        CHECK(grad.data()[k] == doctest::Approx((up - down) / (2.0 * h)).epsilon(1e-4).scale(1e-3));
        ++checked;
    }
    CHECK(checked > 80);  // of 96
    // The loss it returns is the definition's.
    const double loss = half_mean_square(definition_outputs(w, a, data.features, 1.0 / std::sqrt(24.0)), data.targets);
    CHECK(model.loss_and_gradient(data.features, data.targets) == doctest::Approx(loss).epsilon(1e-6));
}

TEST_CASE("regression: a subnet holds its neurons' rows and signs; scaled, its output is times m / held") {
    TwoLayerRegression model({3, 10, 1.0f}, 4);
    const RegressionSet data = unit_sphere_regression(5, 3, 1);
    WorkerPlan plan{{std::nullopt, std::vector<std::uint32_t>{1, 4, 7, 8}, std::nullopt}};
    for (const bool scaled : {false, true}) {
        TwoLayerRegression sub = model.subnet(plan, scaled);
        REQUIRE(sub.parameter(0).value.shape()[0] == 4);
        CHECK(sub.dimensions()[1].size == 4);
        Tensor rows = xt::zeros<float>({4, 3});
        Tensor signs = xt::zeros<float>({4});
        for (std::size_t k = 0; k < 4; ++k) {
            const std::uint32_t r = (*plan.dims[1])[k];
            for (std::size_t j = 0; j < 3; ++j) rows(k, j) = model.parameter(0).value(r, j);
            signs(k) = model.output_signs()(r);
        }
        CHECK(sub.parameter(0).value == rows);
        CHECK(sub.output_signs() == signs);
        const double scale = (scaled ? 10.0 / 4.0 : 1.0) / std::sqrt(10.0);
        const std::vector<double> expected = definition_outputs(rows, signs, data.features, scale);
        const Matrix& u = sub.forward(data.features, Mode::Eval);
        for (std::size_t i = 0; i < 5; ++i) CHECK(u(i, 0) == doctest::Approx(expected[i]).epsilon(1e-5));
    }
    CHECK_THROWS_WITH_AS(model.forward(Matrix::from_shape({2, 4}), Mode::Eval),
                         doctest::Contains("4 features, the model takes 3"), DataError);
}
