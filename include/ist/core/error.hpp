#pragma once
// Exceptions thrown by ist. Every message names the offending value so a user can fix the input.
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

namespace detail {
template <class E = ConfigError>
inline void require(bool ok, const std::string& message) {
    if (!ok) throw E(message);
}
}  // namespace detail

}  // namespace ist
