// Gradients of every layer and of whole MLPs against central finite differences.
#include <doctest/doctest.h>

#include "gradient_check.hpp"

using namespace ist;

TEST_CASE("gradients: Dense with bias") {
    Network net;
    net.add(Dense(5, 4, true, 1));
    test::check_gradients(net, 5, 4, 1);
}

TEST_CASE("gradients: Dense -> ReLU -> Dense") {
    Network net;
    net.add(Dense(5, 7, true, 2)).add(ReLU()).add(Dense(7, 3, true, 3));
    test::check_gradients(net, 5, 3, 2);
}

TEST_CASE("gradients: Dense -> BatchNorm -> ReLU -> Dense -> parameter-free BatchNorm") {
    Network net;
    net.add(Dense(6, 8, false, 4)).add(BatchNorm(8)).add(ReLU()).add(Dense(8, 3, false, 5)).add(BatchNorm(3, false));
    test::check_gradients(net, 6, 3, 3);
}

TEST_CASE("gradients: Dense -> LayerNorm -> ReLU -> Dense") {
    Network net;
    net.add(Dense(6, 9, true, 6)).add(LayerNorm()).add(ReLU()).add(Dense(9, 4, true, 7));
    test::check_gradients(net, 6, 4, 4);
}

TEST_CASE("gradients: whole reference MLP, each normalisation") {
    for (Norm norm : {Norm::Batch, Norm::Layer, Norm::None}) {
        CAPTURE(static_cast<int>(norm));
        test::check_gradients(make_mlp({7, {10, 9}, 4, norm, 11}), 7, 4, 5);
    }
}

TEST_CASE("gradients: scaled subnet Dense (activation scaling)") {
    Network net = make_mlp({6, {10, 8}, 3, Norm::None, 3});
    NeuronPartition part;
    PartitionRng rng(1);
    const Plan plan = part.plan(net.dimensions(), 2, rng);
    Network sub = net.subnet(plan[1], /*scale_activations=*/true);
    REQUIRE(sub.layer(2).as<Dense>()->input_scale() == doctest::Approx(2.0f));
    test::check_gradients(sub, 6, 3, 6);
}

TEST_CASE("gradients: softmax cross-entropy matches its closed form") {
    Matrix logits = {{1.0f, 2.0f, 3.0f}, {0.5f, -1.0f, 0.0f}};
    Labels y{2, 0};
    Matrix grad;
    const float loss = softmax_cross_entropy(logits, y, &grad);
    const double l0 = -std::log(std::exp(3.0) / (std::exp(1.0) + std::exp(2.0) + std::exp(3.0)));
    const double l1 = -std::log(std::exp(0.5) / (std::exp(0.5) + std::exp(-1.0) + std::exp(0.0)));
    CHECK(loss == doctest::Approx((l0 + l1) / 2).epsilon(1e-6));
    CHECK(xt::sum(grad)() == doctest::Approx(0.0).epsilon(1e-6));
    CHECK_THROWS_WITH_AS(softmax_cross_entropy(logits, Labels{3, 0}), doctest::Contains("label 3 at row 0 is out of range for 3 classes"), DataError);
}
