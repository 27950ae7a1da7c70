#pragma once
// The arithmetic of Communicator::allreduce_mean, written once for every transport: the
// contributions are summed in worker order 0..S-1, starting from +0, then multiplied by 1/S.
// Floating-point addition is not associative, so this fixed order is what makes the threads
// and MPI transports bit-identical (MPI_Allreduce leaves the order unspecified). MessageMean is
// the coordinator's side of a reduction whose contributions and mean travel as messages: plain
// floats (FloatMessages) or a lossy codec's bytes (CodedMessages, allreduce_coded_mean).
#include <algorithm>
#include <cstddef>
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

// A Messages policy says how one reduction's values travel:
//   message_bytes()        the exact length of every message;
//   inbox(floats, buffer)  where a message is received, so that floats(message, floats) reads it back;
//   floats(message, scratch) the values a message holds: in place when the message is the floats
//                          themselves, decoded into `scratch` otherwise;
//   write(mean, buffer)    the mean's message;
//   wrong_length(worker, bytes) the refusal of a message of another length.
// FloatMessages never copies: a message is received straight into the floats it holds.

/// Messages that are the floats themselves (allreduce_mean).
struct FloatMessages {
    std::size_t values = 0;

    std::size_t message_bytes() const { return values * sizeof(float); }
    std::span<char> inbox(std::span<float> floats, std::vector<char>&) const {
        return {reinterpret_cast<char*>(floats.data()), floats.size_bytes()};
    }
    std::span<const float> floats(std::span<const char> message, std::span<float>) const {
        return {reinterpret_cast<const float*>(message.data()), message.size() / sizeof(float)};
    }
    std::span<const char> write(std::span<const float> mean, std::vector<char>&) const {
        return {reinterpret_cast<const char*>(mean.data()), mean.size_bytes()};
    }
    std::string wrong_length(std::size_t, std::size_t) const {
        return "allreduce_mean: workers passed buffers of different lengths";
    }
};

/// Messages a lossy codec has coded (allreduce_coded_mean).
struct CodedMessages {
    ReductionCoding& coding;

    std::size_t message_bytes() const { return coding.message_bytes(); }
    std::span<char> inbox(std::span<float>, std::vector<char>& buffer) const {
        buffer.resize(message_bytes());
        return buffer;
    }
    std::span<const float> floats(std::span<const char> message, std::span<float> scratch) const {
        coding.decode(message, scratch);
        return scratch;
    }
    std::span<const char> write(std::span<const float> mean, std::vector<char>& buffer) const {
        coding.encode_mean(mean, buffer);
        return buffer;
    }
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
        : messages_(messages), contribution_((contribution.resize(values), contribution)),
          mean_((sum.resize(values), std::span<float>(sum))) {}

    /// Where the next worker's message is to be received before add() (`buffer` if it is coded).
    std::span<char> inbox(std::vector<char>& buffer) { return messages_.inbox(contribution_, buffer); }

    /// Adds the next worker's message; false (adding nothing) if it has the wrong length.
    bool add(std::span<const char> message) {
        if (message.size() != messages_.message_bytes()) return false;
        mean_.add(messages_.floats(message, contribution_));
        return true;
    }

    /// Leaves in `out` the mean every worker will read and returns its message (`out`'s own
    /// bytes, or `buffer` holding the coded mean, which `out` then holds decoded).
    std::span<const char> finish(std::span<float> out, std::vector<char>& buffer) {
        mean_.finish(out);
        const std::span<const char> message = messages_.write(out, buffer);
        messages_.floats(message, out);
        return message;
    }

private:
    Messages messages_;
    std::vector<float>& contribution_;
    OrderedMean mean_;
};

}  // namespace ist::detail
