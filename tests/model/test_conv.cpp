// Convolutional layers: Conv2d against a direct convolution, gradients of every conv layer and of
// a small CNN, channel partitioning through the axis mechanism, and IST training on the digits.
#include <doctest/doctest.h>

#include <ist/data/builtin.hpp>
#include <ist/model/batch_norm2d.hpp>
#include <ist/model/conv2d.hpp>
#include <ist/model/pooling.hpp>
#include <ist/train/trainer.hpp>

#include "gradient_check.hpp"

using namespace ist;

namespace {

/// y(n, o, oh, ow) = b(o) + sum_{c,i,j} w(o, c, i, j) x(n, c, oh s + i - p, ow s + j - p), term by term.
Matrix direct_convolution(const Matrix& x, const Tensor& w, const Tensor* b, std::size_t height, std::size_t width,
                          std::size_t stride, std::size_t padding) {
    const std::size_t out = w.shape()[0], in = w.shape()[1], k = w.shape()[2];
    const std::size_t oh_n = (height + 2 * padding - k) / stride + 1, ow_n = (width + 2 * padding - k) / stride + 1;
    Matrix y = xt::zeros<float>({x.shape()[0], out * oh_n * ow_n});
    for (std::size_t n = 0; n < x.shape()[0]; ++n)
        for (std::size_t o = 0; o < out; ++o)
            for (std::size_t oh = 0; oh < oh_n; ++oh)
                for (std::size_t ow = 0; ow < ow_n; ++ow) {
                    double sum = b ? (*b)(o) : 0.0;
                    for (std::size_t c = 0; c < in; ++c)
                        for (std::size_t i = 0; i < k; ++i)
                            for (std::size_t j = 0; j < k; ++j) {
                                const long ih = static_cast<long>(oh * stride + i) - static_cast<long>(padding);
                                const long iw = static_cast<long>(ow * stride + j) - static_cast<long>(padding);
                                if (ih < 0 || iw < 0 || ih >= static_cast<long>(height) || iw >= static_cast<long>(width)) continue;
                                sum += static_cast<double>(w(o, c, i, j)) *
                                       x(n, c * height * width + static_cast<std::size_t>(ih) * width + static_cast<std::size_t>(iw));
                            }
                    y(n, (o * oh_n + oh) * ow_n + ow) = static_cast<float>(sum);
                }
    return y;
}

/// Conv(1 -> c1, 3x3, pad 1) -> BatchNorm2d -> ReLU -> MaxPool 2 -> Conv(c1 -> c2, 3x3, pad 1)
/// -> GlobalAvgPool -> Dense(c2 -> classes), on side x side single-channel images.
Network small_cnn(std::size_t side, std::size_t c1, std::size_t c2, std::size_t classes, std::uint64_t seed) {
    Network net;
    const std::size_t half = side / 2;
    net.add(Conv2d({.in_channels = 1, .out_channels = c1, .height = side, .width = side, .kernel = 3, .padding = 1,
                    .bias = false, .seed = seed}))
        .add(BatchNorm2d(c1, side, side))
        .add(ReLU())
        .add(MaxPool2d(side, side, 2))
        .add(Conv2d({.in_channels = c1, .out_channels = c2, .height = half, .width = half, .kernel = 3, .padding = 1,
                     .seed = seed + 1}))
        .add(GlobalAvgPool(half, half))
        .add(Dense(c2, classes, true, seed + 2));
    return net;
}

double accuracy(Network& net, const Dataset& data) {
    const Matrix& logits = net.forward(data.features, Mode::Eval);
    std::size_t right = 0;
    for (std::size_t i = 0; i < data.size(); ++i) {
        const auto row = xt::row(logits, static_cast<std::ptrdiff_t>(i));
        right += static_cast<std::uint32_t>(std::max_element(row.begin(), row.end()) - row.begin()) == data.labels[i];
    }
    return static_cast<double>(right) / static_cast<double>(data.size());
}

}  // namespace

TEST_CASE("conv: Conv2d forward equals a direct convolution loop") {
    struct Case {
        std::size_t in, out, height, width, kernel, stride, padding;
        bool bias;
    };
    const Case cases[] = {{1, 1, 5, 5, 3, 1, 0, false}, {3, 4, 7, 6, 3, 1, 1, true}, {2, 5, 8, 7, 3, 2, 1, true},
                          {3, 2, 6, 9, 2, 2, 0, true},  {2, 3, 5, 5, 5, 1, 2, false}, {4, 6, 4, 4, 1, 1, 0, true}};
    std::uint64_t seed = 1;
    for (const Case& c : cases) {
        CAPTURE(seed);
        Conv2d conv({.in_channels = c.in, .out_channels = c.out, .height = c.height, .width = c.width, .kernel = c.kernel,
                     .stride = c.stride, .padding = c.padding, .bias = c.bias, .seed = seed});
        const Matrix x = test::random_matrix(5, c.in * c.height * c.width, ++seed);
        Matrix y;
        conv.forward(x, y, Mode::Train);
        const auto params = conv.parameters();
        const Matrix expected = direct_convolution(x, params[0].value, c.bias ? &params[1].value : nullptr, c.height,
                                                   c.width, c.stride, c.padding);
        REQUIRE(y.shape() == expected.shape());
        CHECK(y.shape()[1] == c.out * conv.output_height() * conv.output_width());
        CHECK(xt::amax(xt::abs(y - expected))() <= 1e-5f);
    }
}

TEST_CASE("conv: Conv2d checks its input width and its geometry") {
    Conv2d conv({.in_channels = 2, .out_channels = 3, .height = 4, .width = 4, .kernel = 3});
    Matrix y;
    CHECK_THROWS_WITH_AS(conv.forward(test::random_matrix(2, 31, 1), y, Mode::Train),
                         "Conv2d: input has 31 features, the layer expects 2 channels of 4x4 = 32", DataError);
    CHECK_THROWS_AS(Conv2d({.in_channels = 1, .out_channels = 1, .height = 2, .width = 2, .kernel = 3}), ConfigError);
    CHECK_THROWS_AS(MaxPool2d(3, 3, 4), ConfigError);
    MaxPool2d pool(4, 4, 2);
    CHECK_THROWS_AS(pool.forward(test::random_matrix(2, 33, 1), y, Mode::Train), DataError);
}

TEST_CASE("conv: gradients of Conv2d with stride, padding, bias, and of its input") {
    Network net;
    // The second conv's input gradient (col2im) reaches the first conv's weights.
    net.add(Conv2d({.in_channels = 2, .out_channels = 3, .height = 5, .width = 6, .kernel = 3, .stride = 2, .padding = 1, .seed = 1}))
        .add(Conv2d({.in_channels = 3, .out_channels = 4, .height = 3, .width = 3, .kernel = 2, .bias = false, .seed = 2}))
        .add(GlobalAvgPool(2, 2))
        .add(Dense(4, 3, true, 3));
    test::check_gradients(net, 2 * 5 * 6, 3, 1);
}

TEST_CASE("conv: gradients through MaxPool2d and AvgPool2d") {
    Network net;
    net.add(Conv2d({.in_channels = 1, .out_channels = 3, .height = 6, .width = 6, .kernel = 3, .padding = 1, .seed = 4}))
        .add(MaxPool2d(6, 6, 2))
        .add(Conv2d({.in_channels = 3, .out_channels = 2, .height = 3, .width = 3, .kernel = 2, .seed = 5}))
        .add(AvgPool2d(2, 2, 2))
        .add(Dense(2, 3, true, 6));
    test::check_gradients(net, 36, 3, 2);

    Network overlapping;  // windows of 3 every 2 pixels: a pixel can feed two windows
    overlapping.add(Conv2d({.in_channels = 1, .out_channels = 2, .height = 5, .width = 5, .kernel = 1, .seed = 7}))
        .add(MaxPool2d(5, 5, 3, 2))
        .add(Conv2d({.in_channels = 2, .out_channels = 2, .height = 2, .width = 2, .kernel = 1, .seed = 8}))
        .add(AvgPool2d(2, 2, 1, 1))
        .add(GlobalAvgPool(2, 2))
        .add(Dense(2, 2, true, 9));
    test::check_gradients(overlapping, 25, 2, 3);
}

TEST_CASE("conv: gradients of BatchNorm2d, affine and parameter-free") {
    Network net;
    net.add(Conv2d({.in_channels = 2, .out_channels = 3, .height = 4, .width = 4, .kernel = 3, .padding = 1, .seed = 10}))
        .add(BatchNorm2d(3, 4, 4))
        .add(Conv2d({.in_channels = 3, .out_channels = 2, .height = 4, .width = 4, .kernel = 2, .seed = 11}))
        .add(BatchNorm2d(2, 3, 3, /*affine=*/false))
        .add(GlobalAvgPool(3, 3))
        .add(Dense(2, 3, true, 12));
    test::check_gradients(net, 32, 3, 4);
}

TEST_CASE("conv: gradients of a small CNN (Conv, BatchNorm2d, ReLU, MaxPool, Conv, GlobalAvgPool, Dense)") {
    test::check_gradients(small_cnn(6, 4, 5, 3, 20), 36, 3, 5);
}

TEST_CASE("conv: channel partition cuts channels, keeps kernels, and extract-then-merge is the identity") {
    const Network net = small_cnn(8, 6, 5, 4, 30);
    const auto& dims = net.dimensions();
    REQUIRE(dims.size() == 4);  // input channels, conv1 channels, conv2 channels, classes
    CHECK(dims[0].size == 1);
    CHECK(dims[1].size == 6);
    CHECK(dims[2].size == 5);
    CHECK(dims[3].size == 4);
    CHECK_FALSE(dims[0].partitionable);
    CHECK(dims[1].partitionable);
    CHECK(dims[2].partitionable);
    CHECK_FALSE(dims[3].partitionable);

    PartitionRng rng(3);
    const Plan plan = NeuronPartition{}.plan(dims, 2, rng);
    Network sub = net.subnet(plan[1]);  // 3 of 6 and 2 of 5 channels (the first worker takes the extra one)
    using Shape = std::vector<std::size_t>;
    CHECK(sub.parameter(0).value.shape() == Shape{3, 1, 3, 3});  // conv1 weight: out channels cut
    CHECK(sub.parameter(1).value.shape() == Shape{3});           // gamma follows its channels
    CHECK(sub.parameter(2).value.shape() == Shape{3});           // beta
    CHECK(sub.parameter(3).value.shape() == Shape{2, 3, 3, 3});  // conv2 weight: both channel axes cut
    CHECK(sub.parameter(4).value.shape() == Shape{2});           // conv2 bias
    CHECK(sub.parameter(5).value.shape() == Shape{4, 2});        // head takes the held channels
    CHECK(sub.parameter(6).value.shape() == Shape{4});           // output bias is shared
    // The subnet's conv2 kernel for (held out o, held in c) is the full kernel of those channels.
    for (std::size_t o = 0; o < 2; ++o)
        for (std::size_t c = 0; c < 3; ++c)
            for (std::size_t k = 0; k < 9; ++k)
                CHECK(sub.parameter(3).value(o, c, k / 3, k % 3) ==
                      net.parameter(3).value((*plan[1].dims[2])[o], (*plan[1].dims[1])[c], k / 3, k % 3));
    const Matrix x = test::random_matrix(6, 64, 1);
    CHECK(sub.forward(x, Mode::Eval).shape() == std::array<std::size_t, 2>{6, 4});

    for (std::size_t S = 1; S <= 5; ++S) {
        CAPTURE(S);
        CHECK(test::same_parameters(test::extract_then_merge(net, NeuronPartition{}.plan(dims, S, rng)), net));
        CHECK(test::same_parameters(test::extract_then_merge(net, BernoulliMasks(0.5).plan(dims, S, rng)), net));
    }
}

TEST_CASE("conv: IstTrainer trains a CNN by channel subnets on the digits (S = 2)") {
    auto [train, test_set] = train_test_split(load_digits(), 0.2, 1);
    Network net = small_cnn(8, 16, 32, 10, 40);
    CHECK(net.input_size() == 64);  // 1 channel of 8 x 8: the trainer takes the images as they are
    // A fixed budget of 700 rounds, the rate divided by 5 at 70% and 90% of it, and no early stop:
    // the test set is looked at once, at the end. This seed reaches 0.944 (seeds 1-8 end between
    // 0.916 and 0.944), so the assertion keeps a margin of 0.06; about 7 s in Release.
    TrainerOptions o = test::test_options(2, 10, 700, 32, 2);
    IstTrainer<Network, NeuronPartition, MomentumSgd> trainer(net, o, {}, MomentumSgd(0.05f, 0.9f));
    trainer.set_schedule(step_decay(o.rounds, {0.7, 0.9}, 0.2f));
    const TrainResult result = trainer.train(train, test_set);
    MESSAGE("digits test accuracy after " << trainer.rounds_done() << " IST rounds (S = 2, l = 10): "
                                          << result.final_test->accuracy);
    CHECK(trainer.rounds_done() == 700);
    CHECK(result.final_test->accuracy >= 0.88);
    CHECK(accuracy(net, test_set) == doctest::Approx(result.final_test->accuracy));
}

// A dense layer straight after image layers reads columns: the Network maps its input axis to a
// Derived view of the channel dimension (each channel spans its pixels), so cutting channels cuts
// the dense layer's matching column groups.
TEST_CASE("conv: a dense head on flattened feature maps follows the channel cut") {
    Network net;
    net.add(Conv2d({.in_channels = 1, .out_channels = 4, .height = 4, .width = 4, .kernel = 3, .padding = 1, .seed = 1}))
        .add(ReLU())
        .add(MaxPool2d(4, 4, 2))
        .add(Dense(4 * 2 * 2, 3, true, 2));
    const auto& dims = net.dimensions();
    REQUIRE(dims.size() == 4);  // input, conv channels, classes, conv channels seen as 16 columns
    CHECK(dims[3].kind == DimKind::Derived);
    CHECK(dims[3].parent == 1);
    CHECK(dims[3].span == 4);
    CHECK(dims[3].size == 16);
    CHECK_FALSE(dims[3].partitionable);
    CHECK(net.parameter_dims(2)[1] == 3);

    WorkerPlan plan{{std::nullopt, std::vector<std::uint32_t>{1, 3}, std::nullopt, std::nullopt}};
    Network sub = net.subnet(plan);
    REQUIRE(sub.parameter(2).value.shape() == std::vector<std::size_t>{3, 8});
    for (std::size_t o = 0; o < 3; ++o)
        for (std::size_t k = 0; k < 4; ++k) {
            CHECK(sub.parameter(2).value(o, k) == net.parameter(2).value(o, 4 + k));      // channel 1
            CHECK(sub.parameter(2).value(o, 4 + k) == net.parameter(2).value(o, 12 + k)); // channel 3
        }
    test::check_gradients(net, 16, 3, 3);
    PartitionRng rng(5);
    for (std::size_t S = 1; S <= 4; ++S) {
        CAPTURE(S);
        CHECK(test::same_parameters(test::extract_then_merge(net, NeuronPartition{}.plan(dims, S, rng)), net));
    }
}

TEST_CASE("conv: geometry mismatches between image layers are refused when the network is built") {
    Network net;
    net.add(Conv2d({.in_channels = 1, .out_channels = 2, .height = 8, .width = 8, .kernel = 3, .padding = 1}));
    CHECK_THROWS_WITH_AS(net.add(MaxPool2d(6, 6, 2)),
                         doctest::Contains("expects 36 pixels per channel, the layer before gives 64"), ConfigError);
}
