#pragma once
// An all-reduce through the coordinator, written once for every transport whose workers talk in
// messages (MpiTransport's session, WireTransport): each worker sends its contribution to worker
// 0, which adds them in worker order (MessageMean, the ordered mean) and sends the mean back. A
// worker that left the reduction (its status came instead of a contribution), or a contribution of
// the wrong length, abandons it: every contributor is told (RoundAborted there), and worker 0
// throws the misuse (std::logic_error) if there was one, RoundAborted otherwise.
//
// A Link is the transport's side: how the messages travel and how they are told apart.
//   workers()                     S, one worker per rank
//   take_contribution(k, inbox, failure)
//                                 worker k's contribution, received into inbox(bytes) (or wherever
//                                 the link keeps it); std::nullopt if k left the reduction, and then
//                                 `failure`, if still empty, may say why leaving was a misuse
//   abort(k)                      tells contributor k that the reduction is abandoned
//   send_mean(message)            the mean's message to every other worker
//   send_contribution(message)    a worker's contribution to worker 0
//   take_mean(inbox)              the mean into `inbox` (exactly its length); false if abandoned
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/ordered_mean.hpp"
#include "ist/transport/reduction_coding.hpp"

namespace ist::detail {

/// One rank's all-reduces over `Link`: the Group of a GroupCommunicator (allreduce_mean,
/// allreduce_coded_mean), with the bytes each worker sent (and received) in them.
template <class Link>
class CoordinatorReduction {
public:
    explicit CoordinatorReduction(Link link) : link_(std::move(link)) {}

    void allreduce_mean(std::size_t worker, std::span<float> data) {
        const auto* bytes = reinterpret_cast<const char*>(data.data());
        reduce(worker, {bytes, data.size_bytes()}, data, FloatMessages{data.size()});
    }

    /// The same with coded messages: only the codec's bytes travel, both ways.
    void allreduce_coded_mean(std::size_t worker, std::span<const char> contribution, std::span<float> mean,
                              ReductionCoding& coding) {
        reduce(worker, contribution, mean, CodedMessages{coding});
    }

    std::uint64_t bytes = 0;  ///< each way, per worker, over the reductions since it was last zeroed

private:
    template <class Messages>
    void reduce(std::size_t worker, std::span<const char> contribution, std::span<float> out, const Messages& messages) {
        if (worker == 0) gather_mean(contribution, out, messages);
        else take_mean(contribution, out, messages);
        bytes += messages.message_bytes();
    }

    /// Worker 0: the contributions added in worker order, the mean sent back.
    template <class Messages>
    void gather_mean(std::span<const char> own, std::span<float> out, const Messages& messages) {
        MessageMean<Messages> mean(messages, out.size(), sum_, scratch_);
        if (!mean.add(own)) throw std::logic_error(messages.wrong_length(0, own.size()));
        // A contribution of the right length lands where it is added from (no copy of fp32 floats).
        const auto inbox = [&](std::size_t length) {
            return length == messages.message_bytes() ? mean.inbox(message_)
                                                      : (message_.resize(length), std::span<char>(message_));
        };
        std::vector<std::size_t> contributed;
        std::optional<std::string> failure;
        bool abandoned = false;
        for (std::size_t k = 1; k < link_.workers(); ++k) {
            const std::optional<std::span<const char>> contribution = link_.take_contribution(k, inbox, failure);
            if (!contribution) {
                abandoned = true;
                continue;
            }
            contributed.push_back(k);
            // Once abandoned, nothing more is added or judged, as ThreadsTransport's barrier stops
            // every worker when one leaves: the round ends with the first worker's failure.
            if (abandoned || mean.add(*contribution)) continue;
            if (!failure) failure = messages.wrong_length(k, contribution->size());
            abandoned = true;
        }
        if (abandoned) {
            for (std::size_t k : contributed) link_.abort(k);
            if (failure) throw std::logic_error(*failure);
            throw RoundAborted("round aborted: another worker failed");
        }
        link_.send_mean(mean.finish(out, message_));
    }

    /// A worker: its contribution sent, the mean (or the news that it was abandoned) taken.
    template <class Messages>
    void take_mean(std::span<const char> contribution, std::span<float> out, const Messages& messages) {
        link_.send_contribution(contribution);
        const std::span<char> inbox = messages.inbox(out, message_);
        if (!link_.take_mean(inbox)) throw RoundAborted("round aborted: another worker failed");
        messages.floats(inbox, out);
    }

    Link link_;
    std::vector<float> sum_, scratch_;  ///< worker 0's buffers for MessageMean
    std::vector<char> message_;         ///< a contribution or the mean, as it travels
};

}  // namespace ist::detail
