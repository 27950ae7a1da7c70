// The baselines (ist/baselines.hpp) are policy choices of IstTrainer; these tests pin down that
// they compute what their names promise: data parallel is large-batch SGD, local SGD with l = 1
// is data parallel, and both count the bytes a networked run would move.
#include <doctest/doctest.h>

#include <ist/baselines.hpp>

#include "helpers.hpp"

using namespace ist;

namespace {

TrainerOptions baseline_options(std::size_t S, std::size_t l, std::size_t rounds) {
    return test::test_options(S, l, rounds, 8, 11);
}

struct BaselineBlobs {
    Dataset train = test::blobs(300, 10, 3, 5);
    Dataset test = test::blobs(60, 10, 3, 6);
};

/// Single-worker SGD on the concatenation of the S workers' batches: each step, worker s's next
/// batch (drawn from its own sampler, exactly as the trainer draws it) fills rows s*B..(s+1)*B-1.
Network large_batch_sgd(Network net, const Dataset& data, const TrainerOptions& opts, float lr, std::size_t steps) {
    auto pools = worker_row_pools(data.size(), opts);
    std::vector<BatchSampler> samplers;
    for (std::size_t s = 0; s < opts.workers; ++s) samplers.push_back(worker_sampler(pools[s], opts, s));
    const std::size_t B = opts.batch_size, f = data.feature_count();
    Matrix x = Matrix::from_shape({opts.workers * B, f}), xs;
    Labels y(opts.workers * B), ys;
    const auto params = parameter_pointers(net);
    auto sgd = Sgd(lr).start(params);
    for (std::size_t t = 0; t < steps; ++t) {
        for (std::size_t s = 0; s < opts.workers; ++s) {
            samplers[s].next(data, B, xs, ys);
            std::copy(xs.begin(), xs.end(), x.begin() + static_cast<std::ptrdiff_t>(s * B * f));
            std::copy(ys.begin(), ys.end(), y.begin() + static_cast<std::ptrdiff_t>(s * B));
        }
        net.loss_and_gradient(x, y);
        sgd.step(params);
    }
    return net;
}

/// The same initial model trained by data parallel and by local SGD with `opts`.
std::pair<Network, Network> data_parallel_and_local(const Network& initial, const BaselineBlobs& data,
                                                    const TrainerOptions& opts) {
    std::pair<Network, Network> out{initial, initial};
    DataParallelTrainer<> dp_trainer(out.first, opts, FullModel{}, Sgd(0.1f));
    dp_trainer.train(data.train, data.test);
    LocalSgdTrainer<> local_trainer(out.second, opts, FullModel{}, Sgd(0.1f));
    local_trainer.train(data.train, data.test);
    return out;
}

float largest_parameter(const Network& net) {
    float m = 0.0f;
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        m = std::max(m, xt::amax(xt::abs(net.parameter(i).value))());
    return m;
}

}  // namespace

TEST_CASE("baselines: data parallel with S workers is single-worker SGD on S times the batch") {
    BaselineBlobs data;
    for (const Norm norm : {Norm::Layer, Norm::None})
        for (const std::size_t S : {2u, 3u, 4u}) {
            CAPTURE(S);
            CAPTURE(static_cast<int>(norm));
            const Network initial = make_mlp({10, {12, 9}, 3, norm, 3});
            const TrainerOptions opts = baseline_options(S, 1, 30);
            Network dp = initial;
            DataParallelTrainer<> trainer(dp, opts, FullModel{}, Sgd(0.1f));
            trainer.train(data.train, data.test);
            const Network reference = large_batch_sgd(initial, data.train, opts, 0.1f, 30);
            // The runs really moved (so the equality below is not of two untouched models) ...
            CHECK(test::max_parameter_difference(reference, initial) > 0.05f);
            // ... and agree up to float rounding (summation order differs: per-worker gradients
            // averaged vs one GEMM over the concatenated batch).
            CHECK(test::max_parameter_difference(dp, reference) <= 1e-5f * std::max(1.0f, largest_parameter(reference)));
        }
}

TEST_CASE("baselines: data parallel with l local steps per round is the same large-batch SGD") {
    BaselineBlobs data;
    const Network initial = make_mlp({10, {12}, 3, Norm::None, 4});
    const TrainerOptions opts = baseline_options(3, 5, 4);  // 20 steps in 4 reporting rounds
    Network dp = initial;
    DataParallelTrainer<> trainer(dp, opts, FullModel{}, Sgd(0.1f));
    trainer.train(data.train, data.test);
    const Network reference = large_batch_sgd(initial, data.train, opts, 0.1f, 20);
    CHECK(test::max_parameter_difference(dp, reference) <= 1e-5f * std::max(1.0f, largest_parameter(reference)));
}

TEST_CASE("baselines: the large-batch equivalence needs a model without batch statistics") {
    // With BatchNorm each worker normalises over its own batch, so data parallel is NOT SGD on
    // the concatenated batch: the comparison above would fail on this model.
    BaselineBlobs data;
    const Network initial = make_mlp({10, {12}, 3, Norm::Batch, 4});
    const TrainerOptions opts = baseline_options(2, 1, 10);
    Network dp = initial;
    DataParallelTrainer<> trainer(dp, opts, FullModel{}, Sgd(0.1f));
    trainer.train(data.train, data.test);
    const Network reference = large_batch_sgd(initial, data.train, opts, 0.1f, 10);
    CHECK(test::max_parameter_difference(dp, reference) > 1e-3f);
}

TEST_CASE("baselines: local SGD with l = 1 and plain SGD is data parallel") {
    BaselineBlobs data;
    for (const Norm norm : {Norm::Batch, Norm::Layer, Norm::None}) {
        CAPTURE(static_cast<int>(norm));
        const Network initial = make_mlp({10, {12, 9}, 3, norm, 8});
        const auto [dp, local] = data_parallel_and_local(initial, data, baseline_options(4, 1, 25));
        CHECK(test::max_parameter_difference(dp, initial) > 0.05f);
        CHECK(test::max_parameter_difference(dp, local) <= 1e-5f * std::max(1.0f, largest_parameter(dp)));
    }
}

TEST_CASE("baselines: local SGD with l > 1 is not data parallel") {
    // The equivalence holds only for l = 1: averaging models after several independent steps
    // differs from averaging gradients every step.
    BaselineBlobs data;
    const Network initial = make_mlp({10, {12}, 3, Norm::None, 8});
    const auto [dp, local] = data_parallel_and_local(initial, data, baseline_options(4, 5, 4));
    CHECK(test::max_parameter_difference(dp, local) > 1e-3f);
}

TEST_CASE("baselines: bytes per round, data parallel and local SGD") {
    BaselineBlobs data;
    Network net = make_mlp({10, {12, 9}, 3});
    const std::uint64_t model_bytes = net.parameter_elements() * sizeof(float);
    REQUIRE(model_bytes == (12 * 10 + 12 + 12 + 9 * 12 + 9 + 9 + 3 * 9) * sizeof(float));
    for (const std::size_t S : {2u, 4u})
        for (const std::size_t l : {1u, 3u}) {
            CAPTURE(S);
            CAPTURE(l);
            const TrainerOptions opts = baseline_options(S, l, 2);
            // Data parallel: every step each worker sends its gradient and receives the mean
            // (parameter-server counting): 2 x model bytes per step per worker.
            Network dp = net;
            DataParallelTrainer<> dp_trainer(dp, opts, FullModel{}, Sgd(0.05f));
            const TrainResult d = dp_trainer.train(data.train, data.test);
            for (const RoundMetrics& m : d.history) {
                CHECK(m.max_worker_bytes == 2 * model_bytes * l);
                CHECK(m.bytes == S * 2 * model_bytes * l);
            }
            CHECK(d.history.back().total_bytes == 2 * S * 2 * model_bytes * l);
            // Local SGD: each worker receives the model and returns it once per round, whatever l.
            Network local = net;
            LocalSgdTrainer<> local_trainer(local, opts, FullModel{}, Sgd(0.05f));
            const TrainResult r = local_trainer.train(data.train, data.test);
            for (const RoundMetrics& m : r.history) {
                CHECK(m.max_worker_bytes == 2 * model_bytes);
                CHECK(m.bytes == S * 2 * model_bytes);
            }
            CHECK(r.history.back().total_bytes == 2 * S * 2 * model_bytes);
        }
}
