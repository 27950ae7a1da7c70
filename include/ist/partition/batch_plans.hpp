#pragma once
// Partitioners that complete a round's plan once the round's batches are known: the vocabulary
// cut of a transformer gives each worker only the embedding rows its batches use.
#include <concepts>
#include <cstdint>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/plan.hpp"
#include "ist/sampling/worker_streams.hpp"

namespace ist {

/// Optional Partitioner hook: `refine(plan, dims, data, rows)` completes the round's plan, where
/// rows[s] are the training rows of worker s's l local batches this round (in draw order).
template <class P, class Data>
concept PlansOnBatches =
    requires(P& p, Plan& plan, const DimensionTable& dims, const Data& data,
             const std::vector<std::vector<std::uint32_t>>& rows) { p.refine(plan, dims, data, rows); };

namespace detail {

/// Every worker's rows of round `r`, peeked from copies of its stream (the streams do not move),
/// so the plan can depend on the batches; every rank keeps every stream, so all ranks agree.
inline std::vector<std::vector<std::uint32_t>> round_rows(const WorkerStreams& streams, const RoundStreams& r) {
    std::vector<std::vector<std::uint32_t>> rows;
    for (const BatchSampler& sampler : r.sampler) rows.push_back(streams.peek_round_rows(sampler));
    return rows;
}

}  // namespace detail
}  // namespace ist
