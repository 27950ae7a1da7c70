#pragma once
// WireTransport: the library's round over a user's Wire (transport/wire.hpp), one worker per rank.
// Rank 0 holds the full model and is worker 0: it cuts every subnet, sends worker s its package
// as bytes (coded by the package, detail::pack), trains its own, takes the others back and merges.
// What the library does here, so that a Wire only moves bytes (the round's steps every transport
// shares, transport/round_ledger.hpp: the work, the packages and their bytes, the verdict):
//  - coding: packages travel as detail::pack / unpack make them (a lossy codec's bytes);
//  - byte counting: each package's payload both ways, each all-reduce's message both ways;
//  - the ordered mean: every all-reduce is arbitrated by rank 0 and summed in worker order
//    (detail::CoordinatorReduction, as MpiTransport's: plain floats by a reduce-scatter and an
//    all-gather between the ranks, coded ones through rank 0), so the result is bit-identical to
//    ThreadsTransport's;
//  - the failure policy: every worker sends how its work ended; rank 0 judges the round
//    (detail::judge, as every transport) and every rank rethrows its failure, same type and message. A
//    worker that fails inside an all-reduce abandons it: the others' RoundAborted follows.
// It never drops a worker: stragglers and deadlines are ThreadsTransport's and MpiTransport's.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/transport/coordinator_reduction.hpp"
#include "ist/transport/outcome.hpp"
#include "ist/transport/pack.hpp"
#include "ist/transport/round_ledger.hpp"
#include "ist/transport/transport.hpp"
#include "ist/transport/wire.hpp"

namespace ist {

template <Wire W>
class WireTransport {
public:
    explicit WireTransport(W wire) : wire_(std::move(wire)) {}

    W& wire() { return wire_; }
    bool is_coordinator() const { return rank() == 0; }

    /// One worker per rank, and every rank runs the same model and configuration (ConfigError
    /// naming what differs otherwise, on every rank).
    void handshake(std::size_t workers, std::uint64_t parameters, std::uint64_t config) {
        if (workers != ranks())
            throw ConfigError("WireTransport: S = " + std::to_string(workers) + " workers but the wire has " +
                              std::to_string(ranks()) + " ranks; it runs one worker per rank");
        const std::vector<std::uint64_t> mine{parameters, config};
        std::string verdict;
        if (!is_coordinator()) send(0, Kind::Hello, as_bytes(mine));
        for (std::size_t k = 1; is_coordinator() && k < ranks(); ++k)
            if (expect(k, Kind::Hello, "its handshake") != as_bytes(mine))
                verdict = "rank " + std::to_string(k) + " runs another model size or configuration than rank 0";
        const std::vector<char> said = from_coordinator(Kind::Welcome, {verdict.data(), verdict.size()}, "the handshake's verdict");
        verdict.assign(said.begin(), said.end());
        if (!verdict.empty()) throw ConfigError("WireTransport: mismatched launch: " + verdict);
    }

    /// The coordinator's decision, on every rank.
    bool agree(bool decision) {
        const char byte = decision ? 1 : 0;
        return from_coordinator(Kind::Decision, {&byte, 1}, "a decision").at(0) != 0;
    }

    /// Overwrites `tensors` on every rank with the coordinator's values (same shapes everywhere).
    void broadcast(std::span<Tensor* const> tensors) {
        std::vector<char> bytes(detail::tensor_bytes(tensors));
        if (is_coordinator()) detail::pack_tensors(tensors, bytes.data());
        const std::vector<char> got = from_coordinator(Kind::Tensors, bytes, "the broadcast tensors");
        if (got.size() != bytes.size()) throw std::logic_error("WireTransport: broadcast tensors of another size");
        detail::unpack_tensors(tensors, got.data());
    }

    /// MergesDuringRound: rank 0 merges each package as it is back.
    static constexpr bool merges_during_round = true;

    /// One round (see the Transport concept): the packages of every worker on rank 0, or with
    /// Replicas::Persistent on every rank (copies of its own replica, equal by construction).
    template <class Extract, class Work>
    auto round(std::size_t workers, Extract&& extract, Work&& work, Replicas replicas) {
        using P = std::invoke_result_t<Extract&, std::size_t>;
        return round(workers, extract, work, replicas, static_cast<RoundMerge<P>*>(nullptr));
    }

    /// The same, rank 0 handing each package to `merges` as it is back (the MergesDuringRound hook).
    template <class Extract, class Work, class P>
    RoundResult<P> round(std::size_t workers, Extract&& extract, Work&& work, Replicas replicas, RoundMerge<P>* merges) {
        static_assert(std::is_same_v<P, std::invoke_result_t<Extract&, std::size_t>>,
                      "WireTransport::round: `merges` must merge the packages `extract` makes");
        if (workers != ranks()) handshake(workers, 0, 0);
        detail::RoundLedger<P> ledger(workers, replicas, is_coordinator() ? std::nullopt : std::optional(rank()));
        Reduction reduction(*this);
        detail::Verdict verdict;
        if (is_coordinator()) {
            CoordinatorLink link{*this, reduction};
            verdict = detail::coordinate_on_rank_0(link, ledger, extract, work, reduction.means, std::vector<char>(workers, 1),
                                                   merges);
        } else {
            WorkerLink link{*this};
            verdict = detail::work_on_own_rank(link, ledger, extract, rank(), work, reduction.means, 0);
        }
        return ledger.finish(std::move(verdict), reduction.outcomes, reduction.means.bytes, rank(), extract);
    }

private:
    enum class Kind : char { Hello, Welcome, Decision, Tensors, Package, Status, Verdict, Contribution, Mean, Abort, Chunk };

    /// CoordinatorReduction's Link over the wire: contributions, means, aborts and an exchange's
    /// chunks travel as messages of their Kind; a worker whose status comes instead has left the
    /// reduction, and rank 0 keeps that status for the round (`outcomes`).
    class ReductionLink {
    public:
        ReductionLink(WireTransport& t, std::vector<std::optional<detail::Outcome>>& outcomes) : t_(t), outcomes_(outcomes) {}

        std::size_t workers() const { return t_.ranks(); }

        template <class Inbox>
        std::optional<std::span<const char>> take_contribution(std::size_t k, Inbox&&, std::optional<std::string>&) {
            if (outcomes_[k]) return std::nullopt;
            message_ = t_.receive(k);
            const Kind kind = take_kind(message_);
            if (kind == Kind::Status) {
                outcomes_[k] = detail::Outcome::decode(message_);
                return std::nullopt;
            }
            t_.require(kind == Kind::Contribution, k, "an all-reduce contribution");
            return std::span<const char>(message_);
        }
        void abort(std::size_t k) { t_.send(k, Kind::Abort, {}); }
        void send_mean(std::span<const char> mean) {
            for (std::size_t k = 1; k < t_.ranks(); ++k) t_.send(k, Kind::Mean, mean);
        }
        void send_contribution(std::span<const char> contribution) { t_.send(0, Kind::Contribution, contribution); }
        bool take_mean(std::span<char> inbox) {
            std::vector<char> message = t_.receive(0);
            if (take_kind(message) == Kind::Abort) return false;
            if (message.size() != inbox.size()) throw std::logic_error("WireTransport: an all-reduce mean of the wrong length");
            std::copy(message.begin(), message.end(), inbox.begin());
            return true;
        }
        /// Pair by pair in one order every rank follows (pairs of lower ranks first, the lower
        /// rank of a pair sending first), so a Wire whose send waits for its receiver cannot deadlock.
        void exchange(std::span<const detail::PeerTransfer> transfers) {
            for (const detail::PeerTransfer& t : transfers) {
                if (t.peer > t_.rank()) send_chunk(t);
                take_chunk(t);
                if (t.peer < t_.rank()) send_chunk(t);
            }
        }

    private:
        void send_chunk(const detail::PeerTransfer& t) {
            if (!t.outgoing.empty()) t_.send(t.peer, Kind::Chunk, t.outgoing);
        }
        void take_chunk(const detail::PeerTransfer& t) {
            if (t.incoming.empty()) return;
            const std::vector<char> chunk = t_.expect(t.peer, Kind::Chunk, "an all-reduce chunk");
            if (chunk.size() != t.incoming.size()) throw std::logic_error("WireTransport: an all-reduce chunk of the wrong length");
            std::copy(chunk.begin(), chunk.end(), t.incoming.begin());
        }

        WireTransport& t_;
        std::vector<std::optional<detail::Outcome>>& outcomes_;
        std::vector<char> message_;  ///< the last contribution taken (its kind stripped)
    };

    /// One round's all-reduces at this rank (the Group of its Communicator), and rank 0's record of
    /// how each worker's work ended (a status may come instead of a contribution).
    struct Reduction {
        explicit Reduction(WireTransport& t) : outcomes(t.ranks()), means(ReductionLink(t, outcomes)) {}

        std::vector<std::optional<detail::Outcome>> outcomes;  ///< rank 0: per worker, once its status is in
        detail::CoordinatorReduction<ReductionLink> means;     ///< the all-reduces, and their bytes
    };

    /// How rank 0 talks to the workers in a round (coordinate_on_rank_0's link).
    struct CoordinatorLink {
        WireTransport& t;
        Reduction& reduction;

        template <class P>
        void send_subnet(detail::RoundLedger<P>& ledger, std::size_t s) {
            t.send(s, Kind::Package, detail::pack(ledger.package(s)));
        }
        void subnets_sent() {}  // a Wire's send returns once the bytes are on their way or taken
        void settle_own(detail::Outcome outcome) { reduction.outcomes[0] = std::move(outcome); }
        template <class P>
        void take_back(detail::RoundLedger<P>& ledger) {
            for (std::size_t k = 1; k < t.ranks(); ++k) {
                reduction.outcomes[k] = t.take_status(k, reduction);
                if (reduction.outcomes[k]->ok()) ledger.take_back(k, t.expect(k, Kind::Package, "its trained package"));
            }
        }
        detail::Verdict announce_verdict() {
            const detail::Verdict verdict = detail::judge(reduction.outcomes, false);
            const std::vector<char> encoded = verdict.encode();
            for (std::size_t k = 1; k < t.ranks(); ++k) t.send(k, Kind::Verdict, encoded);
            return verdict;
        }
    };

    /// Rank 0 after its own work: worker k's status (abandoning any all-reduce k is still in).
    detail::Outcome take_status(std::size_t k, Reduction& reduction) {
        if (reduction.outcomes[k]) return *reduction.outcomes[k];
        for (;;) {
            std::vector<char> message = receive(k);
            const Kind kind = take_kind(message);
            if (kind == Kind::Status) return detail::Outcome::decode(message);
            require(kind == Kind::Contribution, k, "its status");
            send(k, Kind::Abort, {});  // worker 0 left this all-reduce: it failed
        }
    }

    /// How a worker's rank talks to rank 0 in a round (work_on_own_rank's link).
    struct WorkerLink {
        WireTransport& t;
        std::vector<char> take_subnet(std::size_t) { return t.expect(0, Kind::Package, "this worker's subnet"); }
        void send_status(const std::vector<char>& status) { t.send(0, Kind::Status, status); }
        void send_package(const std::vector<char>& package) { t.send(0, Kind::Package, package); }
        detail::Verdict take_verdict() {
            detail::Verdict verdict;
            if (!detail::Verdict::decode(t.expect(0, Kind::Verdict, "the round's verdict"), verdict))
                throw std::logic_error("WireTransport: a malformed verdict (the ranks run different programs)");
            return verdict;
        }
    };

    /// Rank 0 sends `body` to every rank; every rank returns it.
    std::vector<char> from_coordinator(Kind kind, std::span<const char> body, const std::string& what) {
        if (!is_coordinator()) return expect(0, kind, what);
        for (std::size_t k = 1; k < ranks(); ++k) send(k, kind, body);
        return {body.begin(), body.end()};
    }

    void send(std::size_t peer, Kind kind, std::span<const char> body) {
        std::vector<char> message(1 + body.size());
        message[0] = static_cast<char>(kind);
        std::copy(body.begin(), body.end(), message.begin() + 1);
        wire_.send(peer, message);
    }
    std::vector<char> receive(std::size_t peer) { return wire_.receive(peer); }

    /// The next message from `peer`, which must be of `kind` (std::logic_error naming `what` otherwise).
    std::vector<char> expect(std::size_t peer, Kind kind, const std::string& what) {
        std::vector<char> message = receive(peer);
        require(take_kind(message) == kind, peer, what);
        return message;
    }

    /// Strips a message's kind (its first byte) and returns it; the body moves to its own buffer,
    /// so floats read from it are aligned.
    static Kind take_kind(std::vector<char>& message) {
        if (message.empty()) throw std::logic_error("WireTransport: an empty message (not sent by a WireTransport)");
        const auto kind = static_cast<Kind>(message.front());
        message = std::vector<char>(message.begin() + 1, message.end());
        return kind;
    }

    void require(bool expected, std::size_t peer, const std::string& what) const {
        if (!expected)
            throw std::logic_error("WireTransport: rank " + std::to_string(rank()) + " expected " + what + " from rank " +
                                   std::to_string(peer) + " and got another message (the ranks run different programs)");
    }

    static std::vector<char> as_bytes(const std::vector<std::uint64_t>& values) {
        std::vector<char> out(values.size() * sizeof(std::uint64_t));
        std::memcpy(out.data(), values.data(), out.size());
        return out;
    }

    std::size_t rank() const { return static_cast<std::size_t>(wire_.rank()); }
    std::size_t ranks() const { return static_cast<std::size_t>(wire_.size()); }

    W wire_;
};

}  // namespace ist
