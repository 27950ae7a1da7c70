#pragma once
// The finite-difference gradient checker shared by the doctest suites (uses doctest's macros,
// so it lives apart from helpers.hpp, which non-doctest test programs include too).
#include <doctest/doctest.h>

#include "helpers.hpp"

namespace ist::test {

/// Of central differences of the loss in entry k of `w` (a parameter of `net`) at steps 4e-3 to
/// 1e-4, the one closest to `analytic`. A step may carry a pre-activation across a ReLU kink, which
/// spoils that difference but not a smaller one; a wrong gradient disagrees at every step size.
inline double closest_central_difference(Network& net, const Matrix& x, const Labels& y, Tensor& w, std::size_t k,
                                         double analytic) {
    double best_error = 1e9, numeric = 0.0;
    for (float h : {4e-3f, 1e-3f, 3e-4f, 1e-4f}) {
        const float saved = w.data()[k];
        w.data()[k] = saved + h;
        const double up = net.loss_and_gradient(x, y);
        w.data()[k] = saved - h;
        const double down = net.loss_and_gradient(x, y);
        w.data()[k] = saved;
        const double estimate = (up - down) / (2.0 * h);
        if (std::abs(analytic - estimate) < best_error) best_error = std::abs(analytic - estimate), numeric = estimate;
    }
    return numeric;
}

/// Compares Network::loss_and_gradient's gradients with central differences of the loss for
/// every parameter entry.
inline void check_gradients(Network net, std::size_t inputs, std::size_t classes, std::uint64_t seed) {
    const Matrix x = test::random_matrix(12, inputs, seed);
    Labels y;
    for (std::size_t i = 0; i < 12; ++i) y.push_back(static_cast<std::uint32_t>((i * 7 + seed) % classes));
    net.loss_and_gradient(x, y);
    std::vector<Tensor> analytic;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) analytic.push_back(net.parameter(i).grad);
    REQUIRE(net.parameter_count() > 0);
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        Tensor& w = net.parameter(i).value;
        REQUIRE(analytic[i].shape() == w.shape());
        for (std::size_t k = 0; k < w.size(); ++k) {
            const double exact = analytic[i].data()[k];
            const double numeric = closest_central_difference(net, x, y, w, k, exact);
            INFO("parameter " << net.parameter(i).name << " #" << i << " entry " << k << " numeric " << numeric
                              << " analytic " << exact);
            CHECK(std::abs(exact - numeric) <= 2e-3 + 2e-2 * std::abs(numeric));
        }
    }
}

}  // namespace ist::test
