#pragma once
// A one-line progress bar redrawn every round.
#include <cstdio>
#include <iostream>
#include <string>

#include "ist/metrics/round_metrics.hpp"

namespace ist {

class ProgressBar {
public:
    explicit ProgressBar(std::ostream& out = std::cerr, std::size_t width = 30) : out_(out), width_(width) {}

    void on_round_end(const RoundMetrics& m) {
        const std::size_t done = m.rounds ? width_ * m.round / m.rounds : width_;
        out_ << "\r[" << std::string(done, '=') << std::string(width_ - done, ' ') << "] " << m.round << '/'
             << m.rounds << " loss " << format(m.train_loss);
        if (m.test) out_ << " test acc " << format(m.test->accuracy);
        out_ << std::flush;
    }
    void on_train_end(const TrainResult&) { out_ << '\n'; }

private:
    static std::string format(double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.4f", v);
        return buf;
    }
    std::ostream& out_;
    std::size_t width_;
};

}  // namespace ist
