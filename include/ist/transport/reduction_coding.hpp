#pragma once
// How the messages of a coded all-reduce (Communicator::allreduce_coded_mean) are coded: data
// parallel with a lossy codec (quantised communication as in QSGD, Alistarh et al. 2017). The
// transports see bytes only; the codec behind them is the trainer's (exchange/coded_all_reduce.hpp).
#include <cstddef>
#include <span>
#include <vector>

namespace ist {

/// One coded all-reduce's codec, as a transport sees it. Every message, a worker's contribution
/// or the coordinator's mean, codes the same values, so every one is message_bytes() long.
class ReductionCoding {
public:
    virtual ~ReductionCoding() = default;
    /// The exact length of every message of this reduction.
    virtual std::size_t message_bytes() const = 0;
    /// Overwrites `out` from a message of message_bytes() bytes.
    virtual void decode(std::span<const char> message, std::span<float> out) const = 0;
    /// The coordinator's coding of the mean into `message` (replaced), drawn from the stream all
    /// workers share, so the mean every worker decodes is the one any of them would have coded.
    virtual void encode_mean(std::span<const float> mean, std::vector<char>& message) = 0;
};

}  // namespace ist
