// Dropout: inverted scaling, reproducible masks, identity in evaluation, exact gradients.
#include <doctest/doctest.h>

#include <ist/model/mlp.hpp>

#include "gradient_check.hpp"
#include "helpers.hpp"

using namespace ist;

TEST_CASE("dropout: a rate of 0 up to 1 (excluded), the identity in evaluation, inverted scaling in training") {
    CHECK_THROWS_WITH_AS(Dropout(1.0f), "Dropout: rate must be in [0, 1), got 1.000000", ConfigError);
    CHECK_THROWS_WITH_AS(Dropout(-0.1f), "Dropout: rate must be in [0, 1), got -0.100000", ConfigError);
    CHECK_THROWS_WITH_AS(make_mlp({4, {3}, 2, Norm::Batch, 1, 1.0f}), "make_mlp: dropout must be in [0, 1), got 1.000000",
                         ConfigError);
    Dropout d(0.5f, 3);
    const Matrix x = xt::ones<float>({50, 40});
    Matrix y;
    d.forward(x, y, Mode::Eval);
    CHECK(y == x);
    d.forward(x, y, Mode::Train);
    std::size_t kept = 0;
    for (float v : y) {
        CHECK((v == 0.0f || v == 2.0f));
        kept += v != 0.0f;
    }
    CHECK(kept > 900);  // about half of 2000
    CHECK(kept < 1100);
    Dropout again(0.5f, 3);
    Matrix y2;
    again.forward(x, y2, Mode::Train);
    CHECK(y2 == y);  // the same seed and batch draw the same mask
    again.forward(x, y2, Mode::Train);
    CHECK(y2 != y);  // the next pass draws another
}

TEST_CASE("dropout: gradients match finite differences with a fixed mask") {
    Network net;
    net.add(Dense(5, 6, true, 1)).add(ReLU()).add(Dropout(0.3f, 9)).add(Dense(6, 3, true, 2));
    net.layer(2).as<Dropout>()->hold_mask(true);
    test::check_gradients(net, 5, 3, 4);
}

TEST_CASE("dropout: make_mlp without dropout builds the network it always built") {
    CHECK(make_mlp({6, {5, 4}, 3, Norm::Batch, 7, 0.0f}).layer_count() == make_mlp({6, {5, 4}, 3, Norm::Batch, 7}).layer_count());
    Network with = make_mlp({6, {5, 4}, 3, Norm::Batch, 7, 0.2f});
    CHECK(with.layer_count() == make_mlp({6, {5, 4}, 3, Norm::Batch, 7}).layer_count() + 2);
    CHECK(weights_checksum(with) == weights_checksum(make_mlp({6, {5, 4}, 3, Norm::Batch, 7})));  // the same initial weights
}
