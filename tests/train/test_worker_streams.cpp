// WorkerStreams::replay_remote_draws: a process that did not run a worker's local steps (MPI:
// another rank did) moves that worker's stream exactly as drawing its batches would have.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "helpers.hpp"

using namespace ist;

namespace {

bool same_state(const BatchSampler& a, const BatchSampler& b) {
    return a.pool() == b.pool() && a.position() == b.position() && a.rng_state() == b.rng_state();
}

/// Streams of `o` over `data`, every worker having drawn its local batches (`drawn`: `ran`) or
/// had them replayed (`replayed`: worker 0 ran here, the others elsewhere; `dropped` not replayed).
void check_replay(const TrainerOptions& o, const Dataset& data, const std::vector<std::size_t>& dropped = {}) {
    WorkerStreams drawn(o), replayed(o);
    drawn.prepare(data);
    replayed.prepare(data);
    RoundStreams ran = drawn.begin_round(1), here = replayed.begin_round(1);
    Matrix x;
    Labels y;
    std::vector<std::uint32_t> rows;
    for (std::size_t s = 0; s < o.workers; ++s)
        for (std::size_t t = 0; t < o.local_steps; ++t) drawn.draw_batch(*ran.sampler[s], data, x, y, rows);
    for (std::size_t t = 0; t < o.local_steps; ++t) replayed.draw_batch(*here.sampler[0], data, x, y, rows);
    here.done[0] = true;
    replayed.replay_remote_draws(here, dropped);
    for (std::size_t s = 0; s < o.workers; ++s) {
        const bool was_dropped = std::find(dropped.begin(), dropped.end(), s) != dropped.end();
        CHECK(here.done[s] == !was_dropped);
        CHECK(same_state(*ran.sampler[s], *here.sampler[s]) == !was_dropped);
    }
}

}  // namespace

TEST_CASE("streams: replaying a remote worker's draws leaves its stream where drawing its batches would") {
    Dataset data = test::blobs(200, 4, 3, 6);
    TrainerOptions o = test::test_options(3, 7, 1, 16, 9);  // 7 steps of 16 rows: past a pass over a shard
    SUBCASE("rows") { check_replay(o, data); }
    SUBCASE("rows, a dropped worker is not replayed") { check_replay(o, data, {2}); }
    SUBCASE("clusters") {
        for (std::size_t r = 0; r < data.size(); ++r) data.clusters.push_back(static_cast<std::uint32_t>(r % 10));
        o.batches = Batches::Clusters;
        o.clusters_per_batch = 2;
        check_replay(o, data);
    }
}
