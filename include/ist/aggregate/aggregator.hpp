#pragma once
// The Aggregator policy: how the workers' trained subnets become the next full model.
//
// The contract, every hook named:
//  - required, `merge(items, round)`: writes the new full tensors into `*item.master` from the
//    workers' copies; `round` (a MergeContext) says who came back: their plans and the training
//    samples behind each (FedAvg weighting), in the order of `item.workers`.
//  - optional, `average_gradients(params, exchange)` (the AveragesGradients hook): called by every
//    worker after each local step's backward pass, before the optimizer step. An aggregator that
//    has it synchronises every step (data parallel): the replicas stay identical, so they persist
//    on every process (Replicas::Persistent) and no subnet travels. Without it subnets are cut,
//    trained and returned every round (Replicas::PerRound). The hook runs on the workers' threads
//    or ranks concurrently, so it is const.
//  - optional, `scatters(item, plan)` (the ScattersDisjointItems hook): whether the merge of `item`
//    is a plain scatter of each worker's copy; the trainer may then write those in as each package
//    comes back, during the round (a transport's MergesDuringRound hook).
// The trainer asks nothing else of an aggregator and never asks which one it holds.
#include <concepts>
#include <cstddef>
#include <span>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/plan.hpp"
#include "ist/core/tensor.hpp"
#include "ist/aggregate/replicas.hpp"

namespace ist {

/// One tensor to aggregate: the full (master) tensor, the dimension of each of its axes, and
/// every worker's compact copy (workers[k] was extracted with round.plan[k]), and the residual
/// block it belongs to (workers without that block hold an empty copy).
struct MergeItem {
    Tensor* master;
    std::span<const DimId> dims;
    std::vector<const Tensor*> workers;
    UnitRef unit{};
};

/// What a merge knows of its round: the plan of each worker whose subnet came back and the
/// number of training samples behind each (its stream's rows; empty: not known, weigh equally),
/// both in the order of MergeItem::workers. A Plan converts to it (samples unknown).
struct MergeContext {
    const Plan& plan;
    std::span<const double> samples{};
    std::size_t round = 0;  ///< 1-based; 0 outside a trainer

    MergeContext(const Plan& plan_, std::span<const double> samples_ = {}, std::size_t round_ = 0)
        : plan(plan_), samples(samples_), round(round_) {}
};

/// What an AveragesGradients hook may do with a worker's gradients within a local step.
class GradientExchange {
public:
    virtual ~GradientExchange() = default;
    virtual std::size_t worker() const = 0;
    virtual std::size_t workers() const = 0;
    /// Replaces every gradient of `params` by its mean over the workers, coded both ways by the
    /// trainer's Codec when it is lossy (bit for bit the plain mean when exact). Collective: every
    /// worker calls it alike.
    virtual void average(std::span<Parameter* const> params) = 0;
};

template <class A>
concept Aggregator = std::copy_constructible<A> && requires(A& a, std::span<MergeItem> items, const MergeContext& round) {
    a.merge(items, round);
};

/// Optional Aggregator hook: averages the workers' gradients after every local step (data parallel).
template <class A>
concept AveragesGradients = requires(const A& a, std::span<Parameter* const> params, GradientExchange& exchange) {
    a.average_gradients(params, exchange);
};

/// Optional Aggregator hook: `scatters(item, plan)` (item.workers empty) says that merging `item`
/// under the round's whole `plan`, whichever of its workers come back, writes every entry a worker
/// holds from that worker's copy alone (no entry has two holders) and leaves the others as they
/// were. The trainer then writes each worker's copies of such items into the model as soon as its
/// package is back (over a transport with the MergesDuringRound hook) and merge() sees only the
/// other items; without the hook every item waits for the round's end.
template <class A>
concept ScattersDisjointItems = requires(const A& a, const MergeItem& item, const Plan& plan) {
    { a.scatters(item, plan) } -> std::convertible_to<bool>;
};

/// Where an aggregator leaves the workers' models between rounds (see the contract above).
template <class A>
inline constexpr Replicas kReplicasOf = AveragesGradients<A> ? Replicas::Persistent : Replicas::PerRound;

}  // namespace ist
