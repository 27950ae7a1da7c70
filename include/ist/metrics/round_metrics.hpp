#pragma once
// What the trainer reports after every round and at the end.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ist/metrics/ranking.hpp"

namespace ist {

struct Evaluation {
    double loss = 0.0;
    double accuracy = 0.0;  ///< multi-label sets: P@1; regression sets: none (0)
    std::optional<RankingMetrics> ranking;  ///< P@1/3/5 and nDCG@1/3/5, multi-label sets only
};

struct RoundMetrics {
    std::size_t round = 0;               ///< 1-based
    std::size_t rounds = 0;              ///< planned total
    double train_loss = 0.0;             ///< mean over every worker's local steps this round
    std::optional<Evaluation> test;      ///< present on evaluation rounds
    std::uint64_t bytes = 0;             ///< sent + received by all workers this round
    std::uint64_t max_worker_bytes = 0;  ///< the busiest worker's sent + received
    std::vector<std::uint64_t> worker_bytes;  ///< per worker, sent + received this round
    std::uint64_t total_bytes = 0;       ///< cumulative since training began
    double round_seconds = 0.0;          ///< wall time of this round (training, without evaluation)
    double seconds = 0.0;                ///< cumulative training wall time (evaluation excluded)
    std::vector<std::size_t> dropped_workers;  ///< workers whose subnet did not come back (kept old values)
    std::vector<std::string> failures;         ///< why each was dropped
    std::vector<double> worker_seconds;        ///< per worker, its local training's seconds (in-process; MPI's central node: on rank 0)
};

struct TrainResult {
    std::vector<RoundMetrics> history;
    std::optional<Evaluation> final_test;
    bool stopped_early = false;
    /// The final model's broadcast after the rounds (distributed transports, PerRound replicas, with
    /// TrainerOptions::final_model_everywhere): each byte once, at its receiving end, (S - 1) x the
    /// model and carried optimizer state; not in any round's bytes (those equal the threads transport's).
    std::uint64_t final_broadcast_bytes = 0;
};

}  // namespace ist
