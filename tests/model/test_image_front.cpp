// Image models behind layers that leave the input as it is (issues 32 and 34): the first image layer
// sets the input's pixels per channel also behind a Standardize, an activation or a dropout, so a
// conv network saved self-contained (Standardize in front) builds, saves, loads and predicts what
// the trained network predicts on rows standardised here by hand, bit for bit; a layer whose
// parameters read the input as plain features before a conv is still refused.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include <ist/model/activation.hpp>
#include <ist/model/batch_norm.hpp>
#include <ist/model/conv2d.hpp>
#include <ist/model/dense.hpp>
#include <ist/model/dropout.hpp>
#include <ist/model/pooling.hpp>
#include <ist/model/resnet/residual.hpp>
#include <ist/model/standardize.hpp>
#include <ist/model_files/model_file.hpp>
#include <ist/model_files/predictor.hpp>
#include <ist/model_files/self_contained.hpp>

#include "helpers.hpp"

using namespace ist;

namespace {

/// 3 x 8 x 8 images: 3 channels of 64 pixels, 192 columns per row.
constexpr std::size_t kChannels = 3, kSide = 8, kPixels = kSide * kSide, kColumns = kChannels * kPixels;

Conv2d front_conv(std::size_t out_channels) {
    return Conv2d({.in_channels = kChannels, .out_channels = out_channels, .height = kSide, .width = kSide, .kernel = 3,
                   .padding = 1, .seed = 11});
}

/// conv (3 -> 4 channels) -> ReLU -> 2x2 max pool -> dense (4 x 16 columns -> 5 classes).
Network image_net() {
    Network net;
    net.add(front_conv(4)).add(ReLU()).add(MaxPool2d(kSide, kSide, 2)).add(Dense(4 * 16, 5, true, 12));
    return net;
}

}  // namespace

TEST_CASE("image model: Standardize, ReLU and Dropout before the first conv leave the input's geometry to it") {
    Network net;
    net.add(Standardize(kColumns)).add(ReLU()).add(Dropout(0.1f, 3)).add(front_conv(4));
    const DimensionTable& dims = net.dimensions();
    CHECK(dims.front().size == kChannels);
    CHECK(dims.front().span == kPixels);
    CHECK(net.input_size() == kColumns);
    net.add(MaxPool2d(kSide, kSide, 2)).add(Dense(4 * 16, 5, true, 12));  // the conv's geometry carries on
    const Matrix logits = net.forward(test::random_matrix(3, kColumns, 1), Mode::Eval);
    CHECK(logits.shape()[0] == 3);
    CHECK(logits.shape()[1] == 5);

    // A residual block first (behind a Standardize): its identity shortcut and its branch agree on 64.
    Network block_first;
    block_first.add(Standardize(kColumns)).add(Residual().add(ReLU()).add(front_conv(kChannels)));
    CHECK(block_first.dimensions().front().span == kPixels);
    CHECK(block_first.input_size() == kColumns);
}

TEST_CASE("image model: a layer whose parameters read the input as features, then a conv, is refused") {
    Network net;
    net.add(BatchNorm(kColumns));  // gamma and beta along the input: 192 features of one column each
    CHECK_THROWS_WITH_AS(net.add(front_conv(4)),
                         "Network::add: layer 1 (ist::Conv2d): expects 64 pixels per channel, the layer before gives 1",
                         ConfigError);
    CHECK(net.layer_count() == 1);
    // A pooling layer first settles the input at 64 pixels: a conv of 8x8 after it (4x4) is refused.
    Network pooled;
    pooled.add(MaxPool2d(kSide, kSide, 2));
    CHECK_THROWS_WITH_AS(pooled.add(front_conv(4)),
                         "Network::add: layer 1 (ist::Conv2d): expects 64 pixels per channel, the layer before gives 16",
                         ConfigError);
}

TEST_CASE("image model: saved with its standardisation, loaded back, it predicts the trained network's outputs on "
          "rows standardised by hand, bit for bit") {
    const Network trained = image_net();
    xt::xtensor<float, 1> mean = xt::zeros<float>({kColumns}), sd = xt::zeros<float>({kColumns});
    for (std::size_t j = 0; j < kColumns; ++j) {
        mean(j) = 40.0f + static_cast<float>(j % 7);
        sd(j) = 3.0f + static_cast<float>(j % 5);
    }
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("ist_image_front_" + std::to_string(::getpid()) + ".npz")).string();
    save_model(with_standardization(trained, Standardization(mean, sd)), path);
    const Network loaded = load_model(path);
    Predictor predictor(path);
    std::filesystem::remove(path);
    REQUIRE(loaded.layer(0).as<Standardize>() != nullptr);
    REQUIRE(loaded.layer(1).as<Conv2d>() != nullptr);
    CHECK(predictor.features() == kColumns);

    Matrix raw = test::random_matrix(9, kColumns, 4);
    for (float& v : raw) v = v * 6.0f + 43.0f;
    Matrix by_hand = raw;  // (x - mean) * (1 / sd), per column, in float as the layer computes it
    for (std::size_t i = 0; i < raw.shape()[0]; ++i)
        for (std::size_t j = 0; j < kColumns; ++j) by_hand(i, j) = (raw(i, j) - mean(j)) * (1.0f / sd(j));
    Network trained_copy = trained, loaded_copy = loaded;
    const Matrix expected = trained_copy.forward(by_hand, Mode::Eval);
    const Matrix got = loaded_copy.forward(raw, Mode::Eval);
    REQUIRE(got.shape() == expected.shape());
    for (std::size_t k = 0; k < got.size(); ++k) CHECK(got.data()[k] == expected.data()[k]);
    const Matrix log_p = predictor.log_probabilities(raw), expected_log_p = log_softmax(expected);
    for (std::size_t k = 0; k < log_p.size(); ++k) CHECK(log_p.data()[k] == expected_log_p.data()[k]);
}
