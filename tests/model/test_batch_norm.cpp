// BatchNorm and BatchNorm2d forward passes against their statistics computed by hand in double:
// the gradient checks alone would pass a norm that is consistently wrong in both directions.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <ist/model/batch_norm.hpp>
#include <ist/model/batch_norm2d.hpp>

#include "helpers.hpp"

using namespace ist;

namespace {

/// (x - mean) / sqrt(var + eps) * gamma + beta over `values`, with the biased (1/n) variance.
std::vector<double> normalised(const std::vector<double>& values, double gamma, double beta, double eps) {
    double mean = 0.0, var = 0.0;
    for (double v : values) mean += v;
    mean /= static_cast<double>(values.size());
    for (double v : values) var += (v - mean) * (v - mean);
    var /= static_cast<double>(values.size());
    std::vector<double> out;
    for (double v : values) out.push_back((v - mean) / std::sqrt(var + eps) * gamma + beta);
    return out;
}

}  // namespace

TEST_CASE("batch_norm: BatchNorm uses the batch's mean and biased variance, in training and evaluation") {
    // A batch of 5 is small enough that 1/n and 1/(n-1) variances differ by 25%.
    const Matrix x = test::random_matrix(5, 3, 17) * 3.0f + 1.5f;
    const double eps = 0.1;  // large, so that dropping it shows
    BatchNorm norm(3, true, static_cast<float>(eps));
    const float gamma[] = {0.5f, -2.0f, 1.25f}, beta[] = {0.25f, 1.0f, -0.75f};
    for (std::size_t j = 0; j < 3; ++j) norm.parameters()[0].value(j) = gamma[j], norm.parameters()[1].value(j) = beta[j];
    for (Mode mode : {Mode::Train, Mode::Eval}) {
        Matrix y;
        norm.forward(x, y, mode);
        REQUIRE(y.shape()[0] == 5);
        for (std::size_t j = 0; j < 3; ++j) {
            std::vector<double> column;
            for (std::size_t i = 0; i < 5; ++i) column.push_back(x(i, j));
            const std::vector<double> expected = normalised(column, gamma[j], beta[j], eps);
            for (std::size_t i = 0; i < 5; ++i) {
                CAPTURE(j);
                CAPTURE(i);
                CHECK(y(i, j) == doctest::Approx(expected[i]).epsilon(1e-5));
            }
        }
    }
    BatchNorm plain(3, false);
    Matrix y;
    plain.forward(x, y, Mode::Train);
    std::vector<double> column;
    for (std::size_t i = 0; i < 5; ++i) column.push_back(x(i, 1));
    const std::vector<double> expected = normalised(column, 1.0, 0.0, 1e-5);
    for (std::size_t i = 0; i < 5; ++i) CHECK(y(i, 1) == doctest::Approx(expected[i]).epsilon(1e-5));
}

TEST_CASE("batch_norm: BatchNorm2d takes each channel's statistics over the batch and its pixels") {
    // 3 images of 2 channels of 2 x 3 pixels, channel-major within a row.
    const std::size_t images = 3, channels = 2, pixels = 6;
    const Matrix x = test::random_matrix(images, channels * pixels, 23) * 2.0f - 0.5f;
    const double eps = 0.05;
    BatchNorm2d norm(channels, 2, 3, true, static_cast<float>(eps));
    const float gamma[] = {1.5f, 0.5f}, beta[] = {-1.0f, 2.0f};
    for (std::size_t c = 0; c < channels; ++c)
        norm.parameters()[0].value(c) = gamma[c], norm.parameters()[1].value(c) = beta[c];
    Matrix y;
    norm.forward(x, y, Mode::Train);
    for (std::size_t c = 0; c < channels; ++c) {
        std::vector<double> values;
        for (std::size_t n = 0; n < images; ++n)
            for (std::size_t p = 0; p < pixels; ++p) values.push_back(x(n, c * pixels + p));
        const std::vector<double> expected = normalised(values, gamma[c], beta[c], eps);
        for (std::size_t n = 0; n < images; ++n)
            for (std::size_t p = 0; p < pixels; ++p) {
                CAPTURE(c);
                CAPTURE(n);
                CAPTURE(p);
                CHECK(y(n, c * pixels + p) == doctest::Approx(expected[n * pixels + p]).epsilon(1e-5));
            }
    }
}
