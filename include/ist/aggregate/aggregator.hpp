#pragma once
// The Aggregator policy: how the workers' trained subnets become the next full model.
#include <concepts>
#include <span>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/tensor.hpp"
#include "ist/core/plan.hpp"

namespace ist {

/// One tensor to aggregate: the full (master) tensor, the dimension of each of its axes, and
/// every worker's compact copy (workers[s] was extracted with plan[s]), and the residual block it
/// belongs to (workers without that block hold an empty copy).
struct MergeItem {
    Tensor* master;
    std::span<const DimId> dims;
    std::vector<const Tensor*> workers;
    UnitRef unit{};
};

/// Requirements:
///  - `merge(items, plan)` writes the new full tensors into `*item.master`;
///  - `synchronises_gradients`: true when workers must average their gradients after every local
///    step (data parallel); replicas then stay identical and never need re-sending.
template <class A>
concept Aggregator = std::copy_constructible<A> && requires(A& a, std::span<MergeItem> items, const Plan& plan) {
    a.merge(items, plan);
    { A::synchronises_gradients } -> std::convertible_to<bool>;
};

/// Optional hook: `set_worker_samples(counts)` is called before every merge with each returned
/// package's number of training samples, in plan order (FedAvg weighting).
template <class A>
concept WeighsSamples = requires(A& a, std::vector<double> counts) { a.set_worker_samples(counts); };

}  // namespace ist
