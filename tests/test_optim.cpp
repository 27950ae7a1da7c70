// Local optimizers against their update rules computed by hand in double precision.
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"

using namespace ist;

namespace {

Parameter parameter(float value, float grad) { return {"w", Tensor{value}, Tensor{grad}, {Axis::Shared}}; }

}  // namespace

TEST_CASE("optim: Sgd and weight decay") {
    Parameter p = parameter(2.0f, 0.5f);
    std::vector<Parameter*> ps{&p};
    Sgd sgd(0.1f, 0.01f);
    sgd.step(ps);
    CHECK(p.value(0) == doctest::Approx(2.0 * (1 - 0.1 * 0.01) - 0.1 * 0.5).epsilon(1e-6));
}

TEST_CASE("optim: MomentumSgd accumulates velocity") {
    Parameter p = parameter(1.0f, 1.0f);
    std::vector<Parameter*> ps{&p};
    MomentumSgd opt(0.1f, 0.9f, 0.0f);
    opt.reset(ps);
    opt.step(ps);  // v = 1, w = 0.9
    p.grad(0) = 1.0f;
    opt.step(ps);  // v = 1.9, w = 0.71
    CHECK(p.value(0) == doctest::Approx(0.71).epsilon(1e-6));
    CHECK(opt.state()[0](0) == doctest::Approx(1.9).epsilon(1e-6));
}

TEST_CASE("optim: Adam follows the bias-corrected update, with L2 weight decay") {
    const double lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
    Parameter p = parameter(1.0f, 0.5f);
    std::vector<Parameter*> ps{&p};
    Adam adam(static_cast<float>(lr), 0.9f, 0.999f, 1e-8f, static_cast<float>(wd));
    adam.reset(ps);
    double w = 1.0, m = 0.0, v = 0.0;
    for (int t = 1; t <= 3; ++t) {
        const double grad = 0.5 * t;
        p.grad(0) = static_cast<float>(grad);
        adam.step(ps);
        const double g = grad + wd * w;
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        w -= lr * (m / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + eps);
        CAPTURE(t);
        CHECK(p.value(0) == doctest::Approx(w).epsilon(1e-5));
    }
    CHECK(adam.step_count() == 3);
}
