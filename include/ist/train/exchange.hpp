#pragma once
// The exchange of a round: what travels between the coordinator and a worker, how it is cut
// from the full model (and the optimizer state carried with it) and merged back into it.
#include <cmath>
#include <cstddef>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "ist/aggregate/aggregator.hpp"
#include "ist/core/error.hpp"
#include "ist/detail/gather.hpp"
#include "ist/model/model.hpp"
#include "ist/core/plan.hpp"

namespace ist {

/// What a worker reports of its round besides its subnet.
struct WorkerStats {
    double loss_sum = 0.0;  ///< sum of the losses of its local steps
    double steps = 0.0;     ///< local steps it took

    /// Both fields for the transport, which moves scalars as one span of doubles.
    std::span<double> scalars() { return {&loss_sum, 2}; }
};
static_assert(std::is_standard_layout_v<WorkerStats> && sizeof(WorkerStats) == 2 * sizeof(double) &&
                  offsetof(WorkerStats, steps) == sizeof(double),
              "WorkerStats::scalars() needs its two doubles contiguous");

/// The values of every parameter of a model, in order (what the exchange moves).
template <Model M>
std::vector<Tensor*> parameter_values(M& model) {
    std::vector<Tensor*> out;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) out.push_back(&model.parameter(i).value);
    return out;
}

/// What travels between the coordinator and a worker each round.
template <Model M>
struct WorkerPackage {
    M model;
    std::vector<Tensor> optimizer_state;  ///< only with OptimizerState::Carry
    WorkerStats stats{};

    std::vector<Tensor*> tensors() {
        std::vector<Tensor*> out = parameter_values(model);
        for (auto& t : optimizer_state) out.push_back(&t);
        return out;
    }
    std::span<double> scalars() { return stats.scalars(); }
};

/// Worker `plan`'s package: its subnet of `model` and its slices of `carried`, the full-size
/// optimizer state carried across rounds, K tensors per parameter (K = 0: none carried).
template <Model M>
WorkerPackage<M> extract_package(const M& model, const std::vector<Tensor>& carried, std::size_t K,
                                 const WorkerPlan& plan, bool scale_activations) {
    WorkerPackage<M> pkg{model.subnet(plan, scale_activations), {}, {}};
    for (std::size_t i = 0; K > 0 && i < model.parameter_count(); ++i) {
        const auto dims = model.parameter_dims(i);
        const std::vector<DimId> axis_dims(dims.begin(), dims.end());
        for (std::size_t k = 0; k < K; ++k)
            pkg.optimizer_state.push_back(
                detail::slice_for(carried[i * K + k], axis_dims, unit_of(model, i), plan));
    }
    return pkg;
}

/// Throws TrainingError if worker `worker` sent back a NaN or infinity (before anything merges).
template <Model M>
void check_finite(WorkerPackage<M>& pkg, std::size_t worker) {
    for (const Tensor* t : pkg.tensors())
        for (float v : *t)
            if (!std::isfinite(v))
                throw TrainingError("worker " + std::to_string(worker) +
                                    " returned non-finite parameters; the model keeps its previous values");
}

/// Merges the packages (packages[k] extracted with plan[k]) into `model` and `carried` (K state
/// tensors per parameter) with `aggregator`: each parameter, then its state, as items of one merge.
template <Model M, Aggregator A>
void merge_packages(M& model, std::vector<Tensor>& carried, std::size_t K, A& aggregator, const Plan& plan,
                    std::vector<WorkerPackage<M>>& packages) {
    std::vector<MergeItem> items;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        const UnitRef unit = unit_of(model, i);
        MergeItem item{&model.parameter(i).value, model.parameter_dims(i), {}, unit};
        for (auto& pkg : packages) item.workers.push_back(&pkg.model.parameter(i).value);
        items.push_back(std::move(item));
        for (std::size_t k = 0; k < K; ++k) {
            MergeItem state{&carried[i * K + k], model.parameter_dims(i), {}, unit};
            for (auto& pkg : packages) state.workers.push_back(&pkg.optimizer_state[i * K + k]);
            items.push_back(std::move(state));
        }
    }
    aggregator.merge(items, plan);
}

}  // namespace ist
