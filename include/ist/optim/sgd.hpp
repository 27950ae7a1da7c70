#pragma once
// Stochastic gradient descent, with optional momentum and L2 weight decay.
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include <xtensor/xnoalias.hpp>

#include "ist/core/error.hpp"
#include "ist/detail/parallel_ranges.hpp"
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

/// w -= lr * (g + weight_decay * w). The reference IST optimiser (lr 0.01). Without weight decay a
/// parameter whose gradient names its non-zero rows (Parameter::grad_rows) steps only those rows:
/// the same result, O(nnz x width) for a sparse input layer instead of O(features x width).
/// MomentumSgd and Adam step every element (their state moves a weight whose gradient is zero).
class Sgd {
public:
    class Run;
    static constexpr std::size_t state_per_parameter = 0;
    explicit Sgd(float lr = 0.01f, float weight_decay = 0.0f) : lr_(lr), weight_decay_(weight_decay) {}

    void validate() const {
        detail::check_learning_rate(lr_, "Sgd");
        detail::require(weight_decay_ >= 0.0f, "Sgd: weight decay must be >= 0");
    }
    Run start(std::span<Parameter* const> params, CarriedState carried = {}) const;
    float learning_rate() const { return lr_; }
    void set_learning_rate(float lr) { lr_ = lr; }

private:
    float lr_, weight_decay_;
};

/// One run of Sgd: no state besides the step count.
class Sgd::Run : public detail::OptimizerRunBase {
public:
    Run(const Sgd& settings, std::uint64_t steps) : OptimizerRunBase({}, steps), settings_(settings) {}

    void step(std::span<Parameter* const> params) {
        const float lr = settings_.lr_, weight_decay = settings_.weight_decay_;
        // noalias: one in-place pass; a plain assignment would build a parameter-sized temporary.
        // Element ranges in parallel when BLAS has several threads (detail/parallel_ranges.hpp).
        for (Parameter* p : params) {
            if (p->grad.shape() != p->value.shape()) {  // a broadcast gradient: one pass, as ever
                update(p->value, p->grad, lr, weight_decay);
                continue;
            }
            if (p->grad_rows && weight_decay == 0.0f) {  // elsewhere w -= lr * 0 leaves w as it is
                update_rows(*p, lr);
                continue;
            }
            detail::parallel_ranges(p->value.size(), 1, [&](std::size_t from, std::size_t to) {
                auto value = detail::flat_range(p->value.data(), from, to);
                update(value, detail::flat_range(std::as_const(p->grad).data(), from, to), lr, weight_decay);
            });
        }
        ++steps_;
    }

private:
    /// Only the rows Parameter::grad_rows names, each by the same update as the full pass (so the
    /// result is bit-identical): O(rows x row length), e.g. O(nnz x width) for SparseDense.
    static void update_rows(Parameter& p, float lr) {
        const std::size_t row_length = p.value.shape()[0] == 0 ? 0 : p.value.size() / p.value.shape()[0];
        for (std::uint32_t row : *p.grad_rows) {
            const std::size_t from = std::size_t{row} * row_length, to = from + row_length;
            auto value = detail::flat_range(p.value.data(), from, to);
            update(value, detail::flat_range(std::as_const(p.grad).data(), from, to), lr, 0.0f);
        }
    }

    template <class Value, class Grad>
    static void update(Value& value, const Grad& grad, float lr, float weight_decay) {
        if (weight_decay > 0.0f) xt::noalias(value) = (1.0f - lr * weight_decay) * value - lr * grad;
        else xt::noalias(value) -= lr * grad;
    }

    Sgd settings_;
};

inline Sgd::Run Sgd::start(std::span<Parameter* const> params, CarriedState carried) const {
    detail::start_state(params, std::move(carried.tensors), state_per_parameter, "Sgd");  // checks nothing was carried
    return Run(*this, carried.steps);
}

/// Heavy-ball momentum (PyTorch convention): v = mu v + g + wd w; w -= lr v. ResIST uses mu 0.9,
/// weight decay 5e-4.
class MomentumSgd {
public:
    class Run;
    static constexpr std::size_t state_per_parameter = 1;
    explicit MomentumSgd(float lr = 0.01f, float momentum = 0.9f, float weight_decay = 0.0f)
        : lr_(lr), momentum_(momentum), weight_decay_(weight_decay) {}

    void validate() const {
        detail::check_learning_rate(lr_, "MomentumSgd");
        detail::check_fraction(momentum_, "MomentumSgd", "momentum");
        detail::require(weight_decay_ >= 0.0f, "MomentumSgd: weight decay must be >= 0");
    }
    Run start(std::span<Parameter* const> params, CarriedState carried = {}) const;
    float learning_rate() const { return lr_; }
    void set_learning_rate(float lr) { lr_ = lr; }

private:
    float lr_, momentum_, weight_decay_;
};

/// One run of MomentumSgd: owns the velocity, one tensor per parameter.
class MomentumSgd::Run : public detail::OptimizerRunBase {
public:
    Run(const MomentumSgd& settings, std::vector<Tensor> velocity, std::uint64_t steps)
        : OptimizerRunBase(std::move(velocity), steps), settings_(settings) {}

    void step(std::span<Parameter* const> params) {
        const float lr = settings_.lr_, momentum = settings_.momentum_, weight_decay = settings_.weight_decay_;
        for (std::size_t i = 0; i < params.size(); ++i) {
            Parameter& p = *params[i];
            Tensor& v = state_[i];
            if (weight_decay > 0.0f) xt::noalias(v) = momentum * v + p.grad + weight_decay * p.value;
            else xt::noalias(v) = momentum * v + p.grad;
            xt::noalias(p.value) -= lr * v;
        }
        ++steps_;
    }
    const std::vector<Tensor>& velocity() const { return state_; }

private:
    MomentumSgd settings_;
};

inline MomentumSgd::Run MomentumSgd::start(std::span<Parameter* const> params, CarriedState carried) const {
    return Run(*this, detail::start_state(params, std::move(carried.tensors), state_per_parameter, "MomentumSgd"),
               carried.steps);
}

}  // namespace ist
