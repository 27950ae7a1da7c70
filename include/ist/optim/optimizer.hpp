#pragma once
// The LocalOptimizer policy: what each worker runs for its l local steps. Two levels, as in
// ensmallen and PyTorch: the policy holds the hyper-parameters and is copied freely; start()
// returns a run object that owns the per-run state (velocity, moments, step count).
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// Optimizer state carried from one round to the next (OptimizerState::Carry): the state tensors,
/// `state_per_parameter` of them per parameter, parameter-major, each shaped like its parameter,
/// and the local steps taken before (Adam's bias correction). Empty tensors: start from zero.
struct CarriedState {
    std::vector<Tensor> tensors;
    std::uint64_t steps = 0;
};

/// Requirements of the run object start() returns:
template <class R>
concept OptimizerRun = std::movable<R> && requires(R& r, std::span<Parameter* const> params) {
    r.step(params);                                        // one update from each Parameter::grad
    { r.take_state() } -> std::same_as<CarriedState>;      // the state to carry, moved out
};

/// Requirements of the policy:
template <class O>
concept LocalOptimizer = std::copy_constructible<O> &&
    requires(O& o, const O& co, std::span<Parameter* const> params, CarriedState carried, float lr) {
        co.validate();                                      // ConfigError for impossible hyper-parameters
        { co.start(params) } -> OptimizerRun;               // zero state shaped like the (subnet) parameters
        { co.start(params, std::move(carried)) } -> OptimizerRun;  // continues from carried state
        { O::state_per_parameter } -> std::convertible_to<std::size_t>;  // state tensors per parameter
        { co.learning_rate() } -> std::convertible_to<float>;  // for schedules
        o.set_learning_rate(lr);                            // for schedules
    };

namespace detail {

/// The state tensors a run starts from: the carried ones after checking they fit `params`, or
/// zeros when nothing was carried.
inline std::vector<Tensor> start_state(std::span<Parameter* const> params, std::vector<Tensor> carried,
                                       std::size_t per_parameter, const char* who) {
    if (carried.empty()) {
        for (const Parameter* p : params)
            for (std::size_t k = 0; k < per_parameter; ++k) carried.push_back(xt::zeros<float>(p->value.shape()));
        return carried;
    }
    if (carried.size() != params.size() * per_parameter)
        throw ConfigError(std::string(who) + ": carried state has " + std::to_string(carried.size()) +
                          " tensors, expected " + std::to_string(params.size() * per_parameter));
    for (std::size_t i = 0; i < carried.size(); ++i)
        if (carried[i].shape() != params[i / per_parameter]->value.shape())
            throw ConfigError(std::string(who) + ": carried state tensor " + std::to_string(i) +
                              " is not shaped like its parameter");
    return carried;
}

/// What every optimizer run owns: its state tensors and the steps taken (carried ones included).
class OptimizerRunBase {
public:
    OptimizerRunBase(std::vector<Tensor> state, std::uint64_t steps) : state_(std::move(state)), steps_(steps) {}
    CarriedState take_state() { return {std::move(state_), steps_}; }
    std::uint64_t steps() const { return steps_; }

protected:
    std::vector<Tensor> state_;
    std::uint64_t steps_;
};

}  // namespace detail

}  // namespace ist
