#pragma once
// Learning-rate schedules by round, set with IstTrainer::set_schedule.
#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "ist/core/error.hpp"

namespace ist {

/// The learning rate of round r (1-based) given the base rate.
using LearningRateSchedule = std::function<float(std::size_t round, float base)>;

/// Multiplies the base rate by `factor` once for every milestone passed: a milestone m (a
/// fraction of `rounds`) is passed from round floor(m * rounds) + 1 on. The reference ResIST
/// recipe is step_decay(rounds, {0.5, 0.75}, 0.1): /10 at 50% and again at 75% of training.
inline LearningRateSchedule step_decay(std::size_t rounds, std::vector<double> milestones = {0.5, 0.75},
                                       float factor = 0.1f) {
    detail::require(rounds > 0, "step_decay: rounds must be at least 1");
    detail::require(factor > 0.0f && std::isfinite(factor), "step_decay: factor must be positive and finite");
    for (double m : milestones)
        detail::require(m > 0.0 && m < 1.0, "step_decay: milestones are fractions of training in (0, 1), got " +
                                                std::to_string(m));
    return [rounds, milestones = std::move(milestones), factor](std::size_t round, float base) {
        float lr = base;
        for (double m : milestones)
            if (round > static_cast<std::size_t>(m * static_cast<double>(rounds))) lr *= factor;
        return lr;
    };
}

}  // namespace ist
