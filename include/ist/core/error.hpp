#pragma once
// Exceptions thrown by ist. Every message names the offending value so a user can fix the input.
#include <cstdint>
#include <exception>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

namespace ist {

/// Impossible or inconsistent configuration (S = 0, S wider than a layer, lr <= 0, ...).
class ConfigError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

/// Malformed, truncated or inconsistent input data.
class DataError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Training produced NaN/Inf or otherwise cannot continue.
class TrainingError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Thrown in the surviving workers of a round in which another worker failed.
class RoundAborted : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

namespace detail {
template <class E = ConfigError>
inline void require(bool ok, const std::string& message) {
    if (!ok) throw E(message);
}

/// ist's exception types as numbers, so a failure can cross a process boundary. The values are
/// on MpiTransport's wire: append new kinds, never renumber.
enum class ErrorKind : std::int32_t { None = 0, Aborted, Training, Config, Data, Logic, Other };

struct ErrorReport {
    ErrorKind kind = ErrorKind::None;
    std::string message;
};

/// What `error` is, as a kind and its message (no error: ErrorKind::None).
inline ErrorReport report_error(std::exception_ptr error) {
    if (!error) return {};
    try { std::rethrow_exception(error); }
    catch (const RoundAborted& e) { return {ErrorKind::Aborted, e.what()}; }
    catch (const TrainingError& e) { return {ErrorKind::Training, e.what()}; }
    catch (const ConfigError& e) { return {ErrorKind::Config, e.what()}; }
    catch (const DataError& e) { return {ErrorKind::Data, e.what()}; }
    catch (const std::logic_error& e) { return {ErrorKind::Logic, e.what()}; }
    catch (const std::exception& e) { return {ErrorKind::Other, e.what()}; }
    catch (...) { return {ErrorKind::Other, "unknown exception"}; }
}

/// Throws the exception a report describes: the same type for ist's errors, else runtime_error.
[[noreturn]] inline void throw_error(ErrorKind kind, const std::string& message) {
    switch (kind) {
        case ErrorKind::Aborted: throw RoundAborted(message);
        case ErrorKind::Training: throw TrainingError(message);
        case ErrorKind::Config: throw ConfigError(message);
        case ErrorKind::Data: throw DataError(message);
        case ErrorKind::Logic: throw std::logic_error(message);
        default: throw std::runtime_error(message);
    }
}

/// The worker whose failure a round ends with: the first real failure in worker order, else the
/// first RoundAborted (an abort only echoes another worker's failure); none if nobody failed.
inline std::optional<std::size_t> deciding_failure(std::span<const ErrorKind> per_worker) {
    std::optional<std::size_t> aborted;
    for (std::size_t s = 0; s < per_worker.size(); ++s) {
        if (per_worker[s] == ErrorKind::None) continue;
        if (per_worker[s] != ErrorKind::Aborted) return s;
        if (!aborted) aborted = s;
    }
    return aborted;
}
}  // namespace detail

}  // namespace ist
