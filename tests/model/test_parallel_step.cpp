// The non-GEMM work of a step (BatchNorm, ReLU, the SGD update) runs over feature / element ranges
// in parallel when OpenBLAS has several threads (detail/parallel_ranges.hpp). The split must not
// change a single bit: each layer is run at 1 and at 2 BLAS threads on the same input and the
// results compared exactly. Widths that are not multiples of the range alignment (16) check the
// uneven last range; the sizes are above the threshold at which the work is split.
#include <doctest/doctest.h>

#include <cstring>

#include <ist/detail/blas_threads.hpp>
#include <ist/detail/parallel_ranges.hpp>
#include <ist/model/activation.hpp>
#include <ist/model/batch_norm.hpp>
#include <ist/optim/sgd.hpp>

#include "helpers.hpp"

using namespace ist;

namespace {

template <class A, class B>
bool same_bits(const A& a, const B& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct NormRun {
    Matrix y, dx, y_eval;
    Tensor gamma_grad, beta_grad;
};

/// Forward (train), backward and an evaluation pass of a BatchNorm with running statistics.
NormRun run_norm(int threads, bool affine, const Matrix& x, const Matrix& dy) {
    detail::BlasThreadsGuard guard(threads);
    BatchNorm norm(x.shape()[1], affine, 1e-5f, /*momentum=*/0.1f);
    NormRun r;
    norm.forward(x, r.y, Mode::Train);
    norm.backward(x, r.y, dy, &r.dx);
    if (affine) r.gamma_grad = norm.parameters()[0].grad, r.beta_grad = norm.parameters()[1].grad;
    norm.forward(x, r.y_eval, Mode::Eval);  // frozen: running statistics
    return r;
}

}  // namespace

TEST_CASE("parallel_step: BatchNorm, ReLU and Sgd give the same bits at 1 and 2 BLAS threads") {
    if (!openblas_set_num_threads) return;  // another BLAS: nothing is split
    const Matrix x = test::random_matrix(100, 1003, 5) * 2.0f + 0.5f;
    const Matrix dy = test::random_matrix(100, 1003, 6);
    {
        detail::BlasThreadsGuard guard(2);
        REQUIRE(detail::elementwise_threads() == 2);
    }
    for (bool affine : {true, false}) {
        CAPTURE(affine);
        const NormRun one = run_norm(1, affine, x, dy), two = run_norm(2, affine, x, dy);
        CHECK(same_bits(one.y, two.y));
        CHECK(same_bits(one.dx, two.dx));
        CHECK(same_bits(one.y_eval, two.y_eval));
        if (affine) CHECK((same_bits(one.gamma_grad, two.gamma_grad) && same_bits(one.beta_grad, two.beta_grad)));
    }
    Matrix relu_y[2], relu_dx[2];
    for (int t : {1, 2}) {
        detail::BlasThreadsGuard guard(t);
        ReLU relu;
        relu.forward(x, relu_y[t - 1], Mode::Train);
        relu.backward(x, relu_y[t - 1], dy, &relu_dx[t - 1]);
    }
    CHECK(same_bits(relu_y[0], relu_y[1]));
    CHECK(same_bits(relu_dx[0], relu_dx[1]));
    for (float weight_decay : {0.0f, 5e-4f}) {
        CAPTURE(weight_decay);
        Parameter p[2];
        for (int t : {1, 2}) {
            detail::BlasThreadsGuard guard(t);
            p[t - 1] = {"w", Tensor(x), Tensor(dy), {Axis::Out, Axis::In}};
            Parameter* params[] = {&p[t - 1]};
            Sgd::Run run = Sgd(0.05f, weight_decay).start(params);
            run.step(params);
            run.step(params);
        }
        CHECK(same_bits(p[0].value, p[1].value));
    }
}

TEST_CASE("parallel_step: parallel_ranges covers every item once, in aligned ranges") {
    detail::BlasThreadsGuard guard(2);
    for (std::size_t items : {std::size_t{0}, std::size_t{5}, std::size_t{1003}, std::size_t{70000}}) {
        std::vector<int> seen(items, 0);
        detail::parallel_ranges(items, 1, [&](std::size_t from, std::size_t to) {
            CHECK((from % 16 == 0 || from == to));
            for (std::size_t i = from; i < to; ++i) ++seen[i];
        }, 16, 1);
        for (int s : seen) REQUIRE(s == 1);
    }
}
