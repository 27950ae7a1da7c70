#pragma once
// A data set for regression: rows of features with real-valued targets, and the data of the
// masked-neuron analysis (Du et al. 2019; Liao & Kyrillidis 2022): n points on the unit sphere
// with bounded labels.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/detail/random.hpp"

namespace ist {

/// Rows of features with a row of real targets each (one column for scalar regression).
struct RegressionSet {
    Matrix features;  ///< samples x features
    Matrix targets;   ///< samples x outputs
    std::string name;

    std::size_t size() const { return features.shape()[0]; }
    std::size_t feature_count() const { return features.shape()[1]; }
    std::size_t target_count() const { return targets.shape()[1]; }

    /// Throws ist::DataError naming the problem: empty set, a target row count that differs from
    /// the feature rows, NaN/Inf values.
    void validate() const {
        if (size() == 0 || feature_count() == 0 || target_count() == 0) throw DataError(name + ": the data set is empty");
        if (targets.shape()[0] != size())
            throw DataError(name + ": " + std::to_string(targets.shape()[0]) + " target rows for " +
                            std::to_string(size()) + " feature rows");
        check_finite(features, "feature");
        check_finite(targets, "target");
    }

private:
    void check_finite(const Matrix& m, const char* what) const {
        const std::size_t cols = m.shape()[1];
        for (std::size_t k = 0; k < m.size(); ++k)
            if (!std::isfinite(m.data()[k]))
                throw DataError(name + ": " + what + " " + std::to_string(k % cols) + " of row " + std::to_string(k / cols) +
                                " is not finite");
    }
};

/// x / y = the features and targets of rows `rows` of `data`, in that order.
inline void gather_rows(const RegressionSet& data, std::span<const std::uint32_t> rows, Matrix& x, Matrix& y) {
    const std::size_t f = data.feature_count(), t = data.target_count();
    x.resize({rows.size(), f});
    y.resize({rows.size(), t});
    for (std::size_t r = 0; r < rows.size(); ++r) {
        detail::require<DataError>(rows[r] < data.size(), data.name + ": row " + std::to_string(rows[r]) +
                                                              " is out of range for " + std::to_string(data.size()) + " rows");
        std::memcpy(x.data() + r * f, data.features.data() + std::size_t{rows[r]} * f, f * sizeof(float));
        std::memcpy(y.data() + r * t, data.targets.data() + std::size_t{rows[r]} * t, t * sizeof(float));
    }
}

/// The analysis's data: `n` points drawn uniformly on the unit sphere of R^`dims` (normalised
/// standard normals, so ||x_i|| = 1 and no two are parallel almost surely) with labels drawn
/// uniformly in [-1, 1] (bounded, |y_i| <= C = 1, as the analysis assumes; nothing else is
/// assumed of them, so random labels are its hardest case).
inline RegressionSet unit_sphere_regression(std::size_t n, std::size_t dims, std::uint64_t seed) {
    detail::require(n > 0 && dims > 1, "unit_sphere_regression: needs n >= 1 points in at least 2 dimensions, got n = " +
                                           std::to_string(n) + ", dims = " + std::to_string(dims));
    detail::RandomEngine rng(seed);
    RegressionSet out{Matrix::from_shape({n, dims}), Matrix::from_shape({n, 1}), "unit sphere regression"};
    for (std::size_t i = 0; i < n; ++i) {
        double norm2 = 0.0;
        for (std::size_t j = 0; j < dims; ++j) {
            const double v = detail::normal(rng);
            out.features(i, j) = static_cast<float>(v);
            norm2 += v * v;
        }
        const double norm = std::sqrt(norm2);
        for (std::size_t j = 0; j < dims; ++j) out.features(i, j) = static_cast<float>(out.features(i, j) / norm);
        out.targets(i, 0) = detail::uniform<float>(rng, -1.0f, 1.0f);
    }
    return out;
}

}  // namespace ist
