#pragma once
// How IstTrainer calls the callbacks it is given. Every hook is optional:
//   on_train_begin(trainer)
//   on_round_end(metrics) or on_round_end(metrics, trainer)  -> bool: true stops training
//   on_train_end(result)
#include <concepts>

#include "ist/metrics/round_metrics.hpp"

namespace ist::detail {

template <class C, class Trainer>
void callback_train_begin(C& c, Trainer& trainer) {
    if constexpr (requires { c.on_train_begin(trainer); }) c.on_train_begin(trainer);
}

template <class C, class Trainer>
bool callback_round_end(C& c, const RoundMetrics& m, Trainer& trainer) {
    if constexpr (requires { { c.on_round_end(m, trainer) } -> std::convertible_to<bool>; })
        return c.on_round_end(m, trainer);
    else if constexpr (requires { c.on_round_end(m, trainer); }) c.on_round_end(m, trainer);
    else if constexpr (requires { { c.on_round_end(m) } -> std::convertible_to<bool>; })
        return c.on_round_end(m);
    else if constexpr (requires { c.on_round_end(m); }) c.on_round_end(m);
    return false;
}

template <class C>
void callback_train_end(C& c, const TrainResult& result) {
    if constexpr (requires { c.on_train_end(result); }) c.on_train_end(result);
}

}  // namespace ist::detail
