// The network model of the benchmarks: what a round would cost on a cluster of S machines joined by a
// link of a given speed, from what one run measured here (round wall time, bytes exchanged).
// Shared by ist-bench and the other bench/ programs so every table models time the same way.
//
// Per round of a run with S workers and l local steps:
//   compute = round wall time here x min(S, cores) / S   (each worker on a core of its own)
//   parameter node (IST, local SGD; every package passes its link, messages one after another):
//     comm  = 2 S alpha + bytes_round / beta             (bytes_round: all sent + received)
//   ring all-reduce (data parallel; counted bytes are 2 x model bytes per worker per step, so the
//   model bytes are M = bytes_round / (2 S l)):
//     comm  = l [ 2 (S - 1) alpha + 2 (S - 1) / S x M / beta ]
// alpha = 50 us per message; beta = the link's bytes per second.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace ist_bench {

inline constexpr double kAlpha = 50e-6;  ///< seconds of latency per message

inline constexpr const char* kModelText =
    "network model, per round (S workers, l local steps, alpha = 50 us/message, beta = link bytes/s):\n"
    "  compute = round wall time here x min(S, cores)/S   (each worker on a core of its own)\n"
    "  IST, local SGD (parameter node):  comm = 2 S alpha + bytes_round / beta\n"
    "  data parallel (ring all-reduce every step, M = model bytes = bytes_round / (2 S l)):\n"
    "                                    comm = l [2 (S-1) alpha + 2 (S-1)/S M / beta]\n";

/// How a method moves its bytes: through a parameter node, or by a ring all-reduce every step.
enum class Exchange { ParameterNode, RingAllReduce };

/// Modelled communication seconds of one round that exchanged `bytes` in total.
inline double comm_seconds(Exchange exchange, std::size_t S, std::size_t local_steps, std::uint64_t bytes,
                           double beta) {
    const double s = static_cast<double>(S);
    if (exchange == Exchange::RingAllReduce) {
        const double model_bytes = static_cast<double>(bytes) / (2.0 * s * static_cast<double>(local_steps));
        return static_cast<double>(local_steps) * (2.0 * (s - 1) * kAlpha + 2.0 * (s - 1) / s * model_bytes / beta);
    }
    return 2.0 * s * kAlpha + static_cast<double>(bytes) / beta;
}

/// The share of a round's wall time here that one worker would spend on a machine of its own.
inline double compute_share(std::size_t S) {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    return static_cast<double>(std::min<std::size_t>(S, cores)) / static_cast<double>(S);
}

// ---------------------------------------------------------------------------------------------
// Federated rounds (added for ist-fed-bench): every worker is a device with a link of its own, and a
// round lasts as long as its slowest worker.
//   round = max over workers s of [ compute_s x compute_share(S) + 2 alpha + bytes_s / beta ]
// compute_s: worker s's measured seconds here (RoundMetrics::worker_seconds, a simulated slowdown
// included); bytes_s: what it received and sent (RoundMetrics::worker_bytes).

inline constexpr const char* kSlowestWorkerText =
    "network model, per federated round (each worker on a link of its own, beta bytes/s, alpha = 50 us/message):\n"
    "  round = max over workers s of [compute_s x min(S, cores)/S + 2 alpha + bytes_s / beta]\n"
    "  compute_s = worker s's measured seconds here, its simulated slowdown included\n";

/// Modelled seconds of one round whose worker s computed `seconds[s]` here and moved `bytes[s]`.
inline double slowest_worker_seconds(const std::vector<double>& seconds, const std::vector<std::uint64_t>& bytes,
                                     double beta) {
    const double share = compute_share(bytes.size());
    double slowest = 0.0;
    for (std::size_t s = 0; s < bytes.size(); ++s) {
        const double compute = s < seconds.size() ? seconds[s] * share : 0.0;
        slowest = std::max(slowest, compute + 2.0 * kAlpha + static_cast<double>(bytes[s]) / beta);
    }
    return slowest;
}

}  // namespace ist_bench
