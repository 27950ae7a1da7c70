#pragma once
// Stop when the test loss has not improved for `patience` evaluations, when a target
// accuracy is reached, or when a budget of training seconds is spent.
#include <limits>

#include "ist/metrics/round_metrics.hpp"

namespace ist {

class EarlyStop {
public:
    explicit EarlyStop(std::size_t patience = 5, double min_delta = 0.0) : patience_(patience), min_delta_(min_delta) {}

    bool on_round_end(const RoundMetrics& m) {
        if (!m.test) return false;
        if (m.test->loss < best_ - min_delta_) {
            best_ = m.test->loss;
            stale_ = 0;
            return false;
        }
        return ++stale_ >= patience_;
    }

private:
    std::size_t patience_;
    double min_delta_;
    double best_ = std::numeric_limits<double>::infinity();
    std::size_t stale_ = 0;
};

/// Stops training at the first evaluation whose test accuracy reaches `target`, and remembers
/// when (training seconds and bytes), which is what the time-to-accuracy tables report.
class StopAtAccuracy {
public:
    explicit StopAtAccuracy(double target) : target_(target) {}

    bool on_round_end(const RoundMetrics& m) {
        if (reached_ || !m.test || m.test->accuracy < target_) return false;
        reached_ = true;
        seconds_ = m.seconds;
        bytes_ = m.total_bytes;
        round_ = m.round;
        return true;
    }
    bool reached() const { return reached_; }
    double seconds() const { return seconds_; }
    std::uint64_t bytes() const { return bytes_; }
    std::size_t round() const { return round_; }

private:
    double target_;
    bool reached_ = false;
    double seconds_ = 0.0;
    std::uint64_t bytes_ = 0;
    std::size_t round_ = 0;
};

/// Stops training after the first round whose cumulative training seconds (RoundMetrics::seconds,
/// evaluation excluded) reach `budget`: a wall-clock budget instead of a round count, e.g. for a
/// run that must outlast a fault whatever the machine's speed (bench/cluster_faults.py).
class StopAfterSeconds {
public:
    explicit StopAfterSeconds(double budget) : budget_(budget) {}

    bool on_round_end(const RoundMetrics& m) const { return m.seconds >= budget_; }

private:
    double budget_;
};

}  // namespace ist
