#pragma once
// One round of training as one value: what its workers start from and, once the transport has
// run it, its outcome. The outcome is the one record of who finished the round: the workers'
// streams move on (WorkerStreams::end_round), the merge weighs and the metrics name the dropped
// from it alone.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "ist/aggregate/aggregator.hpp"
#include "ist/core/plan.hpp"
#include "ist/sampling/worker_streams.hpp"
#include "ist/transport/transport.hpp"

namespace ist {

template <class Package>
struct Round {
    std::size_t number = 0;          ///< 1-based
    Plan plan;                       ///< one subnet per worker
    RoundStreams streams;            ///< the data each worker draws from
    std::uint64_t steps_before = 0;  ///< local steps the run took before this round
    RoundResult<Package> outcome;    ///< set once the transport has run the round

    /// The plans of the workers that finished, in the order of the outcome's packages.
    Plan completed_plans() const {
        Plan out;
        for (std::size_t s : outcome.completed_workers()) out.push_back(plan[s]);
        return out;
    }

    /// The training rows behind each finished worker's package (its stream's pool), in the same order.
    std::vector<double> completed_samples() const {
        std::vector<double> out;
        for (std::size_t s : outcome.completed_workers()) out.push_back(static_cast<double>(streams.sampler.at(s).pool().size()));
        return out;
    }
};

}  // namespace ist
