// The stock callbacks against hand-worked sequences and exact output lines: EarlyStop's patience
// and min_delta, StopAtAccuracy's record of the first round that reaches the target,
// StopAfterSeconds, PrintMetrics' and ProgressBar's lines, and how the trainer dispatches each
// optional hook (bool or void, with or without the trainer).
#include <sstream>
#include <vector>

#include <doctest/doctest.h>

#include <ist/callbacks/callback.hpp>
#include <ist/callbacks/early_stop.hpp>
#include <ist/callbacks/print_metrics.hpp>
#include <ist/callbacks/progress_bar.hpp>

namespace {

using ist::RoundMetrics;

RoundMetrics evaluated(std::size_t round, double test_loss, double test_accuracy = 0.5) {
    RoundMetrics m;
    m.round = round;
    m.rounds = 10;
    m.test = ist::Evaluation{};
    m.test->loss = test_loss;
    m.test->accuracy = test_accuracy;
    return m;
}

RoundMetrics unevaluated(std::size_t round) {
    RoundMetrics m;
    m.round = round;
    m.rounds = 10;
    return m;
}

/// The 1-based position of the first round on which `stop` says stop, 0 if none.
template <class Stop>
std::size_t first_stop(Stop& stop, const std::vector<RoundMetrics>& rounds) {
    for (std::size_t i = 0; i < rounds.size(); ++i)
        if (stop.on_round_end(rounds[i])) return i + 1;
    return 0;
}

}  // namespace

TEST_CASE("callbacks: EarlyStop stops after `patience` evaluations without a better test loss") {
    ist::EarlyStop stop(3);
    // best 0.9 at the 2nd; 0.95, 0.92, 0.91 are three evaluations without improvement.
    CHECK(first_stop(stop, {evaluated(1, 1.0), evaluated(2, 0.9), evaluated(3, 0.95), evaluated(4, 0.92),
                            evaluated(5, 0.91), evaluated(6, 0.5)}) == 5);
}

TEST_CASE("callbacks: EarlyStop's count restarts at an improvement and ignores rounds without evaluation") {
    ist::EarlyStop stop(2);
    CHECK(first_stop(stop, {evaluated(1, 1.0), evaluated(2, 1.1), evaluated(3, 0.8), unevaluated(4), unevaluated(5),
                            evaluated(6, 0.85), unevaluated(7), evaluated(8, 0.9)}) == 8);
}

TEST_CASE("callbacks: EarlyStop's min_delta: an improvement smaller than it counts as none") {
    ist::EarlyStop stop(2, 0.05);
    // 0.97 and 0.96 improve on 1.0 by less than 0.05.
    CHECK(first_stop(stop, {evaluated(1, 1.0), evaluated(2, 0.97), evaluated(3, 0.96)}) == 3);
    ist::EarlyStop strict(2, 0.0);
    CHECK(first_stop(strict, {evaluated(1, 1.0), evaluated(2, 0.97), evaluated(3, 0.96)}) == 0);
}

TEST_CASE("callbacks: StopAtAccuracy records the first evaluation that reaches the target") {
    ist::StopAtAccuracy stop(0.8);
    RoundMetrics below = evaluated(2, 0.5, 0.79), reaches = evaluated(4, 0.4, 0.8), later = evaluated(6, 0.3, 0.9);
    reaches.seconds = 12.5;
    reaches.total_bytes = 4096;
    CHECK_FALSE(stop.reached());
    CHECK(first_stop(stop, {unevaluated(1), below, unevaluated(3), reaches, later}) == 4);
    CHECK(stop.reached());
    CHECK(stop.round() == 4);
    CHECK(stop.seconds() == 12.5);
    CHECK(stop.bytes() == 4096);
    CHECK_FALSE(stop.on_round_end(later));  // reached once; later rounds keep the first record
    CHECK(stop.round() == 4);
}

TEST_CASE("callbacks: StopAfterSeconds stops at the first round whose cumulative seconds reach the budget") {
    ist::StopAfterSeconds stop(2.0);
    std::vector<RoundMetrics> rounds(4);
    const double seconds[] = {0.5, 1.99, 2.0, 3.0};
    for (std::size_t i = 0; i < 4; ++i) rounds[i].seconds = seconds[i];
    CHECK(first_stop(stop, rounds) == 3);
}

TEST_CASE("callbacks: PrintMetrics prints one exact line per evaluated round, and every drop") {
    std::ostringstream out;
    ist::PrintMetrics print(out);
    RoundMetrics m = evaluated(3, 0.25, 0.75);
    m.train_loss = 0.5;
    m.bytes = 100000;
    m.total_bytes = 300000;
    m.seconds = 1.5;
    print.on_round_end(unevaluated(2));  // not evaluated, nothing dropped: no line
    print.on_round_end(m);
    CHECK(out.str() == "round    3/10  train loss 0.5000  test loss 0.2500  test acc 0.7500  0.10 MB/round  0.3 MB total  1.50s\n");
    out.str("");
    RoundMetrics dropped = unevaluated(4);
    dropped.failures = {"worker 1: did not return in time"};
    print.on_round_end(dropped);
    CHECK(out.str() == "round    4/10  train loss 0.0000  0.00 MB/round  0.0 MB total  0.00s\n"
                       "  dropped worker 1: did not return in time\n");
    out.str("");
    ist::PrintMetrics every(out, false);
    every.on_round_end(unevaluated(5));
    CHECK(out.str() == "round    5/10  train loss 0.0000  0.00 MB/round  0.0 MB total  0.00s\n");
}

TEST_CASE("callbacks: ProgressBar redraws one line whose bar is the share of rounds done") {
    std::ostringstream out;
    ist::ProgressBar bar(out, 30);
    RoundMetrics m = evaluated(3, 0.25, 0.75);
    m.train_loss = 0.5;
    bar.on_round_end(m);
    CHECK(out.str() == "\r[" + std::string(9, '=') + std::string(21, ' ') + "] 3/10 loss 0.5000 test acc 0.7500");
    out.str("");
    bar.on_round_end(unevaluated(10));
    CHECK(out.str() == "\r[" + std::string(30, '=') + "] 10/10 loss 0.0000");
    bar.on_train_end(ist::TrainResult{});
    CHECK(out.str().back() == '\n');
}

namespace {
struct Stopper {
    bool on_round_end(const RoundMetrics& m) { return m.round == 2; }
};
struct Watcher {
    int calls = 0;
    void on_round_end(const RoundMetrics&) { ++calls; }
};
struct TrainerAware {
    const int* seen = nullptr;
    bool on_round_end(const RoundMetrics&, const int& trainer) {
        seen = &trainer;
        return true;
    }
};
struct TrainerWatcher {
    int calls = 0;
    void on_round_end(const RoundMetrics&, const int&) { ++calls; }
};
struct Silent {};
}  // namespace

TEST_CASE("callbacks: each optional hook is dispatched by its signature; a void hook never stops training") {
    const int trainer = 7;
    Stopper stopper;
    CHECK_FALSE(ist::detail::callback_round_end(stopper, unevaluated(1), trainer));
    CHECK(ist::detail::callback_round_end(stopper, unevaluated(2), trainer));
    Watcher watcher;
    CHECK_FALSE(ist::detail::callback_round_end(watcher, unevaluated(1), trainer));
    CHECK(watcher.calls == 1);
    TrainerAware aware;
    CHECK(ist::detail::callback_round_end(aware, unevaluated(1), trainer));
    CHECK(aware.seen == &trainer);
    TrainerWatcher trainer_watcher;
    CHECK_FALSE(ist::detail::callback_round_end(trainer_watcher, unevaluated(1), trainer));
    CHECK(trainer_watcher.calls == 1);
    Silent silent;
    CHECK_FALSE(ist::detail::callback_round_end(silent, unevaluated(1), trainer));
}
