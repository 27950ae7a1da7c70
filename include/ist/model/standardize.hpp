#pragma once
// The input standardisation as a layer, so that a saved model turns raw rows into predictions by
// itself: the programs put one at the front of the model they save (docs/model_files.md).
#include <cmath>
#include <span>
#include <string>
#include <utility>

#include <xtensor/xtensor.hpp>

#include "ist/core/error.hpp"
#include "ist/model/layer.hpp"

namespace ist {

/// y = (x - mean) * scale, per feature, with scale = 1 / standard deviation of the training
/// rows. Fixed: it has no trainable parameters (mean and scale are saved as the layer's state),
/// and backward passes dL/dx = dL/dy * scale on. It keeps its input's dimension, which IST never
/// cuts, so it is the same in every subnet.
class Standardize {
public:
    static constexpr bool opens_dimension = false;

    /// Throws ConfigError unless mean and scale are non-empty, equally long and finite.
    Standardize(xt::xtensor<float, 1> mean, xt::xtensor<float, 1> scale) : mean_(std::move(mean)), scale_(std::move(scale)) {
        detail::require(mean_.size() > 0, "Standardize: mean and scale need at least one feature");
        detail::require(mean_.size() == scale_.size(), "Standardize: " + std::to_string(mean_.size()) + " means, " +
                                                           std::to_string(scale_.size()) + " scales");
        for (std::size_t j = 0; j < mean_.size(); ++j)
            detail::require(std::isfinite(mean_(j)) && std::isfinite(scale_(j)),
                            "Standardize: the mean or scale of feature " + std::to_string(j) + " is not finite");
    }

    /// The identity on `features` columns (mean 0, scale 1): what a model file's loader builds
    /// before it reads the stored mean and scale.
    explicit Standardize(std::size_t features)
        : Standardize(xt::zeros<float>({features}), xt::ones<float>({features})) {}

    void forward(const Matrix& x, Matrix& y, Mode) {
        const std::size_t rows = x.shape()[0], cols = x.shape()[1];
        detail::require<DataError>(cols == mean_.size(), "Standardize: input has " + std::to_string(cols) +
                                                             " features, the layer standardises " +
                                                             std::to_string(mean_.size()));
        if (y.shape() != x.shape()) y.resize(x.shape());
        for (std::size_t i = 0; i < rows; ++i) {
            const float* xr = x.data() + i * cols;
            float* yr = y.data() + i * cols;
            for (std::size_t j = 0; j < cols; ++j) yr[j] = (xr[j] - mean_.data()[j]) * scale_.data()[j];
        }
    }

    void backward(const Matrix&, const Matrix&, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        const std::size_t rows = dy.shape()[0], cols = dy.shape()[1];
        if (dx->shape() != dy.shape()) dx->resize(dy.shape());
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < cols; ++j) dx->data()[i * cols + j] = dy.data()[i * cols + j] * scale_.data()[j];
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

    std::size_t features() const { return mean_.size(); }
    const xt::xtensor<float, 1>& mean() const { return mean_; }
    /// 1 / standard deviation per feature (1 for a constant feature, which is only centred).
    const xt::xtensor<float, 1>& scale() const { return scale_; }

private:
    xt::xtensor<float, 1> mean_, scale_;
};

}  // namespace ist
