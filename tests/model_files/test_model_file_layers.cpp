// Model files keep every layer's options (issue 36): a network of every built-in layer kind with
// non-square images and no option at its default (conv stride, padding and kernel all different, pool
// kernel != stride, norms without affine and with their own eps and momentum, dropout) is saved and
// loaded; the copy must compute the same outputs in training mode (dropout, batch statistics, running
// statistics updated with the momentum) and then in evaluation mode (running statistics, eps).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <ist/model/batch_norm.hpp>
#include <ist/model/batch_norm2d.hpp>
#include <ist/model/conv2d.hpp>
#include <ist/model/dense.hpp>
#include <ist/model/dropout.hpp>
#include <ist/model/layer_norm.hpp>
#include <ist/model/network.hpp>
#include <ist/model/pooling.hpp>
#include <ist/model_files/model_file.hpp>

using namespace ist;

namespace {

/// 2 channels of 9 x 7 -> conv (k 3, stride 2, padding 1) 3 x 5 x 4 -> BN2d -> ReLU -> max pool (k 2,
/// stride 1) 3 x 4 x 3 -> conv (k 2, stride 1, padding 0) 4 x 3 x 2 -> avg pool (k 2, stride 1) 4 x 2 x 1
/// -> global average 4 -> dense, BN, ReLU, dropout, dense, LayerNorm.
Network every_layer_kind() {
    Network net;
    Conv2dOptions first;
    first.in_channels = 2, first.out_channels = 3, first.height = 9, first.width = 7;
    first.kernel = 3, first.stride = 2, first.padding = 1, first.bias = false, first.seed = 4;
    net.add(Conv2d(first));                                    // -> 3 x 5 x 4
    net.add(BatchNorm2d(3, 5, 4, false, 1e-2f, 0.3f));
    net.add(ReLU());
    net.add(MaxPool2d(5, 4, 2, 1));                            // -> 3 x 4 x 3
    Conv2dOptions second;
    second.in_channels = 3, second.out_channels = 4, second.height = 4, second.width = 3;
    second.kernel = 2, second.stride = 1, second.padding = 0, second.bias = true, second.seed = 5;
    net.add(Conv2d(second));                                   // -> 4 x 3 x 2
    net.add(AvgPool2d(3, 2, 2, 1));                            // -> 4 x 2 x 1
    net.add(GlobalAvgPool(2, 1));                              // -> 4
    net.add(Dense(4, 6, false, 6));
    net.add(BatchNorm(6, true, 1e-3f, 0.2f));
    net.add(ReLU());
    net.add(Dropout(0.25f, 8));
    net.add(Dense(6, 5, true, 7));
    net.add(LayerNorm(0.5f));
    return net;
}

Matrix images(std::size_t rows) {
    Matrix x = xt::zeros<float>({rows, std::size_t{2 * 9 * 7}});
    for (std::size_t k = 0; k < x.size(); ++k) x.data()[k] = std::sin(0.37f * static_cast<float>(k)) * 2.0f;
    return x;
}

}  // namespace

TEST_CASE("model file layers: every layer kind's options survive a round trip (non-square conv geometry, norms, dropout)") {
    Network net = every_layer_kind();
    const Matrix x = images(6);
    const std::string path =
        (std::filesystem::temp_directory_path() / ("ist_layers_" + std::to_string(::getpid()) + ".npz")).string();
    save_model(net, path);
    Network back = load_model(path);
    std::filesystem::remove(path);
    REQUIRE(back.layer_count() == net.layer_count());
    for (int step = 0; step < 2; ++step) CHECK(back.forward(x, Mode::Train) == net.forward(x, Mode::Train));
    CHECK(back.forward(x, Mode::Eval) == net.forward(x, Mode::Eval));
    // Saved after training steps: the running statistics travel too.
    save_model(net, path);
    Network again = load_model(path);
    std::filesystem::remove(path);
    CHECK(again.forward(x, Mode::Eval) == net.forward(x, Mode::Eval));
}
