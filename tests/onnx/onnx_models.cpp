// Trains a small model of one kind briefly, saves it, loads it back, exports the loaded model as
// ONNX, and writes 100 rows with ist's evaluation probabilities for them, for
// onnx_matches_ist.py to run in onnxruntime and compare.
//   onnx_models KIND DIR  ->  DIR/KIND.onnx, DIR/KIND.rows.npy, DIR/KIND.probabilities.npy
//                             (and DIR/KIND.npz: the model file ist-export reads)
// KIND: mlp (BatchNorm with population and with batch statistics, LayerNorm, ReLU, GELU, Dropout),
// cnn (Conv2d, BatchNorm2d, max and average pooling, a dense head), resnet (a pre-activation ResNet,
// residual branches scaled 1/2 as ResIST evaluates them), transformer (causal, padded sequences,
// a block scaled 1/2; not a model file: exported from memory), gcn (a GraphConv model file only,
// which ist-export must refuse by name).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include <ist/ist.hpp>
#include <ist/data/loaders.hpp>
#include <ist/onnx/export.hpp>
#include <ist/onnx/transformer_export.hpp>

namespace {

constexpr std::size_t kScoredRows = 100;

void write_npy(const std::string& path, const ist::Matrix& m) {
    const auto image = ist::detail::npy::npy_image(m.data(), {m.shape()[0], m.shape()[1]});
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    if (!out) throw ist::DataError(path + ": cannot write");
}

/// A few steps of plain gradient descent, so the exported weights and statistics are a trained
/// model's, not an initialisation's.
template <class Model>
void train_briefly(Model& model, const ist::Matrix& x, const ist::Labels& y, int steps, float lr) {
    for (int s = 0; s < steps; ++s) {
        model.loss_and_gradient(x, y);
        for (std::size_t i = 0; i < model.parameter_count(); ++i) model.parameter(i).value -= lr * model.parameter(i).grad;
    }
}

/// Probabilities as ist-predict computes them: exp(log_softmax(logits)) of an evaluation pass.
template <class Model>
ist::Matrix probabilities(Model& model, const ist::Matrix& rows) {
    return xt::exp(ist::log_softmax(model.forward(rows, ist::Mode::Eval)));
}

struct Digits {
    ist::Matrix train, scored;
    ist::Labels labels;
};

Digits digits() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    std::vector<std::uint32_t> first(256), scored(kScoredRows);
    std::iota(first.begin(), first.end(), 0u);
    std::iota(scored.begin(), scored.end(), 0u);
    Digits d;
    ist::Labels unused;
    ist::copy_rows(train, first, d.train, d.labels);
    ist::copy_rows(test, scored, d.scored, unused);
    return d;
}

ist::Network mlp() {
    ist::Network net;
    xt::xtensor<float, 1> mean = xt::linspace<float>(-1.0f, 1.0f, 64), scale = xt::linspace<float>(0.5f, 2.0f, 64);
    net.add(ist::Standardize(mean, scale));
    net.add(ist::Dense(64, 32, true, 1)).add(ist::BatchNorm(32, true, 1e-5f, 0.1f)).add(ist::ReLU()).add(ist::Dropout(0.2f, 2));
    net.add(ist::Dense(32, 24, true, 3)).add(ist::LayerNorm()).add(ist::Gelu());
    net.add(ist::Dense(24, 10, true, 4)).add(ist::BatchNorm(10, false));  // the reference net's final norm: batch statistics
    return net;
}

ist::Network cnn() {
    ist::Network net;
    net.add(ist::Conv2d({.in_channels = 1, .out_channels = 6, .height = 8, .width = 8, .kernel = 3, .padding = 1, .seed = 1}));
    net.add(ist::BatchNorm2d(6, 8, 8, true, 1e-5f, 0.1f)).add(ist::ReLU()).add(ist::MaxPool2d(8, 8, 2));
    net.add(ist::Conv2d({.in_channels = 6, .out_channels = 8, .height = 4, .width = 4, .kernel = 3, .stride = 1, .padding = 1, .seed = 2}));
    net.add(ist::BatchNorm2d(8, 4, 4)).add(ist::ReLU()).add(ist::AvgPool2d(4, 4, 2));  // batch statistics
    net.add(ist::Dense(8 * 2 * 2, 10, true, 3));
    return net;
}

/// Saves `net`, loads it back (the model file is what gets exported) and writes the case.
void network_case(const std::string& dir, const std::string& kind, ist::Network net, const Digits& d,
                  float branch_scale = 1.0f) {
    train_briefly(net, d.train, d.labels, 5, 0.05f);
    ist::refresh_running_statistics(net, d.train, 64);
    const std::string base = dir + "/" + kind;
    ist::save_model(net, base + ".npz");
    ist::Network loaded = ist::load_model(base + ".npz");
    // Model files keep no evaluation scales: set them as a ResIST evaluation does.
    for (std::size_t b = 0; b < loaded.topology()->blocks().size(); ++b)
        loaded.set_unit_scale(loaded.topology()->blocks()[b].unit, branch_scale);
    ist::export_onnx(loaded, base + ".onnx");
    write_npy(base + ".rows.npy", d.scored);
    write_npy(base + ".probabilities.npy", probabilities(loaded, d.scored));
}

/// Sequences of 1 .. 8 tokens (ids 1 .. 19), padded with 0 to 8, and two of padding only.
ist::Matrix token_rows(std::size_t rows, std::uint64_t seed) {
    ist::detail::RandomEngine rng(seed);
    ist::Matrix x = xt::zeros<float>({rows, std::size_t{8}});
    for (std::size_t r = 2; r < rows; ++r) {
        const std::size_t length = 1 + rng() % 8;
        for (std::size_t t = 0; t < length; ++t) x(r, t) = static_cast<float>(1 + rng() % 19);
    }
    return x;
}

void transformer_case(const std::string& dir) {
    ist::Transformer model({.vocabulary = 20, .sequence_length = 8, .width = 16, .heads = 2, .ffn = 24, .blocks = 2,
                            .classes = 3, .causal = true, .seed = 5});
    const ist::Matrix train = token_rows(64, 6);
    ist::Labels labels(64);
    for (std::size_t r = 0; r < labels.size(); ++r) labels[r] = static_cast<std::uint32_t>(train(r, 0)) % 3;
    train_briefly(model, train, labels, 5, 0.05f);
    model.set_unit_scale({model.blocks_dim(), 1}, 0.5f);
    const ist::Matrix scored = token_rows(kScoredRows, 7);
    const std::string base = dir + "/transformer";
    ist::export_onnx(model, base + ".onnx");
    write_npy(base + ".rows.npy", scored);
    write_npy(base + ".probabilities.npy", probabilities(model, scored));
}

void gcn_case(const std::string& dir) {
    ist::Network net;
    net.add(ist::GraphConv(ist::GcnGraph(ist::graph_from_neighbour_lists({{1}, {0, 2}, {1}})), 4, 3));
    ist::save_model(net, dir + "/gcn.npz");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: onnx_models mlp|cnn|resnet|transformer|gcn DIR\n";
        return 2;
    }
    const std::string kind = argv[1], dir = argv[2];
    std::filesystem::create_directories(dir);
    if (kind == "mlp") network_case(dir, kind, mlp(), digits());
    else if (kind == "cnn") network_case(dir, kind, cnn(), digits());
    else if (kind == "resnet")
        network_case(dir, kind,
                     ist::make_preact_resnet({.channels = 1, .height = 8, .width = 8, .classes = 10,
                                              .stage_channels = {4, 8}, .stage_blocks = {2, 2}}),
                     digits(), 0.5f);
    else if (kind == "transformer") transformer_case(dir);
    else if (kind == "gcn") gcn_case(dir);
    else {
        std::cerr << "onnx_models: unknown kind " << kind << '\n';
        return 2;
    }
    return 0;
}
