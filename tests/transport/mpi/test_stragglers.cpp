// Stragglers over MPI (MpiTransport::Options round_timeout / quorum / drop_failed_workers): a
// rank that sleeps past the deadline is dropped for that round, sits rounds out while it is
// still busy and rejoins; its late result is discarded, never mistaken for a later round's; a
// quorum returns without the slowest; a throwing rank is dropped for that round only, and the
// model then equals ThreadsTransport's with the same drops; every rank agrees on who was dropped.
#include <chrono>
#include <cmath>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

#include "../../faulty_transport.hpp"
#include "../../helpers.hpp"
#include "mpi_check.hpp"

namespace ist::mpi_test {

namespace {

using namespace std::chrono_literals;
using Drops = std::vector<std::vector<std::size_t>>;  ///< per round, the dropped workers

template <class Base>
using Faulty = test::FaultyTransport<Base>;

/// Whether every rank saw the same drops as rank 0.
bool same_on_every_rank(const Drops& drops) {
    Fingerprint f;
    for (const auto& round : drops) {
        f.add(round.size());
        for (std::size_t s : round) f.add(s);
    }
    std::uint64_t mine = f.value(), root = mine;
    MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    int same = mine == root, all = 0;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all == 1;
}

Drops drops_of(const TrainResult& r) {
    Drops d;
    for (const auto& m : r.history) d.push_back(m.dropped_workers);
    return d;
}

bool all_finite(const Network& net) {
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        for (float v : net.parameter(i).value)
            if (!std::isfinite(v)) return false;
    return true;
}

std::string late(std::size_t s) { return "worker " + std::to_string(s) + ": did not return in time"; }
std::string busy(std::size_t s) {
    return "worker " + std::to_string(s) + ": worker " + std::to_string(s) + " is still busy with an earlier round";
}

/// Toy rounds: every worker writes 1000 r + its index into its package, so a value shows the
/// round it was trained in; worker 0 takes `own` per round, the slow worker `stall` in round 2.
void straggler_rejoins(std::size_t S) {
    MpiTransport::Options o;
    o.round_timeout = 500ms;
    MpiTransport transport(o);
    transport.handshake(S, 0, 0);
    const bool coordinator = transport.is_coordinator();
    const std::size_t slow = S - 1, rounds = 12;
    Drops drops;
    std::vector<std::vector<std::string>> failures;
    bool fresh = true;  // every package that came back holds its own round's values
    for (std::size_t r = 1; r <= rounds; ++r) {
        auto result = transport.round(
            S, [&](std::size_t s) { return make_toy(s, coordinator); },
            [&, r](Toy& p, Communicator& comm) {
                if (comm.worker() == 0) std::this_thread::sleep_for(200ms);
                if (r == 2 && comm.worker() == slow) std::this_thread::sleep_for(1200ms);
                for (auto& x : p.ts) std::fill(x.begin(), x.end(), static_cast<float>(1000 * r + comm.worker()));
            },
            Replicas::PerRound);
        drops.push_back(result.dropped);
        failures.push_back(result.failures);
        const std::vector<std::size_t> completed = result.completed_workers();
        for (std::size_t k = 0; k < result.packages.size(); ++k)
            fresh &= result.packages[k].ts[0](0, 0) == static_cast<float>(1000 * r + completed[k]) &&
                     result.packages[k].ts[1](4) == static_cast<float>(1000 * r + completed[k]);
        if (coordinator) check(result.packages.size() + result.dropped.size() == S, "every worker returned or dropped");
    }
    check(same_on_every_rank(drops), "straggler: every rank agrees on the dropped workers of every round");
    check(fresh, "straggler: every package that came back holds its own round's values (a late one is never taken)");
    check(drops[0].empty(), "straggler: nobody dropped in round 1");
    check(drops[1] == std::vector<std::size_t>{slow} && failures[1] == std::vector<std::string>{late(slow)},
          "straggler: the slow worker is dropped in round 2 as late");
    std::size_t back = 2;  // the first round after 2 without drops: the slow worker rejoined
    while (back < rounds && !drops[back].empty()) {
        check(drops[back] == std::vector<std::size_t>{slow} && failures[back] == std::vector<std::string>{busy(slow)},
              "straggler: round " + std::to_string(back + 1) + " runs without the busy slow worker");
        ++back;
    }
    check(back > 2 && back < rounds, "straggler: sat out at least round 3, rejoined by round " + std::to_string(rounds) +
                                         " (back in round " + std::to_string(back + 1) + ")");
    for (std::size_t r = back; r < rounds; ++r) check(drops[r].empty(), "straggler: nobody dropped once it rejoined");
}

/// quorum = S - 1: the round ends without the slowest worker, who sits out while busy.
void quorum_returns_early(std::size_t S) {
    MpiTransport::Options o;
    o.quorum = S - 1;
    MpiTransport transport(o);
    transport.handshake(S, 0, 0);
    const std::size_t slow = S - 1;
    Drops drops;
    std::vector<std::vector<std::string>> failures;
    double first_round = 0.0;
    for (std::size_t r = 1; r <= 3; ++r) {
        if (r == 3) transport.wait_idle();  // the slow worker's late result is in: all take part
        const auto start = std::chrono::steady_clock::now();
        auto result = transport.round(
            S, [&](std::size_t s) { return make_toy(s, transport.is_coordinator()); },
            [&, r](Toy&, Communicator& comm) {
                if (comm.worker() == 0) std::this_thread::sleep_for(100ms);
                if (r == 1 && comm.worker() == slow) std::this_thread::sleep_for(1500ms);
            },
            Replicas::PerRound);
        if (r == 1) first_round = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        drops.push_back(result.dropped);
        failures.push_back(result.failures);
    }
    check(same_on_every_rank(drops), "quorum: every rank agrees on the dropped workers");
    check(drops[0] == std::vector<std::size_t>{slow} && failures[0] == std::vector<std::string>{late(slow)},
          "quorum: the slowest is dropped as late in round 1");
    if (transport.is_coordinator()) check(first_round < 1.2, "quorum: round 1 did not wait for the slowest");
    check(drops[1] == std::vector<std::size_t>{slow} && failures[1] == std::vector<std::string>{busy(slow)},
          "quorum: round 2 runs without the busy slowest");
    check(drops[2].empty(), "quorum: after wait_idle everyone takes part" +
                                (failures[2].empty() ? std::string() : " (" + failures[2][0] + ")"));
}

/// Throwing workers with drop_failed_workers: dropped for that round only; the model is
/// bit-identical to ThreadsTransport with the same faults, and every rank agrees.
void failures_dropped_like_threads(std::size_t S) {
    std::set<std::pair<std::size_t, std::size_t>> faults{{2, S - 1}, {3, 0}};
    if (S > 2) faults.insert({3, 1});
    const TrainerOptions opts = test::test_options(S, 3, 5, 16, 11);
    const Dataset train = test::blobs(400, 12, 3, 1), test_set = test::blobs(120, 12, 3, 2);
    const Network init = make_mlp({12, {16, 16}, 3, Norm::Batch, 5});
    Network reference = init, net = init;
    TrainResult ref;
    if (my_rank == 0) {
        ThreadsTransport::Options t;
        t.drop_failed_workers = true;
        IstTrainer threads(reference, opts, NeuronPartition{}, Sgd(0.05f), HolderAverage{},
                           Faulty<ThreadsTransport>(t, faults));
        ref = threads.train(train, test_set);
    }
    MpiTransport::Options m;
    m.drop_failed_workers = true;
    IstTrainer mpi(net, opts, NeuronPartition{}, Sgd(0.05f), HolderAverage{}, Faulty<MpiTransport>(m, faults));
    const TrainResult got = mpi.train(train, test_set);
    const Drops drops = drops_of(got);
    check(same_on_every_rank(drops), "drop_failed_workers: every rank agrees on the dropped workers");
    const std::set<std::size_t> third = S > 2 ? std::set<std::size_t>{0, 1} : std::set<std::size_t>{0};
    check(drops.size() == 5 && drops[1] == std::vector<std::size_t>{S - 1} &&
              drops[2] == std::vector<std::size_t>(third.begin(), third.end()) && drops[3].empty(),
          "drop_failed_workers: the throwing workers are dropped for their round only");
    check(got.history[1].failures == std::vector<std::string>{"worker " + std::to_string(S - 1) + ": injected failure"},
          "drop_failed_workers: the failure is reported as threads reports it");
    if (my_rank == 0) {
        check(test::same_parameters(net, reference), "drop_failed_workers: weights bit-identical to ThreadsTransport's");
        check(drops == drops_of(ref), "drop_failed_workers: same drops as ThreadsTransport");
        for (std::size_t r = 0; r < got.history.size(); ++r)
            check(got.history[r].failures == ref.history[r].failures && got.history[r].bytes == ref.history[r].bytes,
                  "drop_failed_workers: failures and bytes of round " + std::to_string(r + 1) + " equal threads'");
    }
    std::uint64_t mine = weights_hash(net), root = mine;
    MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    check(mine == root, "drop_failed_workers: this rank ends with the coordinator's weights");
}

/// A trainer whose slow worker misses the deadline of its only round: its slices keep their
/// values, the others' change, and train() waits for its late result before the final broadcast.
void dropped_slices_keep_values(std::size_t S) {
    const TrainerOptions opts = test::test_options(S, 3, 1, 16, 3);
    Network net = make_mlp({12, {4 * S, 4 * S}, 3});
    const Network before = net;
    MpiTransport::Options m;
    m.round_timeout = 400ms;
    IstTrainer trainer(net, opts, NeuronPartition{}, Sgd(0.1f), HolderAverage{},
                       Faulty<MpiTransport>(m, {}, {{1, S - 1}}, 1200ms));
    const TrainResult result = trainer.train(test::blobs(400, 12, 3, 1), test::blobs(120, 12, 3, 2));
    check(same_on_every_rank(drops_of(result)), "late trainer: every rank agrees on the dropped workers");
    check(result.history[0].dropped_workers == std::vector<std::size_t>{S - 1} &&
              result.history[0].failures == std::vector<std::string>{late(S - 1)},
          "late trainer: the slow worker is dropped as late");
    check(all_finite(net), "late trainer: the model stays finite");
    if (my_rank != 0) return;
    check(result.history[0].round_seconds < 1.1, "late trainer: the round did not wait for the slow worker");
    PartitionRng rng(opts.seed);  // the trainer's first plan
    const Plan plan = NeuronPartition().plan(before.dimensions(), S, rng);
    const Tensor& w_before = before.parameter(0).value;  // hidden1 x input: rows follow hidden1
    const Tensor& w_after = net.parameter(0).value;
    bool kept = true;
    for (std::size_t s = 0; s < S; ++s)
        for (std::uint32_t row : *plan[s].dims[1]) {
            const bool unchanged = xt::view(w_after, row, xt::all()) == xt::view(w_before, row, xt::all());
            kept &= unchanged == (s == S - 1);
        }
    check(kept, "late trainer: the dropped worker's rows kept their values, every other worker's rows changed");
}

/// What cannot be dropped: a failure in a gradient-synchronised round aborts it whatever the
/// options, and a round in which every worker fails throws the deciding failure everywhere.
void undroppable_failures(std::size_t S) {
    MpiTransport::Options o;
    o.drop_failed_workers = true;
    o.round_timeout = 2s;
    MpiTransport transport(o);
    transport.handshake(S, 0, 0);
    const bool coordinator = transport.is_coordinator();
    check_throws([&] {
        transport.round(S, [&](std::size_t s) { return make_toy(s, coordinator); },
                        [&](Toy&, Communicator& comm) {
                            if (comm.worker() == S - 1) throw TrainingError("diverged in worker " + std::to_string(S - 1));
                            std::vector<float> v(4, 1.0f);
                            comm.allreduce_mean(v);
                        },
                        Replicas::Persistent);
    }, "diverged in worker " + std::to_string(S - 1), "a failure during gradient synchronisation aborts the round");
    check_throws([&] {
        transport.round(S, [&](std::size_t s) { return make_toy(s, coordinator); },
                        [&](Toy&, Communicator& comm) { throw TrainingError("boom from worker " + std::to_string(comm.worker())); },
                        Replicas::PerRound);
    }, "boom from worker 0", "a round in which every worker fails throws worker 0's failure everywhere");
    auto after = transport.round(S, [&](std::size_t s) { return make_toy(s, coordinator); }, [](Toy&, Communicator&) {},
                                 Replicas::PerRound);
    check(after.dropped.empty() && (!coordinator || after.packages.size() == S), "a round after those works");

    check_throws([] { MpiTransport t({.timeout_seconds = 2, .round_timeout = 2500ms}); },
                 "MpiTransport: round_timeout (2500 ms) must be shorter than timeout_seconds (2 s)",
                 "a round_timeout beyond timeout_seconds is refused");
    check_throws([] { MpiTransport t({.round_timeout = -1ms}); }, "MpiTransport: round_timeout must not be negative",
                 "a negative round_timeout is refused");
}

}  // namespace

void straggler_checks(std::size_t S) {
    straggler_rejoins(S);
    quorum_returns_early(S);
    failures_dropped_like_threads(S);
    dropped_slices_keep_values(S);
    undroppable_failures(S);
}

int stall_after_drop() {
    const auto S = static_cast<std::size_t>(MpiEnvironment::size());
    MpiTransport::Options o;
    o.round_timeout = 300ms;
    MpiTransport transport(o);
    transport.handshake(S, 0, 0);
    for (std::size_t r = 1; r <= 4; ++r)
        transport.round(
            S, [&](std::size_t s) { return make_toy(s, transport.is_coordinator()); },
            [&](Toy&, Communicator& comm) {
                if (r == 2 && comm.worker() == 1) std::this_thread::sleep_for(40s);
            },
            Replicas::PerRound);
    transport.wait_idle();
    std::puts("the stalled rank's late result arrived");
    return 1;
}

}  // namespace ist::mpi_test
