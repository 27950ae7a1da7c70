#pragma once
// Squared error for regression: half the squared distance of predictions to targets, mean over
// the batch (the library's convention for every loss, so a learning rate does not depend on the
// batch size). Sum-of-squares analyses (L = ||y - u||^2 / 2 over n rows) take steps eta = lr / n.
#include <string>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// (1 / 2 rows) * sum over rows and columns of (predictions - targets)^2, accumulated in double;
/// writes dLoss/dpredictions = (predictions - targets) / rows into `grad` if given.
inline float squared_error(const Matrix& predictions, const Matrix& targets, Matrix* grad = nullptr) {
    detail::require<DataError>(predictions.shape() == targets.shape(),
                               "squared_error: predictions are " + std::to_string(predictions.shape()[0]) + " x " +
                                   std::to_string(predictions.shape()[1]) + ", targets " +
                                   std::to_string(targets.shape()[0]) + " x " + std::to_string(targets.shape()[1]));
    const std::size_t rows = predictions.shape()[0];
    detail::require<DataError>(rows > 0, "squared_error: no rows");
    if (grad) grad->resize(predictions.shape());
    double sum = 0.0;
    for (std::size_t k = 0; k < predictions.size(); ++k) {
        const float residual = predictions.data()[k] - targets.data()[k];
        sum += static_cast<double>(residual) * residual;
        if (grad) grad->data()[k] = residual / static_cast<float>(rows);
    }
    return static_cast<float>(sum / (2.0 * static_cast<double>(rows)));
}

}  // namespace ist
