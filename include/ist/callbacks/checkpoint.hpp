#pragma once
// Saves a checkpoint every `every` rounds and after the last (atomically), so a killed run can
// resume bit-identically. An empty path disables it, which suits command-line tools.
#include <string>

#include "ist/metrics/round_metrics.hpp"

namespace ist {

class Checkpoint {
public:
    explicit Checkpoint(std::string path, std::size_t every = 1) : path_(std::move(path)), every_(every ? every : 1) {}

    template <class Trainer>
    void on_round_end(const RoundMetrics& m, Trainer& trainer) {
        if (!path_.empty() && (m.round % every_ == 0 || m.round == m.rounds)) trainer.save_checkpoint(path_);
    }

private:
    std::string path_;
    std::size_t every_;
};

}  // namespace ist
