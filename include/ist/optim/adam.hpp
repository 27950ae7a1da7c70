#pragma once
// Adam (Kingma & Ba), GIST's local optimiser.
#include <cmath>
#include <cstdint>
#include <utility>

#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "ist/optim/sgd.hpp"

namespace ist {

/// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr * m_hat / (sqrt(v_hat) + eps).
/// State per parameter: m then v. Weight decay is L2 added to the gradient.
class Adam {
public:
    class Run;
    static constexpr std::size_t state_per_parameter = 2;
    explicit Adam(float lr = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f, float eps = 1e-8f,
                  float weight_decay = 0.0f)
        : lr_(lr), beta1_(beta1), beta2_(beta2), eps_(eps), weight_decay_(weight_decay) {}

    void validate() const {
        detail::check_learning_rate(lr_, "Adam");
        detail::check_fraction(beta1_, "Adam", "beta1");
        detail::check_fraction(beta2_, "Adam", "beta2");
        detail::require(eps_ > 0.0f, "Adam: eps must be > 0");
        detail::require(weight_decay_ >= 0.0f, "Adam: weight decay must be >= 0");
    }
    /// The carried step count continues the bias correction where the last round left it.
    Run start(std::span<Parameter* const> params, CarriedState carried = {}) const;
    float learning_rate() const { return lr_; }
    void set_learning_rate(float lr) { lr_ = lr; }

private:
    float lr_, beta1_, beta2_, eps_, weight_decay_;
};

/// One run of Adam: owns the moments (m then v per parameter) and the step count.
class Adam::Run : public detail::OptimizerRunBase {
public:
    Run(const Adam& settings, std::vector<Tensor> moments, std::uint64_t steps)
        : OptimizerRunBase(std::move(moments), steps), settings_(settings) {}

    void step(std::span<Parameter* const> params) {
        const Adam& a = settings_;
        ++steps_;
        const float c1 = 1.0f - std::pow(a.beta1_, static_cast<float>(steps_));
        const float c2 = 1.0f - std::pow(a.beta2_, static_cast<float>(steps_));
        for (std::size_t i = 0; i < params.size(); ++i) {
            Parameter& p = *params[i];
            // In place (xt::noalias): no temporaries of the tensor's size. L2 decay is added into the
            // gradient, which this step consumes.
            if (a.weight_decay_ > 0.0f) xt::noalias(p.grad) += a.weight_decay_ * p.value;
            Tensor& m = state_[2 * i];
            Tensor& v = state_[2 * i + 1];
            xt::noalias(m) = a.beta1_ * m + (1.0f - a.beta1_) * p.grad;
            xt::noalias(v) = a.beta2_ * v + (1.0f - a.beta2_) * p.grad * p.grad;
            xt::noalias(p.value) -= (a.lr_ / c1) * m / (xt::sqrt(v / c2) + a.eps_);
        }
    }
    const std::vector<Tensor>& moments() const { return state_; }

private:
    Adam settings_;
};

inline Adam::Run Adam::start(std::span<Parameter* const> params, CarriedState carried) const {
    return Run(*this, detail::start_state(params, std::move(carried.tensors), state_per_parameter, "Adam"), carried.steps);
}

}  // namespace ist
