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
#include "ist/codec/fp32.hpp"
#include "ist/core/error.hpp"
#include "ist/detail/gather.hpp"
#include "ist/model/model.hpp"
#include "ist/core/plan.hpp"
#include "ist/exchange/package_coding.hpp"

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

namespace detail {
struct NoCoding {};
}  // namespace detail

/// What travels between the coordinator and a worker each round. With a lossy codec C the
/// package codes its tensors itself (the CodedPackage hooks, used by transport/pack.hpp); with
/// Fp32 it has no hooks and travels as plain floats, exactly as without codecs.
template <Model M, Codec C = Fp32>
struct WorkerPackage {
    static constexpr bool kCodable = !std::same_as<C, Fp32>;

    M model;
    std::vector<Tensor> optimizer_state;  ///< only with OptimizerState::Carry
    WorkerStats stats{};
    [[no_unique_address]] std::conditional_t<kCodable, PackageCoding<C>, detail::NoCoding> coding{};

    std::vector<Tensor*> tensors() {
        std::vector<Tensor*> out = parameter_values(model);
        for (auto& t : optimizer_state) out.push_back(&t);
        return out;
    }
    std::span<double> scalars() { return stats.scalars(); }

    bool coded() const requires kCodable { return coding.active(); }
    std::size_t coded_tensor_bytes() requires kCodable { return coding.bytes(tensors()); }
    void encode_tensors(std::vector<char>& out) requires kCodable { coding.encode(tensors(), out); }
    void decode_tensors(const char* in) requires kCodable { coding.decode(tensors(), in); }
    void deliver() requires kCodable { coding.deliver(tensors()); }
    void bring_back() requires kCodable { coding.bring_back(tensors()); }
};

/// The parameter each tensor of a package belongs to, in package order: with `with_parameters`
/// the parameters first, then (either way) K optimizer-state tensors per parameter.
template <Model M>
std::vector<std::size_t> package_owners(const M& model, std::size_t K, bool with_parameters) {
    std::vector<std::size_t> owners;
    for (std::size_t i = 0; with_parameters && i < model.parameter_count(); ++i) owners.push_back(i);
    for (std::size_t i = 0; i < model.parameter_count(); ++i) owners.insert(owners.end(), K, i);
    return owners;
}

/// Worker `plan`'s slices of `full`, full-size tensors in package order (see package_owners).
template <Model M>
std::vector<Tensor> slice_package_tensors(const M& model, const std::vector<Tensor>& full, std::size_t K,
                                          const WorkerPlan& plan, bool with_parameters) {
    std::vector<Tensor> out;
    const std::vector<std::size_t> owners = package_owners(model, K, with_parameters);
    for (std::size_t j = 0; j < owners.size(); ++j) {
        const auto dims = model.parameter_dims(owners[j]);
        out.push_back(detail::slice_for(full[j], {dims.begin(), dims.end()}, unit_of(model, owners[j]), plan));
    }
    return out;
}

/// The inverse of slice_package_tensors: the held slices `sub` written back into `full`.
template <Model M>
void scatter_package_tensors(const M& model, const std::vector<Tensor>& sub, std::size_t K, const WorkerPlan& plan,
                             bool with_parameters, std::vector<Tensor>& full) {
    const std::vector<std::size_t> owners = package_owners(model, K, with_parameters);
    for (std::size_t j = 0; j < owners.size(); ++j) {
        if (!plan.holds(unit_of(model, owners[j]))) continue;
        const auto dims = model.parameter_dims(owners[j]);
        detail::scatter(sub[j], detail::select_axes({dims.begin(), dims.end()}, plan), full[j]);
    }
}

/// Worker `plan`'s package: its subnet of `model` and its slices of `carried`, the full-size
/// optimizer state carried across rounds, K tensors per parameter (K = 0: none carried).
template <Model M, Codec C = Fp32>
WorkerPackage<M, C> extract_package(const M& model, const std::vector<Tensor>& carried, std::size_t K,
                                    const WorkerPlan& plan, bool scale_activations) {
    WorkerPackage<M, C> pkg{model.subnet(plan, scale_activations), {}, {}, {}};
    if (K > 0) pkg.optimizer_state = slice_package_tensors(model, carried, K, plan, false);
    return pkg;
}

/// Throws TrainingError if worker `worker` sent back a NaN or infinity (before anything merges).
template <Model M, Codec C>
void check_finite(WorkerPackage<M, C>& pkg, std::size_t worker) {
    for (const Tensor* t : pkg.tensors())
        for (float v : *t)
            if (!std::isfinite(v))
                throw TrainingError("worker " + std::to_string(worker) +
                                    " returned non-finite parameters; the model keeps its previous values");
}

/// What a merge writes, in merge order: each parameter of `model`, then its K state tensors in
/// `carried`, as MergeItems without the workers' copies (slot_copies gives a package's).
template <Model M>
std::vector<MergeItem> merge_slots(M& model, std::vector<Tensor>& carried, std::size_t K) {
    std::vector<MergeItem> items;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        const UnitRef unit = unit_of(model, i);
        items.push_back(MergeItem{&model.parameter(i).value, model.parameter_dims(i), {}, unit});
        for (std::size_t k = 0; k < K; ++k)
            items.push_back(MergeItem{&carried[i * K + k], model.parameter_dims(i), {}, unit});
    }
    return items;
}

/// A package's copies of merge_slots' tensors (K state tensors per parameter), in the same order.
template <Model M, Codec C>
std::vector<Tensor*> slot_copies(WorkerPackage<M, C>& pkg, std::size_t K) {
    std::vector<Tensor*> copies;
    for (std::size_t i = 0; i < pkg.model.parameter_count(); ++i) {
        copies.push_back(&pkg.model.parameter(i).value);
        for (std::size_t k = 0; k < K; ++k) copies.push_back(&pkg.optimizer_state[i * K + k]);
    }
    return copies;
}

/// Merges the packages (packages[k] extracted with round.plan[k]) into `model` and `carried` (K
/// state tensors per parameter) with `aggregator`: each parameter, then its state, as items of one merge.
template <Model M, Aggregator A, Codec C>
void merge_packages(M& model, std::vector<Tensor>& carried, std::size_t K, A& aggregator, const MergeContext& round,
                    std::vector<WorkerPackage<M, C>>& packages) {
    std::vector<MergeItem> items = merge_slots(model, carried, K);
    for (auto& pkg : packages) {
        const std::vector<Tensor*> copies = slot_copies(pkg, K);
        for (std::size_t j = 0; j < items.size(); ++j) items[j].workers.push_back(copies[j]);
    }
    aggregator.merge(items, round);
}

}  // namespace ist
