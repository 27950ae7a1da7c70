// Faulty workers on the threads transport: failures and stragglers are dropped for the round,
// training goes on, and nothing they held is lost or corrupted.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "faulty_transport.hpp"
#include "helpers.hpp"

using namespace ist;
using namespace std::chrono_literals;

namespace {

/// The real ThreadsTransport, with chosen (round, worker) pairs made to throw or to stall.
using FaultyTransport = test::FaultyTransport<ThreadsTransport>;

TrainerOptions options(std::size_t S, std::size_t rounds) { return test::test_options(S, 5, rounds, 16, 3); }

ThreadsTransport::Options dropping() {
    ThreadsTransport::Options o;
    o.drop_failed_workers = true;
    return o;
}

bool all_finite(const Network& net) {
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        for (float v : net.parameter(i).value)
            if (!std::isfinite(v)) return false;
    return true;
}

struct Blobs {
    Dataset train = test::blobs(600, 12, 3, 1);
    Dataset test = test::blobs(150, 12, 3, 2);
};

}  // namespace

TEST_CASE("faults: by default a failing worker aborts the round with its own error, model untouched") {
    Blobs data;
    Network net = make_mlp({12, {16}, 3});
    const Network before = net;
    IstTrainer trainer(net, options(3, 2), NeuronPartition(), Sgd(0.05f), HolderAverage(),
                       FaultyTransport({}, {{1, 2}}));
    CHECK_THROWS_WITH_AS(trainer.train(data.train, data.test), "injected failure", std::runtime_error);
    CHECK(test::same_parameters(net, before));
}

TEST_CASE("faults: failed workers are dropped, training completes close to the fault-free run") {
    Blobs data;
    const Network initial = make_mlp({12, {24, 24}, 3});
    Network clean = initial, faulty = initial;
    IstTrainer reference(clean, options(4, 12), NeuronPartition(), Sgd(0.05f));
    const double clean_accuracy = reference.train(data.train, data.test).final_test->accuracy;

    IstTrainer trainer(faulty, options(4, 12), NeuronPartition(), Sgd(0.05f), HolderAverage(),
                       FaultyTransport(dropping(), {{2, 1}, {5, 3}, {5, 0}, {9, 2}}));
    const TrainResult result = trainer.train(data.train, data.test);
    REQUIRE(result.history.size() == 12);
    CHECK(result.history[1].dropped_workers == std::vector<std::size_t>{1});
    CHECK(result.history[4].dropped_workers == std::vector<std::size_t>{0, 3});
    CHECK(result.history[1].failures.at(0) == "worker 1: injected failure");
    CHECK(result.history[0].dropped_workers.empty());
    CHECK(all_finite(faulty));
    MESSAGE("accuracy fault-free " << clean_accuracy << ", with 4 dropped subnets " << result.final_test->accuracy);
    CHECK(result.final_test->accuracy >= clean_accuracy - 0.05);
}

TEST_CASE("faults: what a dropped worker held keeps its previous values, the rest trains") {
    Blobs data;
    Network net = make_mlp({12, {9, 10}, 3});
    const Network before = net;
    const TrainerOptions opts = options(3, 1);
    IstTrainer trainer(net, opts, NeuronPartition(), Sgd(0.1f), HolderAverage(), FaultyTransport(dropping(), {{1, 2}}));
    trainer.train(data.train, data.test);

    PartitionRng rng(opts.seed);  // the trainer's first plan
    const Plan plan = NeuronPartition().plan(before.dimensions(), 3, rng);
    const Tensor& w_before = before.parameter(0).value;  // hidden1 x input: rows follow hidden1
    const Tensor& w_after = net.parameter(0).value;
    for (std::size_t s = 0; s < 3; ++s)
        for (std::uint32_t row : *plan[s].dims[1]) {
            const bool unchanged = xt::view(w_after, row, xt::all()) == xt::view(w_before, row, xt::all());
            CAPTURE(s);
            CAPTURE(row);
            CHECK(unchanged == (s == 2));
        }
}

TEST_CASE("faults: a straggler past the round timeout is dropped and sits out until it finishes") {
    Blobs data;
    Network net = make_mlp({12, {16}, 3});
    ThreadsTransport::Options o;
    o.round_timeout = 150ms;
    IstTrainer trainer(net, options(3, 4), NeuronPartition(), Sgd(0.05f), HolderAverage(),
                       FaultyTransport(o, {}, {{1, 0}}, 1000ms));
    const TrainResult result = trainer.train(data.train, data.test);
    REQUIRE(result.history.size() == 4);
    CHECK(result.history[0].dropped_workers == std::vector<std::size_t>{0});
    CHECK(result.history[0].failures.at(0) == "worker 0: did not return in time");
    // Its subnet was sent (as a networked transport moves it: 6 of the 16 hidden neurons, W1 6 x 12,
    // their norm's gamma and beta, W2's 3 x 6 columns); nothing came back.
    CHECK(result.history[0].worker_bytes.at(0) == (6 * 12 + 6 + 6 + 3 * 6) * sizeof(float));
    CHECK(result.history[1].dropped_workers == std::vector<std::size_t>{0});  // still busy with round 1
    CHECK(result.history[1].failures.at(0) == "worker 0: worker 0 is still busy with an earlier round");
    CHECK(result.history[0].round_seconds < 0.9);
    CHECK(all_finite(net));
}

TEST_CASE("faults: a quorum of k of S returns without waiting for the slowest") {
    Blobs data;
    Network net = make_mlp({12, {16}, 3});
    ThreadsTransport::Options o;
    o.quorum = 2;
    IstTrainer trainer(net, options(3, 2), NeuronPartition(), Sgd(0.05f), HolderAverage(),
                       FaultyTransport(o, {}, {{1, 2}, {2, 2}}, 400ms));
    const TrainResult result = trainer.train(data.train, data.test);
    CHECK(result.history[0].dropped_workers == std::vector<std::size_t>{2});
    CHECK(result.history[0].failures.at(0) == "worker 2: did not return in time");
    CHECK(all_finite(net));
}

TEST_CASE("faults: data parallel waits for a slow worker whatever the deadline (every worker is in every all-reduce)") {
    Blobs data;
    Network net = make_mlp({12, {16}, 3});
    ThreadsTransport::Options o;
    o.round_timeout = 50ms;
    o.quorum = 2;
    // Worker 1 is late in round 1: dropping it would leave it out of round 2's barrier (a hang).
    DataParallelTrainer<Network, Sgd, FaultyTransport> trainer(net, options(3, 3), FullModel(), Sgd(0.05f),
                                                               GradientAllReduce(), FaultyTransport(o, {}, {{1, 1}}, 300ms));
    const TrainResult result = trainer.train(data.train, data.test);
    REQUIRE(result.history.size() == 3);
    for (const auto& m : result.history) CHECK(m.dropped_workers.empty());
    CHECK(result.history[0].round_seconds >= 0.3);
    CHECK(all_finite(net));
}
