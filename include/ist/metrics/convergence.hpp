#pragma once
// What a linear-convergence result predicts of a run, measured on its error curve: the error
// floor it settles on and the per-round contraction factor on the way there
// (E e_k <= rho^k e_0 + floor; the masked-neuron theorems of docs/theory.md).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <span>
#include <string>

#include "ist/core/error.hpp"

namespace ist {

/// The error floor of `errors` (errors[k]: after round k, errors[0] before training): the mean
/// of its last `tail_fraction` of rounds (at least one).
inline double error_floor(std::span<const double> errors, double tail_fraction = 0.2) {
    detail::require(errors.size() >= 2, "error_floor: needs the error before and after at least one round");
    detail::require(tail_fraction > 0.0 && tail_fraction <= 1.0,
                    "error_floor: tail fraction must be in (0, 1], got " + std::to_string(tail_fraction));
    const auto rounds = errors.size() - 1;
    const auto tail = std::max<std::size_t>(1, static_cast<std::size_t>(tail_fraction * static_cast<double>(rounds)));
    double sum = 0.0;
    for (std::size_t k = errors.size() - tail; k < errors.size(); ++k) sum += errors[k];
    return sum / static_cast<double>(tail);
}

/// The fitted per-round contraction factor rho of the linear phase of `errors`: exp of the
/// least-squares slope of ln errors[k] against k over the rounds from 0 while the error is above
/// `level` (at least rounds 0 and 1). rho < 1 converges; the closer to 1, the slower. Runs
/// compared with one another are fitted above one level: a curve slows near its floor (and a
/// gradient descent curve as its fast modes die out), so rates fitted over different ranges of
/// error differ for that alone.
inline double fitted_contraction(std::span<const double> errors, double level) {
    detail::require(errors.size() >= 2, "fitted_contraction: needs the error before and after at least one round");
    std::size_t end = 0;
    while (end < errors.size() && errors[end] > level) ++end;
    end = std::max<std::size_t>(end, 2);
    double mean_k = 0.0, mean_log = 0.0;
    for (std::size_t k = 0; k < end; ++k) {
        detail::require(errors[k] > 0.0, "fitted_contraction: error " + std::to_string(k) + " is not positive");
        mean_k += static_cast<double>(k), mean_log += std::log(errors[k]);
    }
    mean_k /= static_cast<double>(end), mean_log /= static_cast<double>(end);
    double covariance = 0.0, variance = 0.0;
    for (std::size_t k = 0; k < end; ++k) {
        const double dk = static_cast<double>(k) - mean_k;
        covariance += dk * (std::log(errors[k]) - mean_log);
        variance += dk * dk;
    }
    return std::exp(covariance / variance);
}

}  // namespace ist
