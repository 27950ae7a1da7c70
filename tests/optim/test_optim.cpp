// Local optimizers against their update rules computed by hand in double precision.
#include <doctest/doctest.h>

#include <cmath>

#include "helpers.hpp"

using namespace ist;

namespace {

Parameter parameter(float value, float grad) { return {"w", Tensor{value}, Tensor{grad}, {Axis::Shared}}; }

/// Adam's update rule, written out in double precision: one parameter entry.
struct AdamReference {
    double lr, b1, b2, eps, wd;
    double w, m = 0.0, v = 0.0;
    int t = 0;
    void step(double grad) {
        ++t;
        const double g = grad + wd * w;
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        w -= lr * (m / (1 - std::pow(b1, t))) / (std::sqrt(v / (1 - std::pow(b2, t))) + eps);
    }
};

}  // namespace

TEST_CASE("optim: Sgd and weight decay") {
    Parameter p = parameter(2.0f, 0.5f);
    std::vector<Parameter*> ps{&p};
    Sgd sgd(0.1f, 0.01f);
    auto run = sgd.start(ps);
    run.step(ps);
    CHECK(p.value(0) == doctest::Approx(2.0 * (1 - 0.1 * 0.01) - 0.1 * 0.5).epsilon(1e-6));
    CHECK(run.take_state().tensors.empty());
}

TEST_CASE("optim: plain Sgd steps by lr times the gradient") {
    // Without weight decay Sgd takes its other branch: w -= lr g, by hand 2 - 0.1 * 0.5 (twice).
    Parameter p = parameter(2.0f, 0.5f);
    std::vector<Parameter*> ps{&p};
    auto run = Sgd(0.1f).start(ps);
    run.step(ps);
    CHECK(p.value(0) == doctest::Approx(1.95).epsilon(1e-6));
    run.step(ps);
    CHECK(p.value(0) == doctest::Approx(1.90).epsilon(1e-6));
}

TEST_CASE("optim: MomentumSgd accumulates velocity") {
    Parameter p = parameter(1.0f, 1.0f);
    std::vector<Parameter*> ps{&p};
    MomentumSgd opt(0.1f, 0.9f, 0.0f);
    auto run = opt.start(ps);
    run.step(ps);  // v = 1, w = 0.9
    p.grad(0) = 1.0f;
    run.step(ps);  // v = 1.9, w = 0.71
    CHECK(p.value(0) == doctest::Approx(0.71).epsilon(1e-6));
    CHECK(run.velocity()[0](0) == doctest::Approx(1.9).epsilon(1e-6));
}

TEST_CASE("optim: MomentumSgd with momentum and weight decay, three steps by hand") {
    // v = mu v + g + wd w; w -= lr v, with lr 0.1, mu 0.9, wd 0.1, w0 = 1:
    //   g = 0.5:   v = 0.5 + 0.1              = 0.6      w = 1 - 0.06             = 0.94
    //   g = -0.25: v = 0.54 - 0.25 + 0.094    = 0.384    w = 0.94 - 0.0384        = 0.9016
    //   g = 1:     v = 0.3456 + 1 + 0.09016   = 1.43576  w = 0.9016 - 0.143576    = 0.758024
    Parameter p = parameter(1.0f, 0.0f);
    std::vector<Parameter*> ps{&p};
    auto run = MomentumSgd(0.1f, 0.9f, 0.1f).start(ps);
    const float grads[] = {0.5f, -0.25f, 1.0f};
    const double velocity[] = {0.6, 0.384, 1.43576}, weight[] = {0.94, 0.9016, 0.758024};
    for (int t = 0; t < 3; ++t) {
        CAPTURE(t);
        p.grad(0) = grads[t];
        run.step(ps);
        CHECK(run.velocity()[0](0) == doctest::Approx(velocity[t]).epsilon(1e-6));
        CHECK(p.value(0) == doctest::Approx(weight[t]).epsilon(1e-6));
    }
    const CarriedState state = run.take_state();
    REQUIRE(state.tensors.size() == 1);
    CHECK(state.tensors[0](0) == doctest::Approx(1.43576).epsilon(1e-6));
    CHECK(state.steps == 3);
}

TEST_CASE("optim: Adam follows the bias-corrected update, with L2 weight decay") {
    const double lr = 0.01, wd = 0.1;
    Parameter p = parameter(1.0f, 0.5f);
    std::vector<Parameter*> ps{&p};
    Adam adam(static_cast<float>(lr), 0.9f, 0.999f, 1e-8f, static_cast<float>(wd));
    auto run = adam.start(ps);
    AdamReference reference{lr, 0.9, 0.999, 1e-8, wd, 1.0};
    for (int t = 1; t <= 3; ++t) {
        const double grad = 0.5 * t;
        p.grad(0) = static_cast<float>(grad);
        run.step(ps);
        reference.step(grad);
        CAPTURE(t);
        CHECK(p.value(0) == doctest::Approx(reference.w).epsilon(1e-5));
    }
    CHECK(run.steps() == 3);
}

TEST_CASE("optim: Adam resumed from its carried state continues the reference run") {
    // Two rounds of two steps each, the moments and the step count carried between them, equal
    // one uninterrupted run of the hand-written reference (bias correction uses t = 3, 4 after).
    Parameter p = parameter(-0.5f, 0.0f);
    std::vector<Parameter*> ps{&p};
    const Adam adam(0.05f, 0.8f, 0.99f, 1e-8f, 0.0f);
    AdamReference reference{0.05, 0.8, 0.99, 1e-8, 0.0, -0.5};
    const double grads[] = {0.3, -1.2, 0.7, 0.1};
    CarriedState carried;
    for (int round = 0; round < 2; ++round) {
        auto run = adam.start(ps, std::move(carried));
        for (int k = 0; k < 2; ++k) {
            const double grad = grads[2 * round + k];
            p.grad(0) = static_cast<float>(grad);
            run.step(ps);
            reference.step(grad);
            CAPTURE(reference.t);
            CHECK(p.value(0) == doctest::Approx(reference.w).epsilon(1e-5));
            CHECK(run.moments()[0](0) == doctest::Approx(reference.m).epsilon(1e-5));
            CHECK(run.moments()[1](0) == doctest::Approx(reference.v).epsilon(1e-5));
        }
        carried = run.take_state();
    }
    CHECK(carried.steps == 4);
}

TEST_CASE("optim: carried state that does not fit the parameters is a ConfigError") {
    Parameter p = parameter(1.0f, 0.0f);
    std::vector<Parameter*> ps{&p};
    CHECK_THROWS_WITH_AS(MomentumSgd().start(ps, {{Tensor{1.0f}, Tensor{2.0f}}, 0}),
                         "MomentumSgd: carried state has 2 tensors, expected 1", ConfigError);
    CHECK_THROWS_WITH_AS(Adam().start(ps, {{Tensor{1.0f, 2.0f}, Tensor{3.0f}}, 0}),
                         "Adam: carried state tensor 0 is not shaped like its parameter", ConfigError);
    CHECK_THROWS_AS(Sgd().start(ps, {{Tensor{1.0f}}, 0}), ConfigError);
}
