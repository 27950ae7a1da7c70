// The network model of the benchmarks and transformer-train: what a round would cost on a cluster
// of S machines joined by a link of a given speed, from what one run measured here (round wall
// time, bytes exchanged). Shared by ist-bench, the other bench/ programs and transformer-train so
// every table models time the same way; in support/ because both examples/ and bench/ use it.
//
// Per round of a run with S workers and l local steps:
//   compute = round wall time here x min(S, cores) / S   (each worker on a core of its own)
//   parameter node (IST, local SGD; every package passes its link, messages one after another):
//     comm  = 2 S alpha + bytes_round / beta             (bytes_round: all sent + received)
//   The node is a machine of its own, so every worker's bytes cross its link. Where the coordinator
//   is also worker 0 (ist's MPI transport: rank 0), its link carries (S - 1) / S of them: the model
//   overstates IST's and local SGD's communication by S / (S - 1) there (x2 at S = 2), which
//   favours data parallel; bench/cluster_bench.py models the co-located deployment it runs.
//   ring all-reduce (data parallel; counted bytes are 2 x model bytes per worker per step, so the
//   model bytes are M = bytes_round / (2 S l)):
//     comm  = l [ 2 (S - 1) alpha + 2 (S - 1) / S x M / beta ]
// alpha = 50 us per message; beta = the link's bytes per second.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include <ist/core/error.hpp>
#include <ist/metrics/round_metrics.hpp>

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

/// A link of the model: its speed and how tables name it.
struct Link {
    double bytes_per_second = 0.0;
    std::string name;  ///< "100 Mbit/s"
    std::string slug;  ///< "100mbit", for CSV / JSON keys
};

/// "100M" -> 100 Mbit/s; the suffix K, M or G (bits per second) is required, the number may have
/// a fraction ("2.5G"). A malformed speed is a ConfigError naming `option` and the text.
inline Link parse_link(const std::string& text, const std::string& option = "--link") {
    const auto bad = [&] {
        return ist::ConfigError(option + ": '" + text + "' is not a link speed in bits per second like 10M, 100M, 1G or 2.5G");
    };
    if (text.size() < 2) throw bad();
    const char unit = text.back();
    const double scale = unit == 'K' ? 1e3 : unit == 'M' ? 1e6 : unit == 'G' ? 1e9 : 0.0;
    const std::string number = text.substr(0, text.size() - 1);
    std::size_t used = 0;
    double value = 0.0;
    try {
        value = std::stod(number, &used);
    } catch (const std::exception&) {
        throw bad();
    }
    if (scale == 0.0 || used != number.size() || !(value > 0.0) || number.find_first_not_of("0123456789.") != std::string::npos)
        throw bad();
    const std::string unit_name = unit == 'K' ? "kbit" : unit == 'M' ? "mbit" : "gbit";
    return {value * scale / 8.0, number + " " + std::string(1, unit) + "bit/s", number + unit_name};
}

/// "100M,10M" -> two links, in the order given.
inline std::vector<Link> parse_links(const std::string& text, const std::string& option = "--link") {
    std::vector<Link> links;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t comma = std::min(text.find(',', start), text.size());
        links.push_back(parse_link(text.substr(start, comma - start), option));
        start = comma + 1;
    }
    return links;
}

/// Modelled seconds from the start of a run to the end of each round of `history` on a link of
/// `beta` bytes per second (compute share of each round's wall time plus its communication).
inline std::vector<double> modelled_timeline(const std::vector<ist::RoundMetrics>& history, Exchange exchange,
                                             std::size_t S, std::size_t local_steps, double beta) {
    std::vector<double> ends;
    double t = 0.0;
    for (const auto& m : history) {
        t += m.round_seconds * compute_share(S) + comm_seconds(exchange, S, local_steps, m.bytes, beta);
        ends.push_back(t);
    }
    return ends;
}

}  // namespace ist_bench
