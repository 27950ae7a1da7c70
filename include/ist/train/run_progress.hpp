#pragma once
// Where an IST run stands between rounds, besides the model: its counters and the shared partition
// engine, whose state decides every plan still to come (so a run resumed from a checkpoint draws
// the subnets the unbroken run draws).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "ist/core/error.hpp"
#include "ist/partition/partitioner.hpp"
#include "ist/train/checkpoint_file.hpp"
#include "ist/metrics/round_metrics.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail {

struct RunProgress {
    PartitionRng partition_rng;
    std::size_t rounds_done = 0;
    std::uint64_t steps_taken = 0;
    std::uint64_t total_bytes = 0;
    double seconds = 0.0;

    explicit RunProgress(std::uint64_t seed) : partition_rng(seed) {}

    /// Closes a round of `local_steps` steps that moved `traffic` in `round_seconds`: its metrics
    /// and the run's totals. RoundMetrics::bytes counts each byte once, at its worker's end.
    void finish_round(RoundMetrics& m, std::size_t local_steps, const RoundTraffic& traffic, double round_seconds) {
        m.round = ++rounds_done;
        steps_taken += local_steps;
        for (std::size_t s = 0; s < traffic.sent.size(); ++s) {
            m.worker_bytes.push_back(traffic.sent[s] + traffic.received[s]);
            m.max_worker_bytes = std::max(m.max_worker_bytes, m.worker_bytes.back());
        }
        count_bytes(m, traffic.total());
        m.round_seconds = round_seconds;
        seconds += round_seconds;
        m.seconds = seconds;
    }

    /// `bytes` more moved after round m (a sharded node's shards gathered to the coordinator).
    void count_bytes(RoundMetrics& m, std::uint64_t bytes) {
        m.bytes += bytes;
        total_bytes += bytes;
        m.total_bytes = total_bytes;
    }

    /// Into a checkpoint's state.
    void save(RunState& state) const {
        state.rounds_done = rounds_done;
        state.steps_taken = steps_taken;
        state.total_bytes = total_bytes;
        state.seconds = seconds;
        std::ostringstream rng;
        rng << partition_rng;
        state.partition_rng = rng.str();
    }

    /// From a checkpoint read from `path`; a corrupt engine state throws DataError and changes nothing.
    void restore(const RunState& state, const std::string& path) {
        std::istringstream text(state.partition_rng);
        PartitionRng rng;
        text >> rng;
        if (text.fail()) throw DataError(path + "[partition_rng]: corrupt RNG state");
        partition_rng = rng;
        rounds_done = state.rounds_done;
        steps_taken = state.steps_taken;
        total_bytes = state.total_bytes;
        seconds = state.seconds;
    }
};

}  // namespace ist::detail
