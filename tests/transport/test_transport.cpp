// The transport contract, tested directly on the in-process transports with a package of the
// test's own (no model): delivery, bytes per worker, the ordered all-reduce against an oracle,
// which failure a round ends with, dropped workers, and the byte layout of what travels.
#include <doctest/doctest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include <ist/transport/ordered_mean.hpp>
#include <ist/transport/outcome.hpp>
#include <ist/transport/pack.hpp>
#include <ist/transport/round_ledger.hpp>
#include <ist/transport/threads.hpp>

using namespace ist;
using namespace std::chrono_literals;

namespace {

/// Worker s's parcel: a (s+1) x 3 tensor and a 5-vector holding 100 s + i, and two scalars.
struct Parcel {
    std::vector<Tensor> ts;
    std::array<double, 2> stats{};
    std::vector<Tensor*> tensors() {
        std::vector<Tensor*> out;
        for (auto& t : ts) out.push_back(&t);
        return out;
    }
    std::span<double> scalars() { return stats; }
};

static_assert(Package<Parcel>);
static_assert(Transport<ThreadsTransport>);
static_assert(Transport<SerialTransport>);

std::uint64_t parcel_bytes(std::size_t s) { return ((s + 1) * 3 + 5) * sizeof(float); }

float initial_value(std::size_t s, std::size_t i) { return static_cast<float>(100 * s + i); }

Parcel make_parcel(std::size_t s) {
    Parcel p;
    p.ts.push_back(xt::zeros<float>({s + 1, std::size_t{3}}));
    p.ts.push_back(xt::zeros<float>({std::size_t{5}}));
    for (auto& t : p.ts)
        for (std::size_t i = 0; i < t.size(); ++i) t.data()[i] = initial_value(s, i);
    p.stats = {static_cast<double>(s), 0.0};
    return p;
}

bool holds(Parcel& p, std::size_t s, float added) {
    for (auto& t : p.ts)
        for (std::size_t i = 0; i < t.size(); ++i)
            if (t.data()[i] != initial_value(s, i) + added) return false;
    return true;
}

/// Worker s's all-reduce input: signs and magnitudes (1e-3 .. 1e3) vary, so the order of the
/// sum changes the last bits.
std::vector<float> contribution(std::size_t s, std::size_t n) {
    std::mt19937_64 rng(1000 + s);
    std::normal_distribution<float> value(0.0f, 1.0f);
    std::uniform_int_distribution<int> exponent(-3, 3);
    std::vector<float> x(n);
    for (auto& v : x) v = value(rng) * std::pow(10.0f, static_cast<float>(exponent(rng)));
    return x;
}

/// The oracle: for each element, 0 + x_0 + x_1 + ... + x_{S-1} in that order, times 1/S.
std::vector<float> ordered_mean_oracle(const std::vector<std::vector<float>>& xs) {
    std::vector<float> out(xs[0].size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        float sum = 0.0f;
        for (std::size_t s = 0; s < xs.size(); ++s) sum += xs[s][i];
        out[i] = sum * (1.0f / static_cast<float>(xs.size()));
    }
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

ThreadsTransport::Options dropping_failed_workers() {
    ThreadsTransport::Options o;
    o.drop_failed_workers = true;
    return o;
}

}  // namespace

TEST_CASE("transport: every worker gets its own package, and the trained packages come back in worker order") {
    constexpr std::size_t S = 4;
    auto check_transport = [&](auto transport) {
        std::array<bool, S> saw_own{};
        auto result = transport.round(
            S, [](std::size_t s) { return make_parcel(s); },
            [&](Parcel& p, Communicator& comm) {
                const std::size_t s = comm.worker();
                saw_own[s] = comm.workers() == S && holds(p, s, 0.0f) && p.stats[0] == static_cast<double>(s);
                for (auto& t : p.ts) t += 1.0f;
                p.stats[1] = 7.0 * static_cast<double>(s);
            },
            Replicas::PerRound);
        for (std::size_t s = 0; s < S; ++s) CHECK(saw_own[s]);
        REQUIRE(result.packages.size() == S);
        CHECK(result.completed_workers() == std::vector<std::size_t>{0, 1, 2, 3});
        CHECK(result.dropped.empty());
        CHECK(result.failures.empty());
        for (std::size_t s = 0; s < S; ++s) {
            CHECK(holds(result.packages[s], s, 1.0f));
            CHECK(result.packages[s].stats[1] == 7.0 * static_cast<double>(s));
        }
    };
    check_transport(ThreadsTransport{});
    check_transport(SerialTransport{});
}

TEST_CASE("transport: bytes per worker are its package each way plus 4 n per allreduce_mean of n floats") {
    constexpr std::size_t S = 3;
    auto work = [](Parcel&, Communicator& comm) {
        std::vector<float> a(7, 1.0f), b(2, 1.0f);
        comm.allreduce_mean(a);
        comm.allreduce_mean(b);
    };
    auto make = [](std::size_t s) { return make_parcel(s); };
    const std::uint64_t reduced = (7 + 2) * sizeof(float);

    ThreadsTransport transport;
    const auto per_round = transport.round(S, make, work, Replicas::PerRound);
    std::uint64_t total = 0;
    for (std::size_t s = 0; s < S; ++s) {
        CHECK(per_round.traffic.received[s] == parcel_bytes(s) + reduced);
        CHECK(per_round.traffic.sent[s] == parcel_bytes(s) + reduced);
        total += 2 * (parcel_bytes(s) + reduced);
    }
    CHECK(per_round.traffic.total() == total);

    // Persistent replicas: no package travels, only the all-reduces count.
    const auto persistent = transport.round(S, make, work, Replicas::Persistent);
    REQUIRE(persistent.packages.size() == S);
    for (std::size_t s = 0; s < S; ++s) {
        CHECK(persistent.traffic.received[s] == reduced);
        CHECK(persistent.traffic.sent[s] == reduced);
    }
    const auto silent = transport.round(S, make, [](Parcel&, Communicator&) {}, Replicas::Persistent);
    CHECK(silent.traffic.total() == 0);
}

TEST_CASE("transport: allreduce_mean is the worker-order sum times 1/S, bit for bit") {
    for (std::size_t S : std::vector<std::size_t>{3, 5, 7}) {
        CAPTURE(S);
        const std::size_t n = 1003;  // not a multiple of S: the threads' slices are uneven
        std::vector<std::vector<float>> inputs;
        for (std::size_t s = 0; s < S; ++s) inputs.push_back(contribution(s, n));
        const std::vector<float> oracle = ordered_mean_oracle(inputs);

        // The inputs are such that another order gives other bits: the test can tell.
        std::vector<std::vector<float>> reversed(inputs.rbegin(), inputs.rend());
        CHECK_FALSE(same_bits(ordered_mean_oracle(reversed), oracle));

        std::vector<float> direct(n), sum(n);
        detail::OrderedMean mean(sum);
        for (const auto& x : inputs) mean.add(x);
        mean.finish(direct);
        CHECK(same_bits(direct, oracle));

        auto check_transport = [&](auto transport) {
            std::vector<std::vector<float>> results(S);
            transport.round(
                S, [](std::size_t s) { return make_parcel(s); },
                [&](Parcel&, Communicator& comm) {
                    std::vector<float> v = inputs[comm.worker()];
                    comm.allreduce_mean(v);
                    results[comm.worker()] = std::move(v);
                },
                Replicas::Persistent);
            for (std::size_t s = 0; s < S; ++s) CHECK(same_bits(results[s], oracle));
        };
        check_transport(ThreadsTransport{});
        check_transport(SerialTransport{});
    }
}

TEST_CASE("transport: allreduce_mean with buffers of different lengths is refused") {
    ThreadsTransport transport;
    // Worker 2's buffer is shorter than the slices the others would average.
    CHECK_THROWS_WITH_AS(transport.round(
                             3, [](std::size_t s) { return make_parcel(s); },
                             [](Parcel&, Communicator& comm) {
                                 std::vector<float> v(comm.worker() == 2 ? 2 : 6, 1.0f);
                                 comm.allreduce_mean(v);
                             },
                             Replicas::Persistent),
                         "allreduce_mean: workers passed buffers of different lengths", std::logic_error);
}

TEST_CASE("transport: a round ends with the first real failure in worker order, never the aborts it caused") {
    ThreadsTransport transport;
    // Worker 3 fails first in time, worker 1 later; workers 0 and 2 wait in allreduce_mean and
    // are aborted. Worker order decides: worker 1's error, with its type and message.
    CHECK_THROWS_WITH_AS(transport.round(
                             4, [](std::size_t s) { return make_parcel(s); },
                             [](Parcel&, Communicator& comm) {
                                 if (comm.worker() == 3) throw ConfigError("early failure of worker 3");
                                 if (comm.worker() == 1) {
                                     std::this_thread::sleep_for(50ms);
                                     throw DataError("late failure of worker 1");
                                 }
                                 std::vector<float> v(4, 1.0f);
                                 comm.allreduce_mean(v);
                             },
                             Replicas::Persistent),
                         "late failure of worker 1", DataError);

    using detail::ErrorKind;
    using Kinds = std::vector<ErrorKind>;
    CHECK(detail::deciding_failure(Kinds{ErrorKind::None, ErrorKind::Aborted, ErrorKind::Training, ErrorKind::Config}) == 2);
    CHECK(detail::deciding_failure(Kinds{ErrorKind::None, ErrorKind::Aborted, ErrorKind::Aborted}) == 1);
    CHECK(detail::deciding_failure(Kinds{ErrorKind::Other, ErrorKind::Logic}) == 0);
    CHECK_FALSE(detail::deciding_failure(Kinds{ErrorKind::None, ErrorKind::None}).has_value());
}

TEST_CASE("transport: a failure keeps its type and message through its wire kind") {
    auto round_trip = [](std::exception_ptr error) {
        const detail::ErrorReport report = detail::report_error(error);
        try {
            detail::throw_error(report.kind, report.message);
        } catch (...) {
            return std::current_exception();
        }
        return std::exception_ptr{};
    };
    CHECK_THROWS_WITH_AS(std::rethrow_exception(round_trip(std::make_exception_ptr(RoundAborted("a")))), "a", RoundAborted);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(round_trip(std::make_exception_ptr(TrainingError("t")))), "t", TrainingError);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(round_trip(std::make_exception_ptr(ConfigError("c")))), "c", ConfigError);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(round_trip(std::make_exception_ptr(DataError("d")))), "d", DataError);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(round_trip(std::make_exception_ptr(std::out_of_range("l")))), "l",
                         std::logic_error);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(round_trip(std::make_exception_ptr(std::bad_alloc()))),
                         std::bad_alloc().what(), std::runtime_error);
    CHECK_THROWS_WITH_AS(std::rethrow_exception(round_trip(std::make_exception_ptr(42))), "unknown exception",
                         std::runtime_error);
    CHECK(detail::report_error(nullptr).kind == detail::ErrorKind::None);
}

TEST_CASE("transport: drop_failed_workers returns the others' packages and names the dropped worker") {
    ThreadsTransport transport(dropping_failed_workers());
    auto result = transport.round(
        3, [](std::size_t s) { return make_parcel(s); },
        [](Parcel& p, Communicator& comm) {
            if (comm.worker() == 1) throw std::runtime_error("worker 1 broke");
            for (auto& t : p.ts) t += 1.0f;
        },
        Replicas::PerRound);
    CHECK(result.completed_workers() == std::vector<std::size_t>{0, 2});
    CHECK(result.dropped == std::vector<std::size_t>{1});
    CHECK(result.failures == std::vector<std::string>{"worker 1: worker 1 broke"});
    REQUIRE(result.packages.size() == 2);
    CHECK(holds(result.packages[0], 0, 1.0f));
    CHECK(holds(result.packages[1], 2, 1.0f));
    // The dropped worker's subnet went out but never came back.
    CHECK(result.traffic.received == std::vector<std::uint64_t>{parcel_bytes(0), parcel_bytes(1), parcel_bytes(2)});
    CHECK(result.traffic.sent == std::vector<std::uint64_t>{parcel_bytes(0), 0, parcel_bytes(2)});

    // A failure while gradients are synchronised aborts the others too: nobody is left, so the
    // round throws the real failure.
    CHECK_THROWS_WITH_AS(transport.round(
                             3, [](std::size_t s) { return make_parcel(s); },
                             [](Parcel&, Communicator& comm) {
                                 if (comm.worker() == 1) throw TrainingError("diverged in worker 1");
                                 std::vector<float> v(4, 1.0f);
                                 comm.allreduce_mean(v);
                             },
                             Replicas::Persistent),
                         "diverged in worker 1", TrainingError);
}

TEST_CASE("transport: a package travels as its tensors' floats in order, then its scalars") {
    Parcel sent = make_parcel(2);
    CHECK(payload_bytes(sent) == parcel_bytes(2));
    const std::vector<char> bytes = detail::pack(sent);
    REQUIRE(bytes.size() == parcel_bytes(2) + 2 * sizeof(double));
    float first;
    std::memcpy(&first, bytes.data() + 9 * sizeof(float), sizeof first);  // the 5-vector's first float
    CHECK(first == initial_value(2, 0));

    Parcel received = make_parcel(2);
    for (auto& t : received.ts) t.fill(0.0f);
    received.stats = {0.0, 0.0};
    detail::unpack(received, bytes);
    CHECK(holds(received, 2, 0.0f));
    CHECK(received.stats == sent.stats);

    // Scalars only: the tensors stay as they were.
    sent.stats = {3.5, -1.0};
    const std::vector<char> scalars = detail::pack(sent, detail::PackedParts::ScalarsOnly);
    REQUIRE(scalars.size() == 2 * sizeof(double));
    for (auto& t : received.ts) t.fill(0.0f);
    detail::unpack(received, scalars, detail::PackedParts::ScalarsOnly);
    CHECK(received.stats == sent.stats);
    CHECK(received.ts[0](0, 0) == 0.0f);
}

TEST_CASE("transport: a simulated slowdown makes worker s take slowdown[s] times its compute, reported per worker") {
    ThreadsTransport::Options o;
    o.slowdown = {1.0, 3.0};
    ThreadsTransport transport(o);
    auto result = transport.round(
        2, [](std::size_t s) { return make_parcel(s); },
        [](Parcel&, Communicator&) { std::this_thread::sleep_for(40ms); }, Replicas::PerRound);
    REQUIRE(result.worker_seconds.size() == 2);
    CHECK(result.worker_seconds[0] >= 0.04);
    CHECK(result.worker_seconds[0] < 0.10);   // the fast worker is not held up by the slow one's sleep
    CHECK(result.worker_seconds[1] >= 0.12);  // 40 ms computed + 2 x 40 ms simulated
    CHECK(result.packages.size() == 2);
}

TEST_CASE("transport: a quorum sees a slowed worker as the straggler it simulates") {
    ThreadsTransport::Options o;
    o.slowdown = {1.0, 1.0, 8.0};
    o.quorum = 2;
    ThreadsTransport transport(o);
    auto result = transport.round(
        3, [](std::size_t s) { return make_parcel(s); },
        [](Parcel&, Communicator&) { std::this_thread::sleep_for(30ms); }, Replicas::PerRound);
    CHECK(result.completed_workers() == std::vector<std::size_t>{0, 1});
    CHECK(result.dropped == std::vector<std::size_t>{2});
    transport.wait_idle();
}

TEST_CASE("transport: a slowdown profile that does not fit the workers is refused, naming the value") {
    auto make = [](std::size_t s) { return make_parcel(s); };
    auto work = [](Parcel&, Communicator&) {};
    ThreadsTransport::Options short_profile;
    short_profile.slowdown = {1.0, 2.0};
    CHECK_THROWS_WITH_AS(ThreadsTransport(short_profile).handshake(3, 0, 0),
                         "ThreadsTransport: 2 slowdown factors for S = 3 workers; give one per worker", ConfigError);
    CHECK_THROWS_AS(ThreadsTransport(short_profile).round(3, make, work, Replicas::PerRound), ConfigError);
    ThreadsTransport::Options faster;
    faster.slowdown = {1.0, 0.5};
    CHECK_THROWS_WITH_AS(ThreadsTransport(faster).handshake(2, 0, 0),
                         "ThreadsTransport: worker 1's slowdown is 0.500000; each factor must be a finite number >= 1",
                         ConfigError);
}

TEST_CASE("transport: a quorum above S is refused, naming both numbers; a quorum of S waits for all") {
    auto make = [](std::size_t s) { return make_parcel(s); };
    auto work = [](Parcel&, Communicator&) {};
    ThreadsTransport::Options too_many;
    too_many.quorum = 4;  // one more than the workers: it could never be reached
    CHECK_THROWS_WITH_AS(ThreadsTransport(too_many).handshake(3, 0, 0),
                         "ThreadsTransport: quorum = 4 but a round has only S = 3 workers", ConfigError);
    CHECK_THROWS_WITH_AS(ThreadsTransport(too_many).round(3, make, work, Replicas::PerRound),
                         "ThreadsTransport: quorum = 4 but a round has only S = 3 workers", ConfigError);
    ThreadsTransport::Options all;
    all.quorum = 3;
    ThreadsTransport transport(all);
    CHECK_NOTHROW(transport.handshake(3, 0, 0));
    const auto result = transport.round(3, make, work, Replicas::PerRound);
    CHECK(result.completed_workers() == std::vector<std::size_t>{0, 1, 2});
    CHECK(result.dropped.empty());
}

TEST_CASE("transport: judge, the one failure policy, drops the failed only when asked and fails a round nobody is left in") {
    using detail::ErrorKind;
    using detail::Outcome;
    std::vector<std::optional<Outcome>> outcomes{Outcome{}, Outcome{ErrorKind::Aborted, 1, "echo"},
                                                 Outcome{ErrorKind::Training, 2, "not finite"}, Outcome{}};
    // Not dropping: the first real failure in worker order ends the round; nobody is dropped.
    detail::Verdict verdict = detail::judge(outcomes, false, 7);
    CHECK(verdict.outcome.kind == ErrorKind::Training);
    CHECK(verdict.outcome.worker == 2);
    CHECK(verdict.outcome.message == "not finite");
    CHECK(verdict.outcome.round == 7);
    CHECK(verdict.dropped.empty());
    // Dropping: every worker that failed is dropped, saying why; the round goes on.
    verdict = detail::judge(outcomes, true);
    CHECK(verdict.outcome.ok());
    CHECK(verdict.dropped == std::vector<std::size_t>{1, 2});
    CHECK(verdict.failures == std::vector<std::string>{"worker 1: echo", "worker 2: not finite"});
    // Dropping, nobody left (one late, one sitting out): the round fails with the deciding failure.
    outcomes[0] = Outcome::dropped(0, "did not return in time");
    outcomes[3] = Outcome::still_busy(3);
    verdict = detail::judge(outcomes, true);
    CHECK(verdict.dropped == std::vector<std::size_t>{0, 1, 2, 3});
    CHECK(verdict.failures.at(3) == "worker 3: worker 3 is still busy with an earlier round");
    CHECK(verdict.outcome.kind == ErrorKind::Training);
    outcomes[2] = Outcome{};  // only aborts left to decide: the first in worker order
    verdict = detail::judge(outcomes, true);
    CHECK(verdict.outcome.ok());
    outcomes[2] = Outcome::dropped(2, "late");
    verdict = detail::judge(outcomes, true, 3);
    CHECK(verdict.outcome.kind == ErrorKind::Aborted);
    CHECK(verdict.outcome.message == "did not return in time");
    // A verdict keeps every field through its wire format; a message too short for one is refused.
    detail::Verdict back;
    REQUIRE(detail::Verdict::decode(verdict.encode(), back));
    CHECK(back.dropped == verdict.dropped);
    CHECK(back.failures == verdict.failures);
    CHECK(back.outcome.kind == ErrorKind::Aborted);
    CHECK(back.outcome.worker == 0);
    CHECK(back.outcome.message == "did not return in time");
    CHECK(back.outcome.round == 3);
    detail::Verdict malformed;
    CHECK_FALSE(detail::Verdict::decode(std::vector<char>{1, 0}, malformed));
}

TEST_CASE("transport: a round's ledger counts each package both ways, takes back bytes and hands over the completed") {
    auto extract = [](std::size_t s) { return make_parcel(s); };
    const auto packed = [](std::size_t s) { return parcel_bytes(s) + 2 * sizeof(double); };  // tensors, then 2 scalars
    detail::RoundLedger<Parcel> ledger(3, Replicas::PerRound);
    for (std::size_t s = 0; s < 3; ++s) ledger.cut(s, extract);
    CHECK(ledger.traffic.received == std::vector<std::uint64_t>{parcel_bytes(0), parcel_bytes(1), parcel_bytes(2)});
    CHECK(ledger.traffic.sent == std::vector<std::uint64_t>{0, 0, 0});
    // Worker 1's trained package comes back as bytes; bytes of another worker's size are refused untouched.
    Parcel trained = make_parcel(1);
    for (Tensor& t : trained.ts) t += 1.0f;
    trained.stats = {5.0, 6.0};
    ledger.take_back(1, detail::pack(trained));
    CHECK(holds(ledger.package(1), 1, 1.0f));
    CHECK(ledger.package(1).stats == std::array<double, 2>{5.0, 6.0});
    const std::string refusal =
        "worker 2 returned " + std::to_string(packed(1)) + " bytes, " + std::to_string(packed(2)) + " expected";
    CHECK_THROWS_WITH_AS(ledger.take_back(2, detail::pack(trained)), refusal.c_str(), DataError);
    CHECK(holds(ledger.package(2), 2, 0.0f));
    detail::Verdict verdict;
    verdict.dropped = {2};
    verdict.failures = {"worker 2: refused"};
    std::vector<std::optional<detail::Outcome>> outcomes(3, detail::Outcome{});
    outcomes[1]->seconds = 0.5;
    RoundResult<Parcel> result = ledger.finish(verdict, outcomes, 10, 0, extract);  // all-reduces: 10 bytes each way
    REQUIRE(result.packages.size() == 2);  // the dropped worker's stays behind
    CHECK(holds(result.packages[0], 0, 0.0f));
    CHECK(holds(result.packages[1], 1, 1.0f));
    CHECK(result.traffic.received == std::vector<std::uint64_t>{parcel_bytes(0) + 10, parcel_bytes(1) + 10, parcel_bytes(2) + 10});
    CHECK(result.traffic.sent == std::vector<std::uint64_t>{parcel_bytes(0) + 10, parcel_bytes(1) + 10, 10});
    CHECK(result.dropped == std::vector<std::size_t>{2});
    CHECK(result.failures == std::vector<std::string>{"worker 2: refused"});
    CHECK(result.worker_seconds == std::vector<double>{0.0, 0.5, 0.0});

    // A worker's rank counts its own worker's bytes only, hands over nothing and measures no seconds.
    detail::RoundLedger<Parcel> own(3, Replicas::PerRound, 1);
    own.cut(1, extract);
    result = own.finish(detail::Verdict{}, {}, 10, 1, extract);
    CHECK(result.packages.empty());
    CHECK(result.traffic.received == std::vector<std::uint64_t>{0, parcel_bytes(1) + 10, 0});
    CHECK(result.traffic.sent == std::vector<std::uint64_t>{0, parcel_bytes(1) + 10, 0});
    CHECK(result.worker_seconds.empty());
}

TEST_CASE("transport: persistent replicas: nothing counted, every package a copy of the own replica with its worker's scalars") {
    auto extract = [](std::size_t s) { return make_parcel(s); };
    detail::RoundLedger<Parcel> ledger(3, Replicas::Persistent);
    ledger.cut(0, extract);
    Parcel returned = make_parcel(1);
    returned.stats = {42.0, 43.0};
    CHECK(ledger.returned(0).size() == 2 * sizeof(double));  // only the scalars travel back
    ledger.take_back(1, detail::pack(returned, detail::PackedParts::ScalarsOnly));
    const std::vector<std::optional<detail::Outcome>> outcomes(3, detail::Outcome{});
    RoundResult<Parcel> result = ledger.finish(detail::Verdict{}, outcomes, 0, 0, extract);
    REQUIRE(result.packages.size() == 3);
    for (std::size_t s = 0; s < 3; ++s) {
        CAPTURE(s);
        CHECK(holds(result.packages[s], 0, 0.0f));  // worker 0's replica, whatever its own shape was
    }
    CHECK(result.packages[1].stats == std::array<double, 2>{42.0, 43.0});
    CHECK(result.packages[2].stats == std::array<double, 2>{0.0, 0.0});  // none came back: worker 0's
    CHECK(result.traffic.total() == 0);
}
