#pragma once
// Running mean and variance for the batch norms, an option (off by default): the reference IST
// network normalises with the statistics of the batch in evaluation too.
#include <cmath>
#include <cstddef>
#include <string>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist::detail {

/// Exponential moving averages of per-feature batch statistics, PyTorch's convention:
/// running = (1 - momentum) running + momentum batch, with the unbiased batch variance, starting
/// from mean 0 and variance 1. momentum = 0 turns tracking off. Only a layer as wide as its
/// statistics updates them: a subnet's narrower copy trains on batch statistics alone, and its
/// copy is discarded at the merge anyway (see ist::refresh_running_statistics).
class RunningStatistics {
public:
    RunningStatistics(std::size_t features, float momentum, const char* who) : momentum_(momentum) {
        require(momentum >= 0.0f && momentum <= 1.0f,
                std::string(who) + ": momentum must be in [0, 1] (0: no running statistics), got " + std::to_string(momentum));
        if (momentum_ > 0.0f) mean_ = xt::zeros<float>({features}), var_ = xt::ones<float>({features});
    }

    bool enabled() const { return momentum_ > 0.0f; }
    float momentum() const { return momentum_; }
    Tensor& mean() { return mean_; }
    Tensor& variance() { return var_; }
    const Tensor& mean() const { return mean_; }
    const Tensor& variance() const { return var_; }

    /// Folds in one batch: per feature its mean and its sum of squared deviations over `count` values.
    void update(const float* batch_mean, const float* squares, std::size_t features, std::size_t count) {
        if (!enabled() || mean_.size() != features || count < 2) return;
        const float keep = 1.0f - momentum_, unbiased = 1.0f / static_cast<float>(count - 1);
        for (std::size_t j = 0; j < features; ++j) {
            mean_.data()[j] = keep * mean_.data()[j] + momentum_ * batch_mean[j];
            var_.data()[j] = keep * var_.data()[j] + momentum_ * squares[j] * unbiased;
        }
    }

    /// Writes the running mean and 1 / sqrt(running variance + eps) for evaluation.
    void normalisers(xt::xtensor<float, 1>& mean, xt::xtensor<float, 1>& inv_std, float eps, const char* who) const {
        require<DataError>(mean.size() == mean_.size(), std::string(who) + ": input has " + std::to_string(mean.size()) +
                                                            " features, the running statistics " +
                                                            std::to_string(mean_.size()));
        for (std::size_t j = 0; j < mean_.size(); ++j) {
            mean[j] = mean_.data()[j];
            inv_std[j] = 1.0f / std::sqrt(var_.data()[j] + eps);
        }
    }

private:
    float momentum_;
    Tensor mean_, var_;
};

}  // namespace ist::detail
