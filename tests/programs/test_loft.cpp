// ist-loft's LOFT options: --pretrain ist-channels and ist-block-channels (a ResNet's convolutions
// cut by output channel) refused for an MLP, and --iterative K (IMP) reaching the sparsity asked
// for exactly, its pruned weights +0.0f after the retrainings and the fine-tuning, counted in the
// model it saves.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <ist/model_files/model_file.hpp>

#include "program_output.hpp"

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
    const std::string path =
        (std::filesystem::temp_directory_path() / ("ist_loft_imp_" + std::to_string(::getpid()) + ".npz")).string();
    // IST pre-training and its two IMP retrainings (masked subnets) of the MLP (--save-model writes
    // MLPs only: a saved model reads raw rows through a dense standardisation first). --init keep
    // fine-tunes the weights the last retraining left; the count is of exact zeros.
    const std::string out = ist_test::run_program(
        IST_LOFT_EXE, "--pretrain ist --iterative 3 --sparsity 0.9 --init keep --workers 2 --local-steps 2 --rounds 2 "
                      "--fine-tune-rounds 2 --train-rows 128 --quiet --save-model " + path);
    REQUIRE_MESSAGE(out.find("exit 0") != std::string::npos, out);
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
