#pragma once
// Stochastic gradient descent, with optional momentum and L2 weight decay.
#include <cmath>
#include <string>

#include <xtensor/xnoalias.hpp>

#include "ist/core/error.hpp"
#include "ist/optim/optimizer.hpp"

namespace ist {

namespace detail {
inline void check_learning_rate(float lr, const char* who) {
    if (!(lr > 0.0f) || !std::isfinite(lr))
        throw ConfigError(std::string(who) + ": learning rate must be a positive finite number, got " + std::to_string(lr));
}
inline void check_fraction(float v, const char* who, const char* what) {
    if (!(v >= 0.0f && v < 1.0f))
        throw ConfigError(std::string(who) + ": " + what + " must be in [0, 1), got " + std::to_string(v));
}
}  // namespace detail

/// w -= lr * (g + weight_decay * w). The reference IST optimiser (lr 0.01).
class Sgd {
public:
    static constexpr std::size_t state_per_parameter = 0;
    explicit Sgd(float lr = 0.01f, float weight_decay = 0.0f) : lr_(lr), weight_decay_(weight_decay) {}

    void validate() const {
        detail::check_learning_rate(lr_, "Sgd");
        detail::require(weight_decay_ >= 0.0f, "Sgd: weight decay must be >= 0");
    }
    void reset(std::span<Parameter* const>) {}
    void step(std::span<Parameter* const> params) {
        // noalias: one in-place pass; a plain assignment would build a parameter-sized temporary.
        for (Parameter* p : params) {
            if (weight_decay_ > 0.0f) xt::noalias(p->value) = (1.0f - lr_ * weight_decay_) * p->value - lr_ * p->grad;
            else xt::noalias(p->value) -= lr_ * p->grad;
        }
    }
    std::vector<Tensor>& state() { return state_; }
    float learning_rate() const { return lr_; }
    void set_learning_rate(float lr) { lr_ = lr; }

private:
    float lr_, weight_decay_;
    std::vector<Tensor> state_;
};

/// Heavy-ball momentum (PyTorch convention): v = mu v + g + wd w; w -= lr v. ResIST uses mu 0.9,
/// weight decay 5e-4.
class MomentumSgd {
public:
    static constexpr std::size_t state_per_parameter = 1;
    explicit MomentumSgd(float lr = 0.01f, float momentum = 0.9f, float weight_decay = 0.0f)
        : lr_(lr), momentum_(momentum), weight_decay_(weight_decay) {}

    void validate() const {
        detail::check_learning_rate(lr_, "MomentumSgd");
        detail::check_fraction(momentum_, "MomentumSgd", "momentum");
        detail::require(weight_decay_ >= 0.0f, "MomentumSgd: weight decay must be >= 0");
    }
    void reset(std::span<Parameter* const> params) {
        velocity_.clear();
        for (const Parameter* p : params) velocity_.push_back(xt::zeros<float>(p->value.shape()));
    }
    void step(std::span<Parameter* const> params) {
        for (std::size_t i = 0; i < params.size(); ++i) {
            Parameter& p = *params[i];
            if (weight_decay_ > 0.0f) xt::noalias(velocity_[i]) = momentum_ * velocity_[i] + p.grad + weight_decay_ * p.value;
            else xt::noalias(velocity_[i]) = momentum_ * velocity_[i] + p.grad;
            xt::noalias(p.value) -= lr_ * velocity_[i];
        }
    }
    std::vector<Tensor>& state() { return velocity_; }
    float learning_rate() const { return lr_; }
    void set_learning_rate(float lr) { lr_ = lr; }

private:
    float lr_, momentum_, weight_decay_;
    std::vector<Tensor> velocity_;
};

}  // namespace ist
