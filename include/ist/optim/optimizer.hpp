#pragma once
// The LocalOptimizer policy: what each worker runs for its l local steps.
#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include "ist/core/tensor.hpp"

namespace ist {

/// Requirements:
///  - `validate()` throws ist::ConfigError for impossible hyper-parameters (lr <= 0, ...);
///  - `reset(params)` creates zero state shaped like the given (possibly subnet-sized) parameters;
///  - `step(params)` applies one update from each Parameter::grad;
///  - `state()` exposes the state tensors, `state_per_parameter` of them per parameter, each
///    shaped like its parameter (parameter-major). The trainer extracts and merges them exactly
///    like parameters when optimizer state is carried across rounds;
///  - `learning_rate()` / `set_learning_rate()` for schedules.
template <class O>
concept LocalOptimizer = std::copy_constructible<O> &&
    requires(O& o, const O& co, std::span<Parameter* const> params, float lr) {
        co.validate();
        o.reset(params);
        o.step(params);
        { o.state() } -> std::same_as<std::vector<Tensor>&>;
        { O::state_per_parameter } -> std::convertible_to<std::size_t>;
        { co.learning_rate() } -> std::convertible_to<float>;
        o.set_learning_rate(lr);
    };

/// Optimizers whose update depends on how many steps were taken (Adam's bias correction).
template <class O>
concept CountsSteps = requires(O& o) { { o.step_count() } -> std::same_as<std::uint64_t&>; };

}  // namespace ist
