// IstTrainer against oracles written with plain loops in the test, not the library's own code:
// one whole IST round (extract, one gradient step per worker, merge) and momentum carried across
// rounds.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <thread>
#include <vector>

#define IST_CUSTOM_TRANSPORT_NO_MAIN
#include "../../examples/custom_transport.cpp"
#include "helpers.hpp"

using namespace ist;

namespace {

/// Dense -> ReLU -> Dense with biases, in double, row-major: w1 is hidden x in, w2 classes x hidden.
struct TinyMlp {
    std::size_t in = 0, hidden = 0, classes = 0;
    std::vector<double> w1, b1, w2, b2;
};

std::vector<double> to_doubles(const Tensor& t) { return {t.begin(), t.end()}; }

/// The parameters of a make_mlp({in, {hidden}, classes, Norm::None}) network.
TinyMlp read_mlp(const Network& net) {
    REQUIRE(net.parameter_count() == 4);
    const Tensor& w1 = net.parameter(0).value;
    const Tensor& w2 = net.parameter(2).value;
    return {w1.shape()[1], w1.shape()[0], w2.shape()[0], to_doubles(w1), to_doubles(net.parameter(1).value),
            to_doubles(w2), to_doubles(net.parameter(3).value)};
}

/// The subnet holding hidden neurons `held` (sorted): their rows of w1 and b1, their columns of
/// w2, and all of b2.
TinyMlp extract(const TinyMlp& full, const std::vector<std::uint32_t>& held) {
    TinyMlp sub{full.in, held.size(), full.classes, {}, {}, {}, full.b2};
    for (std::uint32_t k : held) {
        for (std::size_t j = 0; j < full.in; ++j) sub.w1.push_back(full.w1[k * full.in + j]);
        sub.b1.push_back(full.b1[k]);
    }
    for (std::size_t c = 0; c < full.classes; ++c)
        for (std::uint32_t k : held) sub.w2.push_back(full.w2[c * full.hidden + k]);
    return sub;
}

/// One plain SGD step on the mean softmax cross-entropy of every row of `data`.
void sgd_step(TinyMlp& m, const Dataset& data, double lr) {
    const std::size_t h = m.hidden, n_rows = data.size();
    std::vector<double> gw1(m.w1.size(), 0.0), gb1(h, 0.0), gw2(m.w2.size(), 0.0), gb2(m.classes, 0.0);
    for (std::size_t n = 0; n < n_rows; ++n) {
        std::vector<double> z(h), a(h), p(m.classes), da(h, 0.0);
        for (std::size_t k = 0; k < h; ++k) {
            z[k] = m.b1[k];
            for (std::size_t j = 0; j < m.in; ++j) z[k] += m.w1[k * m.in + j] * data.features(n, j);
            a[k] = std::max(z[k], 0.0);
        }
        double top = -1e300, total = 0.0;
        for (std::size_t c = 0; c < m.classes; ++c) {
            p[c] = m.b2[c];
            for (std::size_t k = 0; k < h; ++k) p[c] += m.w2[c * h + k] * a[k];
            top = std::max(top, p[c]);
        }
        for (double& v : p) total += (v = std::exp(v - top));
        for (std::size_t c = 0; c < m.classes; ++c) {
            const double d = (p[c] / total - (c == data.labels[n] ? 1.0 : 0.0)) / static_cast<double>(n_rows);
            gb2[c] += d;
            for (std::size_t k = 0; k < h; ++k) {
                gw2[c * h + k] += d * a[k];
                da[k] += d * m.w2[c * h + k];
            }
        }
        for (std::size_t k = 0; k < h; ++k) {
            const double dz = z[k] > 0.0 ? da[k] : 0.0;
            gb1[k] += dz;
            for (std::size_t j = 0; j < m.in; ++j) gw1[k * m.in + j] += dz * data.features(n, j);
        }
    }
    auto descend = [lr](std::vector<double>& w, const std::vector<double>& g) {
        for (std::size_t i = 0; i < w.size(); ++i) w[i] -= lr * g[i];
    };
    descend(m.w1, gw1), descend(m.b1, gb1), descend(m.w2, gw2), descend(m.b2, gb2);
}

/// IST's merge: every entry becomes the mean of the copies of the workers that held it (a hidden
/// neuron's row of w1, bias and column of w2: its holders; b2: every worker); entries nobody held
/// keep their value.
TinyMlp merge(const TinyMlp& full, const std::vector<TinyMlp>& subs, const std::vector<std::vector<std::uint32_t>>& held) {
    TinyMlp out = full;
    std::fill(out.b2.begin(), out.b2.end(), 0.0);
    for (const TinyMlp& sub : subs)
        for (std::size_t c = 0; c < full.classes; ++c) out.b2[c] += sub.b2[c] / static_cast<double>(subs.size());
    for (std::uint32_t k = 0; k < full.hidden; ++k) {
        std::vector<std::pair<std::size_t, std::size_t>> holders;  // (worker, position of k in its subnet)
        for (std::size_t s = 0; s < subs.size(); ++s)
            for (std::size_t pos = 0; pos < held[s].size(); ++pos)
                if (held[s][pos] == k) holders.emplace_back(s, pos);
        if (holders.empty()) continue;
        const double share = 1.0 / static_cast<double>(holders.size());
        out.b1[k] = 0.0;
        for (std::size_t j = 0; j < full.in; ++j) out.w1[k * full.in + j] = 0.0;
        for (std::size_t c = 0; c < full.classes; ++c) out.w2[c * full.hidden + k] = 0.0;
        for (auto [s, pos] : holders) {
            const TinyMlp& sub = subs[s];
            out.b1[k] += share * sub.b1[pos];
            for (std::size_t j = 0; j < full.in; ++j) out.w1[k * full.in + j] += share * sub.w1[pos * full.in + j];
            for (std::size_t c = 0; c < full.classes; ++c) out.w2[c * full.hidden + k] += share * sub.w2[c * sub.hidden + pos];
        }
    }
    return out;
}

/// Checks every parameter of `net` against `expected` within 1e-6 (relative, or absolute below 1).
void check_parameters(const Network& net, const TinyMlp& expected) {
    const TinyMlp got = read_mlp(net);
    const std::vector<double>* want[] = {&expected.w1, &expected.b1, &expected.w2, &expected.b2};
    const std::vector<double>* have[] = {&got.w1, &got.b1, &got.w2, &got.b2};
    for (std::size_t p = 0; p < 4; ++p)
        for (std::size_t i = 0; i < want[p]->size(); ++i) {
            CAPTURE(p);
            CAPTURE(i);
            CHECK((*have[p])[i] == doctest::Approx((*want[p])[i]).epsilon(1e-6));
        }
}

/// Largest absolute difference between two parameter lists.
double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
    double worst = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    return worst;
}

/// The net one IST round of `opts` (l = 1, full batch, plain SGD at `lr`) makes of `before`, a
/// make_mlp({5, {7}, 3, Norm::None, 3}) network (`net` has its shapes), computed by hand.
TinyMlp one_round_by_hand(const TinyMlp& before, const Network& net, const TrainerOptions& opts, const Dataset& data,
                          double lr) {
    PartitionRng rng(opts.seed);  // the trainer's first plan
    const Plan plan = NeuronPartition{}.plan(net.dimensions(), opts.workers, rng);
    REQUIRE(net.dimensions()[1].name == "hidden1");
    std::vector<std::vector<std::uint32_t>> held;
    std::vector<int> owners(7, 0);
    for (const WorkerPlan& wp : plan) {
        CHECK_FALSE(wp.dims[0].has_value());  // every worker sees every input and every class
        CHECK_FALSE(wp.dims[2].has_value());
        REQUIRE(wp.dims[1].has_value());
        held.push_back(*wp.dims[1]);
        for (std::uint32_t k : held.back()) ++owners.at(k);
    }
    CHECK(std::all_of(owners.begin(), owners.end(), [](int n) { return n == 1; }));  // a disjoint cover

    std::vector<TinyMlp> subs;
    for (const auto& h : held) {
        subs.push_back(extract(before, h));
        sgd_step(subs.back(), data, lr);
    }
    const TinyMlp expected = merge(before, subs, held);
    CHECK(max_difference(expected.w1, before.w1) > 1e-2);  // the round did move the weights
    CHECK(max_difference(expected.b2, before.b2) > 1e-2);
    return expected;
}

}  // namespace

TEST_CASE("trainer: one IST round (S = 2, l = 1, full batch, plain SGD) equals the round computed by hand") {
    // Not bit-identical: the library sums in float through BLAS in its own order, the oracle in
    // double; one step of lr 0.5 moves the weights by ~0.1 and the two agree to ~1e-7.
    const Dataset data = test::blobs(24, 5, 3, 8);
    Network net = make_mlp({5, {7}, 3, Norm::None, 3});
    const TinyMlp before = read_mlp(net);
    TrainerOptions opts = test::test_options(2, 1, 1, 24, 5);
    opts.batches = Batches::FullSet;
    IstTrainer trainer(net, opts, NeuronPartition{}, Sgd(0.5f));
    trainer.train(data, data);
    check_parameters(net, one_round_by_hand(before, net, opts, data, 0.5));
}

TEST_CASE("trainer: one IST round over a Wire, rank 0 merging each package as it is back, equals the round computed by hand") {
    // Each worker's rows of w1 and columns of w2 are written in during the round (twice would undo
    // them, never would keep the old ones), the shared b2 averaged at its end.
    const Dataset data = test::blobs(24, 5, 3, 8);
    TrainerOptions opts = test::test_options(3, 1, 1, 24, 5);
    opts.batches = Batches::FullSet;
    std::vector<Network> nets(3, make_mlp({5, {7}, 3, Norm::None, 3}));
    const TinyMlp before = read_mlp(nets[0]);
    auto post = std::make_shared<MailboxWire::Post>(3);
    std::vector<std::exception_ptr> errors(3);
    {
        std::vector<std::jthread> ranks;
        for (std::size_t r = 0; r < 3; ++r)
            ranks.emplace_back([&, r] {
                try {
                    IstTrainer<Network, NeuronPartition, Sgd, HolderAverage, WireTransport<MailboxWire>> trainer(
                        nets[r], opts, NeuronPartition{}, Sgd(0.5f), HolderAverage(), WireTransport(MailboxWire(post, r)));
                    trainer.train(data, data);
                } catch (...) {
                    errors[r] = std::current_exception();
                }
            });
    }
    for (const std::exception_ptr& e : errors) REQUIRE_FALSE(e);
    check_parameters(nets[0], one_round_by_hand(before, nets[0], opts, data, 0.5));
}

TEST_CASE("trainer: carried momentum with weight decay equals a hand-written momentum loop across rounds") {
    // S = 1, l = 3, 4 rounds: the velocity must survive the merges between rounds. The oracle is
    // v = mu v + g + wd w; w -= lr v over the trainer's batches, with gradients from a copy of the
    // model; a velocity reset every round is far from it.
    const Dataset data = test::blobs(200, 6, 3, 4);
    const Network initial = make_mlp({6, {10}, 3});
    Network net = initial;
    TrainerOptions opts = test::test_options(1, 3, 4, 16, 9);
    opts.optimizer_state = OptimizerState::Carry;
    const float lr = 0.05f, mu = 0.9f, wd = 0.01f;
    IstTrainer trainer(net, opts, NeuronPartition{}, MomentumSgd(lr, mu, wd));
    trainer.train(data, data);

    auto hand_run = [&](bool carry) {
        Network reference = initial;
        BatchSampler sampler = worker_sampler(worker_row_pools(data.size(), opts)[0], opts, 0);
        std::vector<std::vector<float>> velocity(reference.parameter_count());
        Matrix x;
        Labels y;
        for (std::size_t round = 0; round < opts.rounds; ++round)
            for (std::size_t step = 0; step < opts.local_steps; ++step) {
                sampler.next(data, opts.batch_size, x, y);
                reference.loss_and_gradient(x, y);
                for (std::size_t i = 0; i < reference.parameter_count(); ++i) {
                    Parameter& p = reference.parameter(i);
                    std::vector<float>& v = velocity[i];
                    if (v.empty() || (!carry && step == 0)) v.assign(p.value.size(), 0.0f);
                    for (std::size_t k = 0; k < v.size(); ++k) {
                        v[k] = mu * v[k] + p.grad.data()[k] + wd * p.value.data()[k];
                        p.value.data()[k] -= lr * v[k];
                    }
                }
            }
        return reference;
    };
    const Network carried = hand_run(true), reset = hand_run(false);
    // Bit-identical today (same float operations in the same order); the tolerance leaves room
    // for a compiler that contracts the library's update into fused multiply-adds.
    CHECK(test::max_parameter_difference(net, carried) < 1e-5f);
    CHECK(test::max_parameter_difference(net, reset) > 1e-3f);
}
