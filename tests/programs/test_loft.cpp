// ist-loft's LOFT options: --pretrain ist-channels and ist-block-channels (a ResNet's convolutions
// cut by output channel) refused for an MLP, and --iterative K (IMP) reaching the sparsity asked
// for exactly, its pruned weights +0.0f after the retrainings and the fine-tuning, counted in the
// model it saves; a ResNet saved (a Standardize before its first conv) that ist-predict scores as
// ist-loft said.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>
#include <string>
#include <unistd.h>

#include <ist/model/conv2d.hpp>
#include <ist/model/standardize.hpp>
#include <ist/model_files/model_file.hpp>

#include "program_output.hpp"

namespace {

/// Runs ist-loft with `options`, --quiet and --save-model into a scratch file named after `name`;
/// returns the file's path, and what ist-loft printed in `printed`.
std::string loft_saved_model(const std::string& name, const std::string& options, std::string& printed) {
    const std::string path =
        (std::filesystem::temp_directory_path() / ("ist_loft_" + name + "_" + std::to_string(::getpid()) + ".npz")).string();
    printed = ist_test::run_program(IST_LOFT_EXE, options + " --quiet --save-model " + path);
    REQUIRE_MESSAGE(printed.find("exit 0") != std::string::npos, printed);
    return path;
}

/// The number after `label` in `text` ("test accuracy 0.0802228, ..."), with 4 decimals.
std::string loft_four_decimals_after(const std::string& text, const std::string& label) {
    const std::size_t at = text.find(label);
    if (at == std::string::npos) return "no '" + label + "' in: " + text;
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << std::stod(text.substr(at + label.size()));
    return out.str();
}

}  // namespace

TEST_CASE("ist-loft: --pretrain ist-channels and ist-block-channels need a ResNet, and say so") {
    const std::string refused =
        "ist-loft: error: --pretrain ist-channels cuts convolutions by output channel: it needs --model resnet or "
        "resnet-post (an MLP's neurons are what --pretrain ist cuts)\nexit 2";
    CHECK(ist_test::run_program(IST_LOFT_EXE, "--pretrain ist-channels") == refused);  // --model mlp is the default
    CHECK(ist_test::run_program(IST_LOFT_EXE, "--model mlp --pretrain data-parallel,ist-channels") == refused);
    CHECK(ist_test::run_program(IST_LOFT_EXE, "--pretrain ist-block-channels") ==
          "ist-loft: error: --pretrain ist-block-channels cuts convolutions by output channel: it needs --model resnet or "
          "resnet-post (an MLP's neurons are what --pretrain ist cuts)\nexit 2");
}

TEST_CASE("ist-loft: --iterative 3 prunes exactly the sparsity asked for; pruned weights stay +0.0f") {
    // IST pre-training and its two IMP retrainings (masked subnets) of the MLP. --init keep
    // fine-tunes the weights the last retraining left; the count is of exact zeros.
    std::string out;
    const std::string path = loft_saved_model("imp", "--pretrain ist --iterative 3 --sparsity 0.9 --init keep --workers 2 "
                                                     "--local-steps 2 --rounds 2 --fine-tune-rounds 2 --train-rows 128", out);
    const ist::Network net = ist::load_model(path);
    std::filesystem::remove(path);
    std::size_t weights = 0, zeros = 0, negative_zeros = 0;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        const ist::Tensor& w = net.parameter(i).value;
        if (w.dimension() < 2) continue;  // biases and norm parameters are never pruned
        weights += w.size();
        for (float v : w) {
            zeros += v == 0.0f;
            negative_zeros += v == 0.0f && std::signbit(v);
        }
    }
    REQUIRE(weights > 10000);
    CHECK(zeros == static_cast<std::size_t>(std::llround(0.9 * static_cast<double>(weights))));
    CHECK(negative_zeros == 0);
}

TEST_CASE("ist-loft: --model resnet --save-model writes an image model that ist-predict scores as ist-loft said") {
    // Seconds: one round of one local step each, 64 training rows of the 8x8 digits.
    std::string out;
    const std::string path = loft_saved_model("resnet", "--model resnet --pretrain data-parallel --init keep --sparsity 0.5 "
                                                        "--workers 2 --local-steps 1 --rounds 1 --fine-tune-rounds 1 "
                                                        "--train-rows 64", out);
    const std::string predicted = ist_test::run_program(IST_PREDICT_EXE, "--model " + path + " --train-rows 64");
    const ist::Network net = ist::load_model(path);
    std::filesystem::remove(path);
    REQUIRE_MESSAGE(predicted.find("exit 0") != std::string::npos, predicted);
    CHECK(net.layer(0).as<ist::Standardize>() != nullptr);  // raw rows in: the standardisation in front
    CHECK(net.layer(1).as<ist::Conv2d>() != nullptr);
    CHECK(net.input_size() == 64);
    CHECK(loft_four_decimals_after(predicted, "test accuracy ") == loft_four_decimals_after(out, ", test accuracy "));
}
