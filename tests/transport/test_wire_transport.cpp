// WireTransport over examples/custom_transport.cpp's MailboxWire (ranks as threads, bytes copied
// between mailboxes) against ThreadsTransport, the same checks the MPI tests make: final weights
// bit for bit on every rank, bytes of every round, final accuracy; and a failing worker's error
// rethrown on every rank as ThreadsTransport rethrows it.
#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#define IST_CUSTOM_TRANSPORT_NO_MAIN
#include "../../examples/custom_transport.cpp"
#include "exchange_mean_checks.hpp"
#include "helpers.hpp"

using namespace ist;

namespace {

struct WireRun {
    std::vector<Network> nets;  ///< every rank's model after train()
    std::optional<TrainResult> result;  ///< rank 0's
    std::vector<std::exception_ptr> errors;
};

Network wire_test_mlp() { return make_mlp({12, {16, 16}, 3, Norm::Batch, 5}); }

template <class P, class A, class C, class... Callbacks>
WireRun train_over_mailboxes(const TrainerOptions& o, P partitioner, A aggregator, C codec, float lr,
                             Callbacks... callbacks) {
    const Dataset train = test::blobs(300, 12, 3, 1), test_set = test::blobs(90, 12, 3, 2);
    WireRun run{std::vector<Network>(o.workers, wire_test_mlp()), {}, std::vector<std::exception_ptr>(o.workers)};
    auto post = std::make_shared<MailboxWire::Post>(o.workers);
    std::vector<std::jthread> ranks;
    for (std::size_t r = 0; r < o.workers; ++r)
        ranks.emplace_back([&, r] {
            try {
                IstTrainer<Network, P, Sgd, A, WireTransport<MailboxWire>, C> trainer(
                    run.nets[r], o, partitioner, Sgd(lr), aggregator, WireTransport(MailboxWire(post, r)), codec);
                TrainResult result = trainer.train(train, test_set, callbacks...);
                if (r == 0) run.result = std::move(result);
            } catch (...) {
                run.errors[r] = std::current_exception();
            }
        });
    ranks.clear();  // joins
    return run;
}

template <class P, class A, class C>
std::pair<Network, TrainResult> train_on_threads(const TrainerOptions& o, P partitioner, A aggregator, C codec, float lr) {
    const Dataset train = test::blobs(300, 12, 3, 1), test_set = test::blobs(90, 12, 3, 2);
    Network net = wire_test_mlp();
    IstTrainer<Network, P, Sgd, A, ThreadsTransport, C> trainer(net, o, partitioner, Sgd(lr), aggregator,
                                                                ThreadsTransport(), codec);
    TrainResult result = trainer.train(train, test_set);
    return {std::move(net), std::move(result)};
}

template <class P, class A, class C = Fp32>
void check_same_as_threads(const TrainerOptions& o, P partitioner, A aggregator, C codec = C()) {
    const WireRun wire = train_over_mailboxes(o, partitioner, aggregator, codec, 0.05f);
    for (const auto& e : wire.errors) REQUIRE_FALSE(e);
    const auto [reference, expected] = train_on_threads(o, partitioner, aggregator, codec, 0.05f);
    for (std::size_t r = 0; r < o.workers; ++r) {
        CAPTURE(r);
        CHECK(test::same_parameters(wire.nets[r], reference));  // broadcast: every rank ends with rank 0's model
    }
    REQUIRE(wire.result->history.size() == expected.history.size());
    for (std::size_t k = 0; k < expected.history.size(); ++k) {
        CAPTURE(k);
        CHECK(wire.result->history[k].bytes == expected.history[k].bytes);
        CHECK(wire.result->history[k].worker_bytes == expected.history[k].worker_bytes);
    }
    CHECK(wire.result->final_test->accuracy == expected.final_test->accuracy);
}

/// A package of the merge tests' own: one value, and two scalars.
struct Token {
    std::vector<Tensor> ts{Tensor(xt::zeros<float>({std::size_t{1}}))};
    std::array<double, 2> stats{};
    std::vector<Tensor*> tensors() { return {&ts[0]}; }
    std::span<double> scalars() { return stats; }
};

/// A round's merges, logged and folded into a number their order and count decide: merging worker
/// k makes x into 10 x + k + 1, undoing it inverts that (so only undoing the latest first gets back to 0).
struct FoldingMerges final : RoundMerge<Token> {
    long folded = 0;
    std::vector<std::string> log;
    std::atomic<bool>* first_merged = nullptr;  ///< set once worker 0's package is merged

    void merge(std::size_t k, Token& t) override {
        log.push_back("merge " + std::to_string(k) + " holding " + std::to_string(static_cast<int>(t.ts[0](0))));
        folded = folded * 10 + static_cast<long>(k) + 1;
        if (k == 0) *first_merged = true;
    }
    void undo(std::size_t k, Token&) override {
        log.push_back("undo " + std::to_string(k));
        folded = (folded - static_cast<long>(k) - 1) / 10;
    }
};

/// One round over MailboxWire ranks (threads), each rank with its own merges: worker s's token
/// leaves rank 0 holding 10 s and its work adds 1; worker `failing` throws instead, and worker 1
/// waits (up to 10 s) for rank 0 to have merged worker 0's package before it works (packages
/// that travel: Replicas::PerRound).
struct MergingRound {
    std::vector<FoldingMerges> merges;
    std::vector<std::exception_ptr> errors;
    std::optional<RoundResult<Token>> result;  ///< rank 0's
    std::atomic<bool> first_merged{false};
    std::atomic<bool> worker_1_saw_it{false};  ///< worker 0's package was merged while worker 1 worked

    MergingRound(std::size_t S, std::optional<std::size_t> failing, Replicas replicas) : merges(S), errors(S) {
        for (FoldingMerges& m : merges) m.first_merged = &first_merged;
        auto post = std::make_shared<MailboxWire::Post>(S);
        std::vector<std::jthread> ranks;
        for (std::size_t r = 0; r < S; ++r)
            ranks.emplace_back([&, r] {
                try {
                    WireTransport transport(MailboxWire(post, r));
                    auto extract = [r](std::size_t s) {
                        Token t;
                        if (r == 0) t.ts[0](0) = static_cast<float>(10 * s);
                        return t;
                    };
                    auto work = [&](Token& t, Communicator& comm) {
                        if (comm.worker() == failing) throw TrainingError("worker " + std::to_string(*failing) + " fails");
                        if (comm.worker() == 1 && replicas == Replicas::PerRound) worker_1_saw_it = wait_for_first_merge();
                        t.ts[0](0) += 1.0f;
                    };
                    RoundResult<Token> got = transport.round(S, extract, work, replicas, &merges[r]);
                    if (r == 0) result = std::move(got);
                } catch (...) {
                    errors[r] = std::current_exception();
                }
            });
    }

    bool wait_for_first_merge() const {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!first_merged && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return first_merged;
    }
};

static_assert(Package<Token>);

}  // namespace

TEST_CASE("wire: rank 0 merges every package once, in worker order, as it is back, worker 0's while the others work") {
    const MergingRound three(3, std::nullopt, Replicas::PerRound);
    for (const auto& e : three.errors) REQUIRE_FALSE(e);
    CHECK(three.merges[0].log == std::vector<std::string>{"merge 0 holding 1", "merge 1 holding 11", "merge 2 holding 21"});
    CHECK(three.merges[0].folded == 123);
    CHECK(three.worker_1_saw_it);  // worker 1 waited for it: merged before the round's end
    CHECK(three.merges[1].log.empty());  // only the coordinator merges
    CHECK(three.merges[2].log.empty());
    REQUIRE(three.result->packages.size() == 3);  // handed over as without merges
    for (std::size_t k = 0; k < 3; ++k) CHECK(three.result->packages[k].ts[0](0) == static_cast<float>(10 * k + 1));
    CHECK(three.result->dropped.empty());

    const MergingRound persistent(2, std::nullopt, Replicas::Persistent);  // nothing travels back to merge
    for (const auto& e : persistent.errors) REQUIRE_FALSE(e);
    CHECK(persistent.merges[0].log.empty());
    CHECK(persistent.merges[1].log.empty());
}

TEST_CASE("wire: a failing round undoes rank 0's merges, the latest first, and never merges past the failed worker") {
    const MergingRound four(4, std::size_t{2}, Replicas::PerRound);
    for (std::size_t r = 0; r < 4; ++r) {
        CAPTURE(r);
        REQUIRE(four.errors[r]);
        CHECK_THROWS_WITH_AS(std::rethrow_exception(four.errors[r]), "worker 2 fails", TrainingError);
    }
    // Worker 3's package came back too, but worker 2's never will: the merges stop at 2.
    CHECK(four.merges[0].log == std::vector<std::string>{"merge 0 holding 1", "merge 1 holding 11", "undo 1", "undo 0"});
    CHECK(four.merges[0].folded == 0);
    for (std::size_t r = 1; r < 4; ++r) CHECK(four.merges[r].log.empty());
}

TEST_CASE("wire: a user's Wire runs IST, local SGD and data parallel bit for bit as ThreadsTransport") {
    const TrainerOptions o = test::test_options(3, 4, 5, 16, 7);
    SUBCASE("IST") { check_same_as_threads(o, NeuronPartition(), HolderAverage()); }
    SUBCASE("local SGD") { check_same_as_threads(o, FullModel(), HolderAverage()); }
    SUBCASE("data parallel: every gradient all-reduced through rank 0 in worker order") {
        check_same_as_threads(o, FullModel(), GradientAllReduce());
    }
}

TEST_CASE("wire: allreduce_mean by direct exchange is the ordered sum bit for bit; wrong lengths and leavers fail as before") {
    for (std::size_t S : {2, 3, 4}) {
        CAPTURE(S);
        auto post = std::make_shared<MailboxWire::Post>(S);
        std::vector<std::vector<std::string>> failed(S);
        std::vector<std::jthread> ranks;
        for (std::size_t r = 0; r < S; ++r)
            ranks.emplace_back([&, r] {
                WireTransport transport(MailboxWire(post, r));
                failed[r] = exchange_mean_test::failures(transport, S, r);
            });
        ranks.clear();  // joins
        for (const auto& rank : failed)
            for (const std::string& what : rank) FAIL_CHECK(what);
    }
}

TEST_CASE("wire: coded exchanges travel as the codec's bytes, bit for bit as ThreadsTransport") {
    TrainerOptions o = test::test_options(3, 4, 5, 16, 7);
    SUBCASE("q8 subnets") { check_same_as_threads(o, NeuronPartition(), HolderAverage(), Uniform(8)); }
    SUBCASE("q4 updates with error feedback") {
        o.coded_values = CodedValues::Updates;
        o.error_feedback = true;
        check_same_as_threads(o, NeuronPartition(), HolderAverage(), Uniform(4));
    }
    SUBCASE("q8 gradients (data parallel)") { check_same_as_threads(o, FullModel(), GradientAllReduce(), Uniform(8)); }
}

TEST_CASE("wire: a diverging worker's error is rethrown on every rank, as ThreadsTransport rethrows it") {
    const TrainerOptions o = test::test_options(3, 4, 5, 16, 7);
    std::string expected;
    try {
        train_on_threads(o, NeuronPartition(), HolderAverage(), Fp32(), 1e30f);
    } catch (const TrainingError& e) {
        expected = e.what();
    }
    REQUIRE_FALSE(expected.empty());
    const WireRun wire = train_over_mailboxes(o, NeuronPartition(), HolderAverage(), Fp32(), 1e30f);
    for (std::size_t r = 0; r < o.workers; ++r) {
        CAPTURE(r);
        REQUIRE(wire.errors[r]);
        CHECK_THROWS_WITH_AS(std::rethrow_exception(wire.errors[r]), expected.c_str(), TrainingError);
    }
}

TEST_CASE("wire: data parallel: a failure after the last all-reduce is the first worker's, on every rank") {
    // Every replica diverges alike; the round ends with the first failure in worker order.
    const TrainerOptions o = test::test_options(3, 4, 5, 16, 7);
    const WireRun wire = train_over_mailboxes(o, FullModel(), GradientAllReduce(), Fp32(), 1e30f);
    for (std::size_t r = 0; r < o.workers; ++r) {
        CAPTURE(r);
        REQUIRE(wire.errors[r]);
        CHECK_THROWS_WITH_AS(std::rethrow_exception(wire.errors[r]),
                             "worker 0 returned non-finite parameters; the model keeps its previous values", TrainingError);
    }
}

TEST_CASE("wire: a checkpoint with error feedback names the GathersToCoordinator hook WireTransport lacks") {
    TrainerOptions o = test::test_options(3, 4, 5, 16, 7);
    o.coded_values = CodedValues::Updates;
    o.error_feedback = true;
    const std::string path = (std::filesystem::temp_directory_path() / "ist_wire_never_written.npz").string();
    const WireRun wire = train_over_mailboxes(o, NeuronPartition(), HolderAverage(), Uniform(4), 0.05f, Checkpoint(path, 2));
    for (std::size_t r = 0; r < o.workers; ++r) {
        CAPTURE(r);
        REQUIRE(wire.errors[r]);  // every rank refuses alike, at the first checkpoint
        CHECK_THROWS_WITH_AS(std::rethrow_exception(wire.errors[r]),
                             "IstTrainer: checkpoints with error feedback over a distributed transport need its "
                             "GathersToCoordinator hook (gather_to_coordinator), which this transport lacks: the "
                             "residuals live on the workers' ranks",
                             ConfigError);
    }
}

TEST_CASE("wire: S must equal the wire's ranks, refused on every rank before training") {
    TrainerOptions o = test::test_options(3, 4, 5, 16, 7);
    auto post = std::make_shared<MailboxWire::Post>(2);  // two ranks for S = 3
    Network net = wire_test_mlp();
    using Trainer = IstTrainer<Network, NeuronPartition, Sgd, HolderAverage, WireTransport<MailboxWire>>;
    CHECK_THROWS_WITH_AS(Trainer(net, o, NeuronPartition(), Sgd(), HolderAverage(), WireTransport(MailboxWire(post, 0))),
                         "WireTransport: S = 3 workers but the wire has 2 ranks; it runs one worker per rank",
                         ConfigError);
}

static_assert(Transport<WireTransport<MailboxWire>> && !RunsInProcess<WireTransport<MailboxWire>>);
static_assert(MergesDuringRound<WireTransport<MailboxWire>> && !MergesDuringRound<ThreadsTransport>);
static_assert(RunsInProcess<ThreadsTransport> && RunsInProcess<SerialTransport> && HasStragglers<ThreadsTransport>);
static_assert(!GathersToCoordinator<ThreadsTransport> && !ShardsParameters<ThreadsTransport>);
