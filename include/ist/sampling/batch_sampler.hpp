#pragma once
// BatchSampler: a worker's reproducible stream of mini-batches over its rows of a Dataset.
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/random.hpp"

namespace ist {

/// Draws mini-batches from a pool of row indices, reshuffling the pool every epoch with its own
/// reproducible RNG. Each worker owns one, so data sampling differs per worker.
class BatchSampler {
public:
    BatchSampler() = default;
    BatchSampler(std::vector<std::uint32_t> pool, std::uint64_t seed) : pool_(std::move(pool)), rng_(seed) {
        detail::require<DataError>(!pool_.empty(), "BatchSampler: no rows to sample from");
        shuffle();
    }

    /// Copies the next `batch` rows of `data` into x / y (and their row numbers into `rows`).
    void next(const Dataset& data, std::size_t batch, Matrix& x, Labels& y, std::vector<std::uint32_t>* rows = nullptr) {
        const std::vector<std::uint32_t>& drawn = take(batch);
        copy_rows(data, drawn, x, y);
        if (rows) *rows = drawn;
    }

    /// The next `n` entries of the pool, reshuffling at the end of every pass over it.
    const std::vector<std::uint32_t>& take(std::size_t n) {
        taken_.resize(n);
        for (std::size_t r = 0; r < n; ++r) {
            if (pos_ == pool_.size()) shuffle();
            taken_[r] = pool_[pos_++];
        }
        return taken_;
    }

    detail::RandomEngine& rng() { return rng_; }
    const std::vector<std::uint32_t>& pool() const { return pool_; }
    std::size_t position() const { return pos_; }

    /// The engine's state as text (the standard's portable serialisation), for checkpoints.
    std::string rng_state() const {
        std::ostringstream out;
        out << rng_;
        return out.str();
    }
    /// Puts the sampler back exactly where a checkpoint left it.
    void restore(std::vector<std::uint32_t> pool, std::size_t position, const std::string& rng_state) {
        detail::require<DataError>(!pool.empty() && position <= pool.size(), "BatchSampler: invalid saved position");
        std::istringstream in(rng_state);
        in >> rng_;
        detail::require<DataError>(!in.fail(), "BatchSampler: corrupt saved RNG state");
        pool_ = std::move(pool);
        pos_ = position;
    }

private:
    void shuffle() {
        detail::shuffle(pool_, rng_);
        pos_ = 0;
    }
    std::vector<std::uint32_t> pool_, taken_;
    std::size_t pos_ = 0;
    detail::RandomEngine rng_;
};

}  // namespace ist
