#pragma once
// One line of metrics per evaluated round: loss, test loss/accuracy, bytes, time.
#include <cstdio>
#include <iostream>

#include "ist/metrics/round_metrics.hpp"

namespace ist {

class PrintMetrics {
public:
    explicit PrintMetrics(std::ostream& out = std::cout, bool only_evaluated_rounds = true)
        : out_(out), only_evaluated_(only_evaluated_rounds) {}

    void on_round_end(const RoundMetrics& m) {
        if (only_evaluated_ && !m.test && m.failures.empty()) return;
        char line[256];
        int n = std::snprintf(line, sizeof line, "round %4zu/%zu  train loss %.4f", m.round, m.rounds, m.train_loss);
        if (m.test)
            n += std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), "  test loss %.4f  test acc %.4f",
                               m.test->loss, m.test->accuracy);
        std::snprintf(line + n, sizeof line - static_cast<std::size_t>(n), "  %.2f MB/round  %.1f MB total  %.2fs",
                      static_cast<double>(m.bytes) / 1e6, static_cast<double>(m.total_bytes) / 1e6, m.seconds);
        out_ << line << '\n';
        for (const auto& failure : m.failures) out_ << "  dropped " << failure << '\n';
        out_ << std::flush;
    }

private:
    std::ostream& out_;
    bool only_evaluated_;
};

}  // namespace ist
