#pragma once
// Overlapping decompositions (Liao & Kyrillidis): neurons kept by independent Bernoulli masks,
// or each neuron sent to one random worker (categorical).
#include <algorithm>
#include <cassert>
#include <string>

#include "ist/partition/partitioner.hpp"

namespace ist {

/// Each worker keeps each neuron of every hidden dimension independently with probability `keep`
/// (xi). A neuron may be held by several workers (averaged over its holders) or by none (keeps
/// its value). A worker whose draw is empty for a dimension is given one random neuron, because
/// a zero-width layer cannot be trained. theta = 1 - (1 - xi)^S neurons are trained per round.
class BernoulliMasks {
public:
    explicit BernoulliMasks(double keep = 0.5) : keep_(keep) {}

    void validate(const DimensionTable&, std::size_t workers) const {
        detail::require(workers > 0, "BernoulliMasks: the number of workers S must be at least 1");
        detail::require(keep_ > 0.0 && keep_ <= 1.0,
                        "BernoulliMasks: keep probability must be in (0, 1], got " + std::to_string(keep_));
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        Plan plan = full_plan(dims, workers);
        for (std::size_t d = 0; d < dims.size(); ++d) {
            if (!cuts_features(dims[d])) continue;
            for (std::size_t s = 0; s < workers; ++s) {
                std::vector<std::uint32_t> kept;
                for (std::uint32_t i = 0; i < dims[d].size; ++i)
                    if (detail::bernoulli(rng, keep_)) kept.push_back(i);
                if (kept.empty()) kept.push_back(static_cast<std::uint32_t>(detail::uniform_below(rng, dims[d].size)));
                plan[s].dims[d] = std::move(kept);
            }
        }
        return plan;
    }

    double keep() const { return keep_; }

private:
    double keep_;
};

/// Each neuron goes to exactly one uniformly random worker: disjoint like NeuronPartition, but
/// chunk sizes vary. A worker that receives nothing for a dimension takes one neuron from the
/// largest chunk so that no subnet has a zero-width layer.
class CategoricalMasks {
public:
    void validate(const DimensionTable& dims, std::size_t workers) const {
        detail::require(workers > 0, "CategoricalMasks: the number of workers S must be at least 1");
        for (const auto& d : dims)
            if (cuts_features(d) && d.size < workers)
                throw ConfigError("CategoricalMasks: S = " + std::to_string(workers) +
                                  " workers but dimension '" + d.name + "' has only " +
                                  std::to_string(d.size) + " indices");
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        Plan plan = full_plan(dims, workers);
        for (std::size_t d = 0; d < dims.size(); ++d) {
            if (!cuts_features(dims[d])) continue;
            assert(dims[d].size >= workers);  // else refilling an empty chunk takes from an empty one
            std::vector<std::vector<std::uint32_t>> chunks(workers);
            for (std::uint32_t i = 0; i < dims[d].size; ++i) chunks[detail::uniform_below(rng, workers)].push_back(i);
            for (auto& c : chunks) {
                if (!c.empty()) continue;
                auto& largest = *std::max_element(chunks.begin(), chunks.end(),
                                                  [](auto& a, auto& b) { return a.size() < b.size(); });
                c.push_back(largest.back());
                largest.pop_back();
            }
            for (std::size_t s = 0; s < workers; ++s) {
                std::sort(chunks[s].begin(), chunks[s].end());
                plan[s].dims[d] = std::move(chunks[s]);
            }
        }
        return plan;
    }
};

}  // namespace ist
