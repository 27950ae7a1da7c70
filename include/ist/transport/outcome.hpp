#pragma once
// How a worker's local work ended (Outcome), and how the round ended (Verdict), the failure policy
// of every transport written once (judge): the transports that run one worker per process (MPI,
// WireTransport) send outcomes to the coordinator, which judges them and sends the verdict to every
// rank, so the round rethrows the same failure everywhere (same exception type and message);
// ThreadsTransport judges its threads' outcomes the same way.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "ist/core/error.hpp"

namespace ist::detail {

/// How a worker's local work ended; `kind` picks the exception type rethrown on every rank.
/// `round` tells a straggler's late status from the current round's.
struct Outcome {
    ErrorKind kind = ErrorKind::None;
    std::int32_t worker = 0;
    std::string message;
    std::uint64_t round = 0;
    double seconds = 0.0;  ///< the worker's local work's wall seconds (MPI reports them per round)

    bool ok() const { return kind == ErrorKind::None; }

    static Outcome from(std::exception_ptr error, std::size_t worker) {
        ErrorReport report = report_error(error);
        return {report.kind, static_cast<std::int32_t>(worker), std::move(report.message)};
    }

    /// Worker s, dropped from `round` without an outcome of its own: `why` (e.g. it did not return in time).
    static Outcome dropped(std::size_t s, std::string why, std::uint64_t round = 0) {
        return {ErrorKind::Aborted, static_cast<std::int32_t>(s), std::move(why), round};
    }

    /// Worker s sits `round` out: it is still working on a round it was dropped from.
    static Outcome still_busy(std::size_t s, std::uint64_t round = 0) {
        return dropped(s, "worker " + std::to_string(s) + " is still busy with an earlier round", round);
    }

    [[noreturn]] void rethrow() const { throw_error(kind, message); }

    /// Wire format: kind (int32), worker (int32), round (uint64), seconds (double), then the message's characters.
    std::vector<char> encode() const {
        std::vector<char> out(kHeader + message.size());
        std::memcpy(out.data(), &kind, sizeof kind);
        std::memcpy(out.data() + sizeof kind, &worker, sizeof worker);
        std::memcpy(out.data() + sizeof kind + sizeof worker, &round, sizeof round);
        std::memcpy(out.data() + sizeof kind + sizeof worker + sizeof round, &seconds, sizeof seconds);
        if (!message.empty()) std::memcpy(out.data() + kHeader, message.data(), message.size());
        return out;
    }
    static Outcome decode(std::span<const char> in) {
        Outcome o;
        if (in.size() < kHeader) return {ErrorKind::Other, 0, "malformed status message"};
        std::memcpy(&o.kind, in.data(), sizeof o.kind);
        std::memcpy(&o.worker, in.data() + sizeof o.kind, sizeof o.worker);
        std::memcpy(&o.round, in.data() + sizeof o.kind + sizeof o.worker, sizeof o.round);
        std::memcpy(&o.seconds, in.data() + sizeof o.kind + sizeof o.worker + sizeof o.round, sizeof o.seconds);
        o.message.assign(in.data() + kHeader, in.size() - kHeader);
        return o;
    }

private:
    static constexpr std::size_t kHeader = sizeof(ErrorKind) + sizeof(std::int32_t) + sizeof(std::uint64_t) + sizeof(double);
    static_assert(sizeof(ErrorKind) == sizeof(std::int32_t));
};

/// How a round ended, the same on every rank: the outcome every rank rethrows unless it is ok, and
/// the workers dropped from the round with why ("worker s: ...").
struct Verdict {
    Outcome outcome;
    std::vector<std::size_t> dropped;
    std::vector<std::string> failures;

    bool dropped_worker(std::size_t s) const { return std::find(dropped.begin(), dropped.end(), s) != dropped.end(); }

    /// Wire format: count (uint32), per dropped worker its index (uint32), its failure's length
    /// (uint32) and characters, then the outcome (Outcome::encode).
    std::vector<char> encode() const {
        std::vector<char> out;
        put(out, static_cast<std::uint32_t>(dropped.size()));
        for (std::size_t i = 0; i < dropped.size(); ++i) {
            put(out, static_cast<std::uint32_t>(dropped[i]));
            put(out, static_cast<std::uint32_t>(failures[i].size()));
            out.insert(out.end(), failures[i].begin(), failures[i].end());
        }
        const std::vector<char> tail = outcome.encode();
        out.insert(out.end(), tail.begin(), tail.end());
        return out;
    }

    /// False if `in` is not a verdict (the ranks disagree on the protocol).
    static bool decode(std::span<const char> in, Verdict& v) {
        std::uint32_t count = 0;
        if (!take(in, count)) return false;
        for (std::uint32_t i = 0; i < count; ++i) {
            std::uint32_t worker = 0, length = 0;
            if (!take(in, worker) || !take(in, length) || in.size() < length) return false;
            v.dropped.push_back(worker);
            v.failures.emplace_back(in.data(), length);
            in = in.subspan(length);
        }
        v.outcome = Outcome::decode(in);
        return true;
    }

private:
    static void put(std::vector<char>& out, std::uint32_t value) {
        const char* bytes = reinterpret_cast<const char*>(&value);
        out.insert(out.end(), bytes, bytes + sizeof value);
    }
    static bool take(std::span<const char>& in, std::uint32_t& value) {
        if (in.size() < sizeof value) return false;
        std::memcpy(&value, in.data(), sizeof value);
        in = in.subspan(sizeof value);
        return true;
    }
};

/// The failure policy of every transport, once every worker's outcome is in. Without `dropping`
/// the round ends with the deciding failure (deciding_failure: the first real failure in worker
/// order, else the first RoundAborted, which only echoes another's), if any. With it, every
/// worker that failed or was late is dropped ("worker s: why"), and the round fails only if no
/// worker is left. The verdict carries `round`.
inline Verdict judge(std::span<const std::optional<Outcome>> outcomes, bool dropping, std::uint64_t round = 0) {
    Verdict verdict;
    std::vector<ErrorKind> kinds;
    for (std::size_t s = 0; s < outcomes.size(); ++s) {
        kinds.push_back(outcomes[s]->kind);
        if (!dropping || outcomes[s]->ok()) continue;
        verdict.dropped.push_back(s);
        verdict.failures.push_back("worker " + std::to_string(s) + ": " + outcomes[s]->message);
    }
    const auto deciding = deciding_failure(kinds);
    if (deciding && (!dropping || verdict.dropped.size() == outcomes.size())) verdict.outcome = *outcomes[*deciding];
    verdict.outcome.round = round;
    return verdict;
}

/// Throws the round's failure; this rank's own exception as it was when the failure is its.
inline void rethrow_unless_ok(const Outcome& verdict, std::size_t me, const std::exception_ptr& own) {
    if (verdict.ok()) return;
    if (verdict.worker == static_cast<std::int32_t>(me) && own) std::rethrow_exception(own);
    verdict.rethrow();
}

}  // namespace ist::detail
