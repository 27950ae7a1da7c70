#pragma once
// How a worker's local work ended, as it travels between processes: the transports that run one
// worker per process (MPI, WireTransport) send it to the coordinator, which picks the failure the
// round rethrows everywhere (detail::deciding_failure), with the same exception type and message.
#include <cstdint>
#include <cstring>
#include <exception>
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

/// Throws the round's failure; this rank's own exception as it was when the failure is its.
inline void rethrow_unless_ok(const Outcome& verdict, std::size_t me, const std::exception_ptr& own) {
    if (verdict.ok()) return;
    if (verdict.worker == static_cast<std::int32_t>(me) && own) std::rethrow_exception(own);
    verdict.rethrow();
}

}  // namespace ist::detail
