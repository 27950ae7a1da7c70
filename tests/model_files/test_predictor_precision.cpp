// ist::Predictor's precision (ist-predict --precision): fp32 predictions are the network's own fp32
// forward pass bit for bit, even called from a thread set to bf16; bf16 predictions are a forward
// pass written out here whose GEMM inputs are rounded to bfloat16 by hand, and they differ from fp32
// at most by the bound such rounding allows (derived below from |x| |W|). Without a bf16 GEMM
// (OpenBLAS, or a CPU without AVX-512) bf16 is refused, naming the backend.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include <ist/model/activation.hpp>
#include <ist/model/dense.hpp>
#include <ist/model/loss.hpp>
#include <ist/model_files/model_file.hpp>
#include <ist/model_files/predictor.hpp>

#include "helpers.hpp"
#include "../scratch.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

/// x rounded to the nearest bfloat16 (ties to even), as a float: the top 16 bits kept.
float round_to_bf16(float x) {
    std::uint32_t bits = std::bit_cast<std::uint32_t>(x);
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return std::bit_cast<float>(bits & 0xFFFF0000u);
}

/// y = x W^T + b, in double, with x and W rounded by `round` first (identity for fp32).
template <class Round>
std::vector<std::vector<double>> dense_by_hand(const std::vector<std::vector<double>>& x, const Tensor& w, const Tensor& b, Round round) {
    std::vector<std::vector<double>> y(x.size(), std::vector<double>(w.shape()[0]));
    for (std::size_t i = 0; i < x.size(); ++i)
        for (std::size_t j = 0; j < w.shape()[0]; ++j) {
            double sum = b(j);
            for (std::size_t k = 0; k < w.shape()[1]; ++k) sum += double(round(float(x[i][k]))) * double(round(w(j, k)));
            y[i][j] = sum;
        }
    return y;
}

/// The test network: dense 6 -> 16 -> ReLU -> dense 16 -> 3 (two GEMMs, no norm).
Network precision_mlp() {
    Network net;
    net.add(Dense(6, 16, true, 11)).add(ReLU()).add(Dense(16, 3, true, 12));
    return net;
}

std::string precision_scratch(const std::string& name) {
    return ist::test::scratch_path("predictor_precision", name).string();
}

}  // namespace

TEST_CASE("predictor precision: fp32 is the network's own forward pass bit for bit; bf16 rounds the GEMM inputs, within the bound") {
    const Network net = precision_mlp();
    const std::string path = precision_scratch("m.npz");
    save_model(net, path);
    Matrix rows = test::random_matrix(50, 6, 7);
    rows *= 4.0f;  // inputs well away from bf16's grid, so rounding them matters

    Predictor fp32(path);
    CHECK(fp32.precision() == Precision::Fp32);
    Network own = net;
    const Matrix expected = log_softmax(own.forward(rows, Mode::Eval));
    const Matrix got = fp32.log_probabilities(rows);
    CHECK(std::equal(got.begin(), got.end(), expected.begin(), expected.end()));

    if (!detail::gemm_precision_supported(Precision::Bf16, detail::gemm_backend())) {
        const std::string backend = detail::gemm_backend_name(detail::gemm_backend());
        MESSAGE("the GEMM backend " << backend << " has no bf16 here: only its refusal is checked");
        CHECK_THROWS_AS(Predictor(path, Precision::Bf16), ConfigError);
        fs::remove(path);
        return;
    }
    Predictor bf16(path, Precision::Bf16);
    fs::remove(path);
    const Matrix got_bf16 = bf16.log_probabilities(rows);
    {  // the guard is the predictor's: an fp32 predictor called from a bf16 thread stays fp32
        const detail::GemmPrecisionGuard bf16_thread(Precision::Bf16);
        const Matrix again = fp32.log_probabilities(rows);
        CHECK(std::equal(again.begin(), again.end(), expected.begin(), expected.end()));
    }

    // By hand: the two dense layers with their GEMM inputs rounded to bf16 (the ReLU's output too,
    // as the second GEMM reads it), accumulated in double.
    const Tensor w1 = net.layer(0).parameters()[0].value, b1 = net.layer(0).parameters()[1].value;
    const Tensor w2 = net.layer(2).parameters()[0].value, b2 = net.layer(2).parameters()[1].value;
    std::vector<std::vector<double>> x(rows.shape()[0], std::vector<double>(6));
    for (std::size_t i = 0; i < x.size(); ++i)
        for (std::size_t k = 0; k < 6; ++k) x[i][k] = rows(i, k);
    auto hidden = dense_by_hand(x, w1, b1, round_to_bf16);
    for (auto& row : hidden)
        for (double& h : row) h = std::max(h, 0.0);
    const auto logits = dense_by_hand(hidden, w2, b2, round_to_bf16);
    const auto exact = [](float v) { return v; };
    const auto hidden_fp32 = dense_by_hand(x, w1, b1, exact);

    double worst_vs_hand = 0.0, worst_vs_fp32 = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double top = *std::max_element(logits[i].begin(), logits[i].end());
        double sum = 0.0;
        for (double z : logits[i]) sum += std::exp(z - top);
        // The bound of bf16 against fp32: each product of two rounded inputs is off by at most
        // (1 + 2^-9)^2 - 1 < 2^-8 + 2^-17 of |x W|, so a first-layer output by d1 = that times
        // sum |x| |W1| (ReLU passes no more); a logit by d2 = 2^-8 (1 + 2^-9) sum (|h| + d1) |W2| + sum d1 |W2|;
        // a log-probability (log-softmax moves by at most twice the largest logit change) by 2 max d2.
        // 1e-4 covers fp32's own rounding of these sums (16 terms of size ~10: < 1e-5).
        const double unit = std::ldexp(1.0, -8) + std::ldexp(1.0, -17);
        std::vector<double> d1(16);
        for (std::size_t j = 0; j < 16; ++j) {
            double magnitude = 0.0;
            for (std::size_t k = 0; k < 6; ++k) magnitude += std::abs(x[i][k] * w1(j, k));
            d1[j] = unit * magnitude;
        }
        double d2 = 0.0;
        for (std::size_t c = 0; c < 3; ++c) {
            double change = 0.0;
            for (std::size_t j = 0; j < 16; ++j)
                change += (unit * (std::abs(std::max(hidden_fp32[i][j], 0.0)) + d1[j]) + d1[j]) * std::abs(w2(c, j));
            d2 = std::max(d2, change);
        }
        const double bound = 2.0 * d2 + 1e-4;
        for (std::size_t c = 0; c < 3; ++c) {
            worst_vs_hand = std::max(worst_vs_hand, std::abs(got_bf16(i, c) - (logits[i][c] - top - std::log(sum))));
            const double difference = std::abs(got_bf16(i, c) - got(i, c));
            worst_vs_fp32 = std::max(worst_vs_fp32, difference);
            CHECK(difference <= bound);
        }
    }
    MESSAGE("bf16 log-probabilities: max |bf16 - by hand| " << worst_vs_hand << ", max |bf16 - fp32| " << worst_vs_fp32);
    CHECK(worst_vs_hand <= 1e-4);
    CHECK(worst_vs_fp32 >= 20 * worst_vs_hand);  // bf16 really ran: far from fp32, close to the hand-rounded pass

    // evaluate() scores in the predictor's precision too.
    Dataset labelled = test::blobs(50, 6, 3, 5);
    labelled.features = rows;
    CHECK(bf16.evaluate(labelled).loss != fp32.evaluate(labelled).loss);
    CHECK(fp32.evaluate(labelled).loss == doctest::Approx(softmax_cross_entropy(own.forward(rows, Mode::Eval), labelled.labels)));
}
