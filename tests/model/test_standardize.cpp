// Standardize, the input standardisation a saved model carries (issue 32): its forward pass
// against the definition computed in double, its backward pass against central differences, no
// trainable parameters, and its mean and scale through a model file.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <ist/model/dense.hpp>
#include <ist/model/network.hpp>
#include <ist/model/standardize.hpp>
#include <ist/model_files/model_file.hpp>

#include "gradient_check.hpp"
#include "helpers.hpp"

using namespace ist;

namespace {

Standardize three_features() {
    return Standardize(xt::xtensor<float, 1>{1.5f, -2.0f, 0.25f}, xt::xtensor<float, 1>{0.5f, 4.0f, 1.0f});
}

}  // namespace

TEST_CASE("standardize: forward is (x - mean) * scale per feature, in both modes") {
    Standardize layer = three_features();
    const Matrix x = test::random_matrix(5, 3, 11);
    const double mean[] = {1.5, -2.0, 0.25}, sd[] = {2.0, 0.25, 1.0};  // scale = 1 / sd
    for (Mode mode : {Mode::Train, Mode::Eval}) {
        Matrix y;
        layer.forward(x, y, mode);
        REQUIRE(y.shape() == x.shape());
        for (std::size_t i = 0; i < 5; ++i)
            for (std::size_t j = 0; j < 3; ++j) CHECK(y(i, j) == doctest::Approx((x(i, j) - mean[j]) / sd[j]).epsilon(1e-6));
    }
    CHECK(layer.parameters().empty());
    CHECK_FALSE(Standardize::opens_dimension);
}

TEST_CASE("standardize: backward passes dL/dx = dL/dy * scale (central differences of sum(w * y))") {
    Standardize layer = three_features();
    const Matrix x = test::random_matrix(4, 3, 5), w = test::random_matrix(4, 3, 6);
    const auto loss = [&](const Matrix& at) {
        Matrix y;
        layer.forward(at, y, Mode::Train);
        double sum = 0.0;
        for (std::size_t k = 0; k < y.size(); ++k) sum += static_cast<double>(w.data()[k]) * y.data()[k];
        return sum;
    };
    Matrix y, dx;
    layer.forward(x, y, Mode::Train);
    layer.backward(x, y, w, &dx);  // dL/dy = w
    REQUIRE(dx.shape() == x.shape());
    for (std::size_t k = 0; k < x.size(); ++k) {
        Matrix up = x, down = x;
        const float h = 1e-2f;
        up.data()[k] += h, down.data()[k] -= h;
        CHECK(dx.data()[k] == doctest::Approx((loss(up) - loss(down)) / (2.0 * h)).epsilon(1e-3));
    }
    layer.backward(x, y, w, nullptr);  // no input gradient asked: nothing to write, nothing to throw
}

TEST_CASE("standardize: a network led by it trains its other layers with correct gradients") {
    Network net;
    net.add(Standardize(xt::xtensor<float, 1>{0.5f, -1.0f, 2.0f, 0.0f}, xt::xtensor<float, 1>{2.0f, 0.5f, 1.5f, 1.0f}));
    net.add(Dense(4, 3, true, 9));
    CHECK(net.parameter_count() == 2);  // the dense weight and bias only
    test::check_gradients(net, 4, 3, 21);
}

TEST_CASE("standardize: refuses mismatched, empty and non-finite statistics, and inputs of another width") {
    CHECK_THROWS_WITH_AS(Standardize(xt::xtensor<float, 1>{1.0f, 2.0f}, xt::xtensor<float, 1>{1.0f}),
                         "Standardize: 2 means, 1 scales", ConfigError);
    CHECK_THROWS_WITH_AS(Standardize(std::size_t{0}), "Standardize: mean and scale need at least one feature", ConfigError);
    CHECK_THROWS_WITH_AS(Standardize(xt::xtensor<float, 1>{1.0f, NAN}, xt::xtensor<float, 1>{1.0f, 1.0f}),
                         "Standardize: the mean or scale of feature 1 is not finite", ConfigError);
    Standardize layer = three_features();
    Matrix y;
    CHECK_THROWS_WITH_AS(layer.forward(test::random_matrix(2, 4, 1), y, Mode::Eval),
                         "Standardize: input has 4 features, the layer standardises 3", DataError);
}

TEST_CASE("standardize: its mean and scale travel in a model file as standardize1.mean / .scale") {
    Network net;
    net.add(three_features());
    net.add(Dense(3, 2, false, 4));
    const std::string path =
        (std::filesystem::temp_directory_path() / ("ist_standardize_" + std::to_string(::getpid()) + ".npz")).string();
    save_model(net, path);
    const NpzArchive archive(path);
    CHECK(archive.values<float>("standardize1.mean") == std::vector<float>{1.5f, -2.0f, 0.25f});
    CHECK(archive.values<float>("standardize1.scale") == std::vector<float>{0.5f, 4.0f, 1.0f});
    CHECK(archive.text("architecture.json").find(R"({"type": "Standardize", "name": "standardize1", "features": 3})") !=
          std::string::npos);
    Network back = load_model(path);
    std::filesystem::remove(path);
    const Standardize* front = back.layer(0).as<Standardize>();
    REQUIRE(front != nullptr);
    CHECK(front->mean() == three_features().mean());
    CHECK(front->scale() == three_features().scale());
    const Matrix x = test::random_matrix(3, 3, 2);
    CHECK(back.forward(x, Mode::Eval) == net.forward(x, Mode::Eval));
}
