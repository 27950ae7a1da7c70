#pragma once
// The arithmetic of Communicator::allreduce_mean, written once for every transport: the
// contributions are summed in worker order 0..S-1, starting from +0, then multiplied by 1/S.
// Floating-point addition is not associative, so this fixed order is what makes the threads
// and MPI transports bit-identical (MPI_Allreduce leaves the order unspecified).
#include <algorithm>
#include <cstddef>
#include <span>
#include <stdexcept>

namespace ist::detail {

class OrderedMean {
public:
    /// Accumulates into `sum` (zeroed here), which the caller owns and keeps alive.
    explicit OrderedMean(std::span<float> sum) : sum_(sum) { std::fill(sum_.begin(), sum_.end(), 0.0f); }

    /// Adds the next worker's contribution (workers in order 0, 1, ...).
    void add(std::span<const float> contribution) {
        if (contribution.size() != sum_.size()) throw std::logic_error("OrderedMean: contribution of the wrong length");
        for (std::size_t i = 0; i < sum_.size(); ++i) sum_[i] += contribution[i];
        ++added_;
    }

    /// Writes the mean over the contributions added (sum x 1/count) to `out` (may alias `sum`).
    void finish(std::span<float> out) const {
        const float inv = 1.0f / static_cast<float>(added_);
        for (std::size_t i = 0; i < sum_.size(); ++i) out[i] = sum_[i] * inv;
    }

private:
    std::span<float> sum_;
    std::size_t added_ = 0;
};

}  // namespace ist::detail
