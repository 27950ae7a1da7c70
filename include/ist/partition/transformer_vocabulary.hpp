#pragma once
// The vocabulary cut of a transformer: in a round a worker's batches use only some token ids
// (about 14% of an 8,000-word vocabulary for l = 8 batches of 32 glosses), so it receives and
// sends back only those rows of the token embedding. The trainer's holder average then gives each
// row the mean over the workers that held it, as for overlapping masks (Liao & Kyrillidis 2022);
// rows no worker used keep their value, which plain training with Adam's moments reset every
// round (and no weight decay) does too, since their gradient is zero.
#include <algorithm>
#include <concepts>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/token_id.hpp"
#include "ist/partition/partitioner.hpp"

namespace ist {

/// Wraps partitioner P (heads, FFN, blocks, or FullModel for local SGD) and, once the trainer has
/// drawn the round's batches (the PlansOnBatches hook), gives each worker the rows of the model's
/// "vocabulary" dimension that its batches' token ids name. Every feature of a row is a token id
/// (ist::Transformer's data).
template <Partitioner P>
class VocabularyCut {
public:
    VocabularyCut() = default;
    /// Takes exactly a P: a converting parameter would make copying a VocabularyCut<AnyPartition>
    /// ask whether AnyPartition can hold a VocabularyCut, which asks about copying it again.
    template <class Q>
        requires std::same_as<std::remove_cvref_t<Q>, P>
    explicit VocabularyCut(Q&& inner) : inner_(std::forward<Q>(inner)) {}

    void validate(const DimensionTable& dims, std::size_t workers) const {
        vocabulary_dim(dims);
        inner_.validate(dims, workers);
    }

    /// The wrapped partitioner's plan; refine() adds the vocabulary rows.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) { return inner_.plan(dims, workers, rng); }

    float unit_scale(const DimensionTable& dims, UnitRef unit, std::size_t workers) const
        requires HasUnitScale<P>
    {
        return inner_.unit_scale(dims, unit, workers);
    }

    /// Worker s holds the vocabulary rows of the token ids in rows[s] of `data` (sorted).
    void refine(Plan& plan, const DimensionTable& dims, const Dataset& data,
                const std::vector<std::vector<std::uint32_t>>& rows) const {
        const std::size_t d = vocabulary_dim(dims), vocabulary = dims[d].size;
        std::vector<char> used(vocabulary);
        for (std::size_t s = 0; s < plan.size(); ++s) {
            std::fill(used.begin(), used.end(), 0);
            for (std::uint32_t r : rows.at(s))
                for (std::size_t t = 0; t < data.feature_count(); ++t) used[token_id(data.features(r, t), vocabulary)] = 1;
            std::vector<std::uint32_t> ids;
            for (std::uint32_t id = 0; id < vocabulary; ++id)
                if (used[id]) ids.push_back(id);
            plan[s].dims[d] = std::move(ids);
        }
    }

    P& inner() { return inner_; }

private:
    static std::size_t vocabulary_dim(const DimensionTable& dims) {
        for (std::size_t d = 0; d < dims.size(); ++d)
            if (dims[d].name == "vocabulary") return d;
        throw ConfigError("VocabularyCut: the model has no 'vocabulary' dimension (token embedding rows) to cut");
    }

    static std::size_t token_id(float value, std::size_t vocabulary) {
        if (detail::is_token_id(value, vocabulary)) return static_cast<std::size_t>(value);
        throw DataError("VocabularyCut: token id " + std::to_string(value) + " is outside the vocabulary of " +
                        std::to_string(vocabulary) + " ids");
    }

    P inner_{};
};

template <Partitioner P>
VocabularyCut(P) -> VocabularyCut<P>;

}  // namespace ist
