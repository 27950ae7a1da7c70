#pragma once
// The all-reduces of every transport whose workers talk in messages (MpiTransport's session,
// WireTransport), written once over a Link. Worker 0 is the coordinator: it arbitrates every
// reduction, so that a worker that left it (its status came instead of a contribution), or a
// buffer of the wrong length, abandons it: every contributor is told (RoundAborted there), and
// worker 0 throws the misuse (std::logic_error) if there was one, RoundAborted otherwise.
//
// Plain floats (allreduce_mean, S >= 2) move by direct exchange, one wire time on a full-duplex
// link instead of the coordinator's two: every worker first announces its length to worker 0,
// which says go (or abandons the reduction as above: nothing has moved yet); then the values are
// cut into S chunks (chunk k = [n k / S, n (k + 1) / S), the threads transport's slices), worker k
// receives every worker's chunk k at once, adds them in worker order 0..S-1 (OrderedMean, as
// MessageMean adds them) and sends its chunk of the mean to every worker. Each worker sends and
// receives n (S - 1) / S + (S - 1) x |chunk| floats: the message at S = 2, about 2 (S - 1) / S of it
// at larger S, where worker 0 no longer carries S - 1 messages each way. `bytes` still counts the
// message each way per worker, the number every transport reports (exact on the wire at S = 2).
// Coded messages (allreduce_coded_mean) go through worker 0: a codec codes whole tensors (a scale
// per row), so a chunk of a coded message is not a message the codec can decode.
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
//   exchange(transfers)           for each PeerTransfer: `outgoing` to its peer, and exactly
//                                 `incoming.size()` bytes from that peer into `incoming` (an empty
//                                 span: nothing that way); returns when all are done. Every rank's
//                                 transfers are listed in peer order. Called only after worker 0
//                                 said go, so every peer is in the same exchange.
#include <cstddef>
#include <cstdint>
#include <cstring>
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

/// One peer's share of a Link's exchange: what this rank sends it, and where what it sends lands.
struct PeerTransfer {
    std::size_t peer = 0;
    std::span<const char> outgoing;
    std::span<char> incoming;
};

/// One rank's all-reduces over `Link`: the Group of a GroupCommunicator (allreduce_mean,
/// allreduce_coded_mean), with the bytes each worker sent (and received) in them.
template <class Link>
class CoordinatorReduction {
public:
    explicit CoordinatorReduction(Link link) : link_(std::move(link)) {}

    void allreduce_mean(std::size_t worker, std::span<float> data) {
        const FloatMessages messages{data.size()};
        if (link_.workers() < 2) {  // worker 0 alone: its own values times 1/1, through the same MessageMean
            const auto* bytes = reinterpret_cast<const char*>(data.data());
            return reduce(worker, {bytes, data.size_bytes()}, data, messages);
        }
        agree_on_length(worker, messages);
        exchange_mean(worker, data);
        bytes += messages.message_bytes();
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
            return length == messages.message_bytes() ? mean.inbox(message_) : message_inbox(length);
        };
        gather(inbox, [&](std::span<const char> contribution) { return mean.add(contribution); }, messages);
        link_.send_mean(mean.finish(out, message_));
    }

    /// Worker 0: every other worker's contribution, taken in worker order and judged by `accept`
    /// (false: the wrong length). A worker that left, or a refused contribution, abandons the
    /// reduction: every contributor is told, and the first failure is thrown.
    template <class Inbox, class Accept, class Messages>
    void gather(Inbox&& inbox, Accept&& accept, const Messages& messages) {
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
            if (abandoned || accept(*contribution)) continue;
            if (!failure) failure = messages.wrong_length(k, contribution->size());
            abandoned = true;
        }
        if (!abandoned) return;
        for (std::size_t k : contributed) link_.abort(k);
        if (failure) throw std::logic_error(*failure);
        throw RoundAborted("round aborted: another worker failed");
    }

    /// Before any value moves: every worker announces its length to worker 0, which judges them
    /// as gather_mean judges contributions and says go (an empty mean) or abandons the reduction.
    void agree_on_length(std::size_t worker, const FloatMessages& messages) {
        const std::uint64_t length = messages.message_bytes();
        const std::span<const char> announced(reinterpret_cast<const char*>(&length), sizeof length);
        if (worker != 0) {
            link_.send_contribution(announced);
            if (!link_.take_mean({})) throw RoundAborted("round aborted: another worker failed");
            return;
        }
        const auto same_length = [&](std::span<const char> got) {
            return got.size() == announced.size() && std::memcmp(got.data(), announced.data(), got.size()) == 0;
        };
        gather([&](std::size_t got) { return message_inbox(got); }, same_length, messages);
        link_.send_mean({});
    }

    /// Once worker 0 said go: the reduce-scatter (every worker's chunk `me` received at once and
    /// added in worker order) and the all-gather (chunk `me` of the mean to every worker).
    void exchange_mean(std::size_t me, std::span<float> data) {
        const std::size_t S = link_.workers();
        const auto chunk = [&](std::size_t k) {
            const std::size_t lo = data.size() * k / S, hi = data.size() * (k + 1) / S;
            return data.subspan(lo, hi - lo);
        };
        const std::span<float> mine = chunk(me);
        scratch_.resize((S - 1) * mine.size());
        const auto received = [&](std::size_t k) {  // worker k's chunk `me`, in the slot of k among the others
            return std::span<float>(scratch_).subspan((k < me ? k : k - 1) * mine.size(), mine.size());
        };
        transfers_.clear();
        for (std::size_t k = 0; k < S; ++k)
            if (k != me) transfers_.push_back({k, bytes_of(chunk(k)), writable_bytes_of(received(k))});
        link_.exchange(std::span<const PeerTransfer>(transfers_));
        sum_.resize(mine.size());
        OrderedMean mean(sum_);
        for (std::size_t k = 0; k < S; ++k) mean.add(k == me ? mine : received(k));
        mean.finish(mine);
        transfers_.clear();
        for (std::size_t k = 0; k < S; ++k)
            if (k != me) transfers_.push_back({k, bytes_of(mine), writable_bytes_of(chunk(k))});
        link_.exchange(std::span<const PeerTransfer>(transfers_));
    }

    std::span<char> message_inbox(std::size_t length) {
        message_.resize(length);
        return message_;
    }
    static std::span<const char> bytes_of(std::span<const float> values) {
        return {reinterpret_cast<const char*>(values.data()), values.size_bytes()};
    }
    static std::span<char> writable_bytes_of(std::span<float> values) {
        return {reinterpret_cast<char*>(values.data()), values.size_bytes()};
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
    std::vector<float> sum_, scratch_;      ///< MessageMean's buffers; the exchange's sum and received chunks
    std::vector<char> message_;             ///< a contribution or the mean, as it travels
    std::vector<PeerTransfer> transfers_;  ///< one phase of the exchange
};

}  // namespace ist::detail
