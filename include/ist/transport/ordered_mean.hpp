#pragma once
// The arithmetic of Communicator::allreduce_mean, written once for every transport: the
// contributions are summed in worker order 0..S-1, starting from +0, then multiplied by 1/S.
// Floating-point addition is not associative, so this fixed order is what makes the threads
// and MPI transports bit-identical (MPI_Allreduce leaves the order unspecified). MessageMean is
// the coordinator's side of a reduction whose contributions and mean travel as messages: plain
// floats (FloatMessages) or a lossy codec's bytes (CodedMessages, allreduce_coded_mean).
#include <algorithm>
#include <cstddef>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/transport/reduction_coding.hpp"

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

/// Messages that are the floats themselves (allreduce_mean).
struct FloatMessages {
    std::size_t values = 0;

    std::size_t message_bytes() const { return values * sizeof(float); }
    void read(std::span<const char> message, std::span<float> out) const {
        if (!out.empty()) std::memcpy(out.data(), message.data(), message_bytes());
    }
    void write(std::span<const float> mean, std::vector<char>& message) const {
        const auto* bytes = reinterpret_cast<const char*>(mean.data());
        message.assign(bytes, bytes + mean.size_bytes());
    }
    std::string wrong_length(std::size_t, std::size_t) const {
        return "allreduce_mean: workers passed buffers of different lengths";
    }
};

/// Messages a lossy codec has coded (allreduce_coded_mean).
struct CodedMessages {
    ReductionCoding& coding;

    std::size_t message_bytes() const { return coding.message_bytes(); }
    void read(std::span<const char> message, std::span<float> out) const { coding.decode(message, out); }
    void write(std::span<const float> mean, std::vector<char>& message) const { coding.encode_mean(mean, message); }
    std::string wrong_length(std::size_t worker, std::size_t bytes) const {
        return "allreduce_coded_mean: worker " + std::to_string(worker) + " sent a coded contribution of " +
               std::to_string(bytes) + " bytes, " + std::to_string(message_bytes()) +
               " expected (the workers code with different codecs or tensor shapes); refused before decoding";
    }
};

/// The coordinator's side of one reduction: each worker's message (in worker order) read back
/// into floats and added (OrderedMean), then the mean written as the message every worker reads.
template <class Messages>
class MessageMean {
public:
    /// `sum` and `contribution` are the caller's buffers (kept between reductions), resized to `values`.
    MessageMean(Messages messages, std::size_t values, std::vector<float>& sum, std::vector<float>& contribution)
        : messages_(messages), sum_((sum.resize(values), sum)), contribution_((contribution.resize(values), contribution)),
          mean_(sum_) {}

    /// Adds the next worker's message; false (adding nothing) if it has the wrong length.
    bool add(std::span<const char> message) {
        if (message.size() != messages_.message_bytes()) return false;
        messages_.read(message, contribution_);
        mean_.add(contribution_);
        return true;
    }

    /// The mean's message (replacing `message`).
    void finish(std::vector<char>& message) {
        mean_.finish(sum_);
        messages_.write(sum_, message);
    }

private:
    Messages messages_;
    std::vector<float>& sum_;
    std::vector<float>& contribution_;
    OrderedMean mean_;
};

}  // namespace ist::detail
