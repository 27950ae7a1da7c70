// WorkerStreams::end_round: a round's outcome moves each finished worker's stream exactly as
// drawing its l local batches did (on whichever process drew them), and leaves a dropped one's.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "helpers.hpp"

using namespace ist;

namespace {

bool same_state(const BatchSampler& a, const BatchSampler& b) {
    return a.pool() == b.pool() && a.position() == b.position() && a.rng_state() == b.rng_state();
}

/// Streams of `o` over `data`: every worker draws its local batches from its copy of round 1
/// (`ran`); a second set of streams is closed with `completed` alone and must stand where the
/// finished workers' drawing left theirs, and the others where they started.
void check_end_round(const TrainerOptions& o, const Dataset& data, const std::vector<std::size_t>& completed) {
    WorkerStreams drawn(o), closed(o);
    drawn.prepare(data);
    closed.prepare(data);
    RoundStreams ran = drawn.begin_round(1);
    Matrix x;
    Labels y;
    std::vector<std::uint32_t> rows;
    for (std::size_t s = 0; s < o.workers; ++s)
        for (std::size_t t = 0; t < o.local_steps; ++t) drawn.draw_batch(ran.sampler[s], data, x, y, rows);
    const RoundStreams round = closed.begin_round(1);
    closed.end_round(round, completed);
    const std::vector<BatchSampler> after = closed.positions().samplers, before = drawn.positions().samplers;
    for (std::size_t s = 0; s < o.workers; ++s) {
        CAPTURE(s);
        const bool finished = std::find(completed.begin(), completed.end(), s) != completed.end();
        CHECK(same_state(after[s], ran.sampler[s]) == finished);
        CHECK(same_state(after[s], before[s]) == !finished);  // drawing on the round's copy moved no stream
    }
}

}  // namespace

TEST_CASE("streams: a round's outcome moves each finished worker's stream where drawing its batches did") {
    Dataset data = test::blobs(200, 4, 3, 6);
    TrainerOptions o = test::test_options(3, 7, 1, 16, 9);  // 7 steps of 16 rows: past a pass over a shard
    SUBCASE("rows") { check_end_round(o, data, {0, 1, 2}); }
    SUBCASE("rows, a dropped worker's stream stays") { check_end_round(o, data, {0, 1}); }
    SUBCASE("clusters") {
        for (std::size_t r = 0; r < data.size(); ++r) data.clusters.push_back(static_cast<std::uint32_t>(r % 10));
        o.batches = Batches::Clusters;
        o.clusters_per_batch = 2;
        check_end_round(o, data, {0, 1, 2});
    }
}
