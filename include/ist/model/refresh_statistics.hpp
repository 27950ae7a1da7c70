#pragma once
// Running statistics of a trained network's batch norms, recomputed from data.
#include <algorithm>

#include <xtensor/xview.hpp>

#include "ist/core/error.hpp"
#include "ist/model/network.hpp"

namespace ist {

/// Runs training-mode forward passes of `net` over the rows of `features`, `batch_size` at a
/// time, so that every batch norm built with a momentum folds their statistics into its running
/// ones; parameters are untouched. Call it after training and before evaluating or saving: IST
/// workers train subnets, whose copies of the statistics are discarded at the merge, so the full
/// network's running statistics never move during training.
inline void refresh_running_statistics(Network& net, const Matrix& features, std::size_t batch_size = 256) {
    detail::require(batch_size > 1, "refresh_running_statistics: batch_size must be at least 2");
    const std::size_t rows = features.shape()[0];
    for (std::size_t begin = 0; begin < rows; begin += batch_size) {
        const std::size_t end = std::min(rows, begin + batch_size);
        if (end - begin < 2) break;  // a one-row remainder has no batch statistics
        const Matrix batch = xt::view(features, xt::range(begin, end), xt::all());
        net.forward(batch, Mode::Train);
    }
}

}  // namespace ist
