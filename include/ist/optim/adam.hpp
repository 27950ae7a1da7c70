#pragma once
// Adam (Kingma & Ba), GIST's local optimiser.
#include <cmath>

#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "ist/optim/sgd.hpp"

namespace ist {

/// m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; w -= lr * m_hat / (sqrt(v_hat) + eps).
/// State per parameter: m then v. Weight decay is L2 added to the gradient.
class Adam {
public:
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
    void reset(std::span<Parameter* const> params) {
        moments_.clear();
        for (const Parameter* p : params) {
            moments_.push_back(xt::zeros<float>(p->value.shape()));
            moments_.push_back(xt::zeros<float>(p->value.shape()));
        }
        steps_ = 0;
    }
    void step(std::span<Parameter* const> params) {
        ++steps_;
        const float c1 = 1.0f - std::pow(beta1_, static_cast<float>(steps_));
        const float c2 = 1.0f - std::pow(beta2_, static_cast<float>(steps_));
        for (std::size_t i = 0; i < params.size(); ++i) {
            Parameter& p = *params[i];
            // In place (xt::noalias): no temporaries of the tensor's size. L2 decay is added into the
            // gradient, which this step consumes.
            if (weight_decay_ > 0.0f) xt::noalias(p.grad) += weight_decay_ * p.value;
            Tensor& m = moments_[2 * i];
            Tensor& v = moments_[2 * i + 1];
            xt::noalias(m) = beta1_ * m + (1.0f - beta1_) * p.grad;
            xt::noalias(v) = beta2_ * v + (1.0f - beta2_) * p.grad * p.grad;
            xt::noalias(p.value) -= (lr_ / c1) * m / (xt::sqrt(v / c2) + eps_);
        }
    }
    std::vector<Tensor>& state() { return moments_; }
    std::uint64_t& step_count() { return steps_; }
    float learning_rate() const { return lr_; }
    void set_learning_rate(float lr) { lr_ = lr; }

private:
    float lr_, beta1_, beta2_, eps_, weight_decay_;
    std::vector<Tensor> moments_;
    std::uint64_t steps_ = 0;
};

}  // namespace ist
