// IstTrainer: equivalences with plain SGD, determinism, configuration errors, accuracy on real data.
#include <doctest/doctest.h>

#include <ist/data/loaders.hpp>

#include "helpers.hpp"

using namespace ist;

namespace {

TrainerOptions small_options(std::size_t S, std::size_t l, std::size_t rounds) {
    return test::test_options(S, l, rounds, 16, 7);
}

struct Blobs {
    Dataset train = test::blobs(400, 12, 3, 1);
    Dataset test = test::blobs(120, 12, 3, 2);
};

}  // namespace

TEST_CASE("trainer: S = 1, l = 1 IST is plain SGD on the full model, step for step") {
    Blobs data;
    Network reference = make_mlp({12, {16, 16}, 3});
    Network ist_net = reference;
    const TrainerOptions opts = small_options(1, 1, 25);
    IstTrainer trainer(ist_net, opts, NeuronPartition{}, Sgd(0.05f));
    trainer.train(data.train, data.test);

    BatchSampler sampler = worker_sampler(worker_row_pools(data.train.size(), opts)[0], opts, 0);
    Matrix x;
    Labels y;
    const auto params = parameter_pointers(reference);
    auto sgd = Sgd(0.05f).start(params);
    for (int step = 0; step < 25; ++step) {
        sampler.next(data.train, opts.batch_size, x, y);
        reference.loss_and_gradient(x, y);
        sgd.step(params);
    }
    CHECK(test::same_parameters(ist_net, reference));
}

TEST_CASE("trainer: carried momentum state, S = 1, l = 1, equals momentum SGD across rounds") {
    Blobs data;
    Network reference = make_mlp({12, {16}, 3});
    Network ist_net = reference;
    TrainerOptions opts = small_options(1, 1, 10);
    opts.optimizer_state = OptimizerState::Carry;
    IstTrainer trainer(ist_net, opts, NeuronPartition{}, MomentumSgd(0.05f, 0.9f));
    trainer.train(data.train, data.test);

    BatchSampler sampler = worker_sampler(worker_row_pools(data.train.size(), opts)[0], opts, 0);
    MomentumSgd momentum(0.05f, 0.9f);
    const auto params = parameter_pointers(reference);
    auto run = momentum.start(params);
    Matrix x;
    Labels y;
    for (int step = 0; step < 10; ++step) {
        sampler.next(data.train, opts.batch_size, x, y);
        reference.loss_and_gradient(x, y);
        run.step(params);
    }
    CHECK(test::same_parameters(ist_net, reference));

    Network reset_net = make_mlp({12, {16}, 3});
    opts.optimizer_state = OptimizerState::Reset;
    IstTrainer reset_trainer(reset_net, opts, NeuronPartition{}, MomentumSgd(0.05f, 0.9f));
    reset_trainer.train(data.train, data.test);
    CHECK_FALSE(test::same_parameters(reset_net, reference));
}

TEST_CASE("trainer: same seed gives bit-identical weights, threads and serial transports") {
    Blobs data;
    const Network initial = make_mlp({12, {24, 20}, 3});
    auto run = [&](auto transport, std::uint64_t seed) {
        Network net = initial;
        TrainerOptions opts = small_options(4, 5, 6);
        opts.seed = seed;
        IstTrainer trainer(net, opts, NeuronPartition{}, Sgd(0.05f), HolderAverage{}, transport);
        trainer.train(data.train, data.test);
        return net;
    };
    const Network a = run(ThreadsTransport{}, 3);
    CHECK(test::same_parameters(a, run(ThreadsTransport{}, 3)));
    CHECK(test::same_parameters(a, run(SerialTransport{}, 3)));
    CHECK_FALSE(test::same_parameters(a, run(ThreadsTransport{}, 4)));
}

TEST_CASE("trainer: parameters outside every subnet are unchanged by a round") {
    Blobs data;
    Network net = make_mlp({12, {9, 10}, 3});
    const Network before = net;
    const TrainerOptions opts = small_options(3, 4, 1);
    IstTrainer trainer(net, opts, NeuronPartition{}, Sgd(0.1f));
    trainer.train(data.train, data.test);

    PartitionRng rng(opts.seed);  // the trainer's first plan
    const Plan plan = NeuronPartition{}.plan(before.dimensions(), 3, rng);
    auto owner = [&](std::size_t dim, std::uint32_t index) {
        for (std::size_t s = 0; s < plan.size(); ++s)
            for (auto i : *plan[s].dims[dim]) if (i == index) return s;
        return plan.size();
    };
    const Tensor& w_before = before.parameter(3).value;  // hidden2 x hidden1
    const Tensor& w_after = net.parameter(3).value;
    std::size_t off_block = 0, diagonal_changed = 0;
    for (std::uint32_t r = 0; r < 10; ++r)
        for (std::uint32_t c = 0; c < 9; ++c) {
            if (owner(2, r) != owner(1, c)) {
                ++off_block;
                CHECK(w_after(r, c) == w_before(r, c));
            } else {
                diagonal_changed += w_after(r, c) != w_before(r, c);
            }
        }
    CHECK(off_block == 90 - (3 * 3 + 3 * 3 + 4 * 3));
    CHECK(diagonal_changed > 0);
}

TEST_CASE("trainer: impossible configurations throw before training") {
    Network net = make_mlp({12, {8}, 3});
    TrainerOptions opts = small_options(0, 1, 1);
    CHECK_THROWS_WITH_AS(IstTrainer(net, opts), "TrainerOptions: workers (S) must be at least 1, got 0", ConfigError);
    opts = small_options(2, 0, 1);
    CHECK_THROWS_WITH_AS(IstTrainer(net, opts), "TrainerOptions: local_steps (l) must be at least 1, got 0", ConfigError);
    opts = small_options(9, 1, 1);
    CHECK_THROWS_WITH_AS(IstTrainer(net, opts), doctest::Contains("S = 9 workers but dimension 'hidden1' has only 8"), ConfigError);
    opts = small_options(2, 1, 1);
    CHECK_THROWS_WITH_AS(IstTrainer(net, opts, NeuronPartition{}, Sgd(0.0f)),
                         doctest::Contains("Sgd: learning rate must be a positive finite number"), ConfigError);
    CHECK_THROWS_WITH_AS(IstTrainer(net, opts, NeuronPartition{}, Sgd(-1.0f)), doctest::Contains("learning rate"), ConfigError);
    CHECK_THROWS_AS(IstTrainer(net, opts, NeuronPartition{}, Adam(1e-3f, 1.5f)), ConfigError);
}

TEST_CASE("trainer: bad data is refused and the model is untouched") {
    Network net = make_mlp({12, {8}, 3});
    const Network before = net;
    IstTrainer trainer(net, small_options(2, 1, 1));
    Blobs data;
    Dataset wrong_width = test::blobs(50, 11, 3, 1);
    CHECK_THROWS_WITH_AS(trainer.train(wrong_width, data.test), "blobs: 11 features, the model takes 12", DataError);
    Dataset bad_label = data.train;
    bad_label.labels[5] = 3;
    CHECK_THROWS_WITH_AS(trainer.train(bad_label, data.test), doctest::Contains("label 3 at row 5 is out of range for 3 classes"), DataError);
    Dataset nan = data.train;
    nan.features(2, 4) = std::numeric_limits<float>::quiet_NaN();
    CHECK_THROWS_WITH_AS(trainer.train(nan, data.test), "blobs: feature 4 of row 2 is not finite", DataError);
    CHECK(test::same_parameters(net, before));
}

TEST_CASE("trainer: a diverging round throws and keeps the previous model") {
    Blobs data;
    Network net = make_mlp({12, {16}, 3, Norm::None});
    IstTrainer trainer(net, small_options(2, 5, 2), NeuronPartition{}, Sgd(0.05f));
    trainer.train(data.train, data.test);
    const Network good = net;
    trainer.optimizer().set_learning_rate(1e30f);
    trainer.set_rounds(4);
    CHECK_THROWS_AS(trainer.train(data.train, data.test), TrainingError);
    CHECK(test::same_parameters(net, good));
}

TEST_CASE("trainer: callbacks see every round and can stop training") {
    // The stop is decided on a validation split carved out of the training rows, so the test
    // set stays untouched for the final assertion.
    Blobs data;
    const auto [fit, validation] = train_test_split(data.train, 0.25, 5);
    Network net = make_mlp({12, {16}, 3});
    TrainerOptions opts = small_options(2, 5, 50);
    opts.eval_every = 1;
    IstTrainer trainer(net, opts, NeuronPartition{}, Sgd(0.05f));
    std::size_t seen = 0;
    struct Counter {
        std::size_t* seen;
        void on_round_end(const RoundMetrics&) { ++*seen; }
    };
    StopAtAccuracy stop(0.9);
    const TrainResult result = trainer.train(fit, validation, Counter{&seen}, stop);
    CHECK(stop.reached());
    CHECK(result.stopped_early);
    CHECK(seen == result.history.size());
    CHECK(result.history.size() < 50);
    CHECK(result.final_test->accuracy >= 0.9);  // on the validation split
    CHECK(result.history.back().bytes > 0);
    const double test_accuracy = trainer.evaluate(data.test).accuracy;
    MESSAGE("stopped after " << result.history.size() << " rounds; test accuracy " << test_accuracy);
    CHECK(test_accuracy >= 0.85);  // it stops after 2 rounds with 0.93 on the test set
}

TEST_CASE("trainer: bytes per round equal the subnet sizes") {
    Blobs data;
    Network net = make_mlp({12, {16, 16}, 3});
    IstTrainer trainer(net, small_options(4, 1, 1));
    const TrainResult r = trainer.train(data.train, data.test);
    // Each worker receives and returns its subnet: W1 4x12, gamma/beta 4 + 4, W2 4x4, gamma/beta 4 + 4, W3 3x4.
    const std::uint64_t per_worker = (4 * 12 + 4 + 4 + 4 * 4 + 4 + 4 + 3 * 4) * sizeof(float);
    CHECK(r.history[0].bytes == 4 * 2 * per_worker);
    CHECK(r.history[0].max_worker_bytes == 2 * per_worker);
}

TEST_CASE("trainer: IST with S = 4 reaches 0.95 test accuracy on the embedded digits") {
    auto [train, test] = train_test_split(load_digits(), 0.25, 42);
    standardize(train, test);
    Network net = make_mlp({64, {256, 256}, 10});
    TrainerOptions opts;
    opts.workers = 4;
    opts.local_steps = 10;
    opts.rounds = 60;
    opts.batch_size = 64;
    opts.eval_every = 0;
    IstTrainer trainer(net, opts, NeuronPartition{}, Sgd(0.05f));
    const TrainResult result = trainer.train(train, test);
    MESSAGE("digits test accuracy " << result.final_test->accuracy);
    CHECK(result.final_test->accuracy >= 0.95);
}

TEST_CASE("trainer: a step-decay schedule sets each round's learning rate, as SGD with the same drops") {
    const LearningRateSchedule decay = step_decay(8, {0.5, 0.75}, 0.1f);
    CHECK(decay(1, 1.0f) == 1.0f);
    CHECK(decay(4, 1.0f) == 1.0f);
    CHECK(decay(5, 1.0f) == doctest::Approx(0.1f));
    CHECK(decay(6, 1.0f) == doctest::Approx(0.1f));
    CHECK(decay(7, 1.0f) == doctest::Approx(0.01f));
    CHECK_THROWS_WITH_AS(step_decay(8, {1.5}), "step_decay: milestones are fractions of training in (0, 1), got 1.500000",
                         ConfigError);

    Blobs data;
    Network reference = make_mlp({12, {16}, 3});
    Network ist_net = reference;
    const TrainerOptions opts = small_options(1, 2, 8);
    IstTrainer trainer(ist_net, opts, NeuronPartition{}, Sgd(0.2f));
    trainer.set_schedule(decay);
    trainer.train(data.train, data.test);
    CHECK(trainer.optimizer().learning_rate() == doctest::Approx(0.002f));

    BatchSampler sampler = worker_sampler(worker_row_pools(data.train.size(), opts)[0], opts, 0);
    Matrix x;
    Labels y;
    const auto params = parameter_pointers(reference);
    for (std::size_t round = 1; round <= 8; ++round) {
        auto sgd = Sgd(decay(round, 0.2f)).start(params);
        for (int step = 0; step < 2; ++step) {
            sampler.next(data.train, opts.batch_size, x, y);
            reference.loss_and_gradient(x, y);
            sgd.step(params);
        }
    }
    CHECK(test::same_parameters(ist_net, reference));
}
