#pragma once
// Masked<M>: a model M with a pruning mask per parameter, itself a Model, so every trainer
// (IST, local SGD, data parallel) fine-tunes a pruned network unchanged.
//
// How the mask stays applied (pruned weights stay exactly 0.0f under every optimizer):
//  - subnet(plan) cuts each mask with the plan exactly as the parameter it covers, so a worker's
//    subnet carries its own slices; masks never change during training, so nothing merges back
//    and nothing travels (every process of a distributed run holds the same full masks);
//  - loss_and_gradient zeroes the pruned gradients: SGD moves nothing, and optimizer state built
//    from those gradients (momentum, Adam's moments) stays zero where it started zero;
//  - project_parameters (ProjectsParameters, which the trainer calls after every local step)
//    re-zeroes the pruned values, for an optimizer that moves a weight without a gradient.
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/plan.hpp"
#include "ist/detail/gather.hpp"
#include "ist/model/model.hpp"
#include "ist/prune/mask.hpp"

namespace ist {

template <Model M>
class Masked {
public:
    /// `model` unpruned (every mask unset).
    explicit Masked(M model) : model_(std::move(model)), masks_(model_.parameter_count()) {}

    /// `model` under `masks` (one per parameter, unset or shaped like it, 0/1 only: ConfigError
    /// otherwise); pruned weights are zeroed at once.
    Masked(M model, PruningMasks masks) : Masked(std::move(model)) { set_masks(std::move(masks)); }

    M& model() { return model_; }
    const M& model() const { return model_; }
    const PruningMasks& masks() const { return masks_; }

    /// Throws E unless `masks` fit this model: one per parameter, each unset or shaped like its
    /// parameter, holding only 0 and 1.
    template <class E = ConfigError>
    void check_masks(const PruningMasks& masks) const {
        detail::require<E>(masks.size() == model_.parameter_count(),
                           "Masked: " + std::to_string(masks.size()) + " masks for " +
                               std::to_string(model_.parameter_count()) + " parameters");
        for (std::size_t i = 0; i < masks.size(); ++i) {
            if (!is_mask_set(masks[i])) continue;
            const std::string what = "Masked: mask " + std::to_string(i) + " (" + model_.parameter(i).name + ")";
            detail::require<E>(masks[i].shape() == model_.parameter(i).value.shape(), what + " is not shaped like its parameter");
            check_mask_values<E>(masks[i], what);
        }
    }

    /// Replaces every mask (checked as check_masks does) and zeroes the newly pruned weights.
    void set_masks(PruningMasks masks) {
        check_masks(masks);
        masks_ = std::move(masks);
        project_parameters();
    }

    /// Zeroes every pruned weight (+0.0f).
    void project_parameters() {
        for (std::size_t i = 0; i < masks_.size(); ++i)
            if (is_mask_set(masks_[i])) apply_mask(masks_[i], model_.parameter(i).value);
    }

    // The Model concept, forwarded to M.
    const DimensionTable& dimensions() const { return model_.dimensions(); }
    std::size_t parameter_count() const { return model_.parameter_count(); }
    Parameter& parameter(std::size_t i) { return model_.parameter(i); }
    const Parameter& parameter(std::size_t i) const { return model_.parameter(i); }
    std::span<const DimId> parameter_dims(std::size_t i) const { return model_.parameter_dims(i); }
    const Matrix& forward(const Matrix& x, Mode mode) { return model_.forward(x, mode); }

    /// M's subnet, each mask cut with the plan as its parameter is.
    Masked subnet(const WorkerPlan& given, bool scale_activations) const {
        WorkerPlan plan = given;
        derive_indices(model_.dimensions(), plan);
        Masked sub(model_.subnet(plan, scale_activations));
        for (std::size_t i = 0; i < masks_.size(); ++i) {
            if (!is_mask_set(masks_[i])) continue;
            const auto dims = model_.parameter_dims(i);
            sub.masks_[i] = detail::slice_for(masks_[i], {dims.begin(), dims.end()}, unit_of(model_, i), plan);
        }
        return sub;
    }

    /// M's loss and gradients, the pruned gradients zeroed.
    float loss_and_gradient(const Matrix& x, const Labels& labels) {
        const float loss = model_.loss_and_gradient(x, labels);
        for (std::size_t i = 0; i < masks_.size(); ++i)
            if (is_mask_set(masks_[i])) apply_mask(masks_[i], model_.parameter(i).grad);
        return loss;
    }

    // M's optional hooks, where it has them.
    UnitRef parameter_unit(std::size_t i) const requires HasParameterUnits<M> { return model_.parameter_unit(i); }
    void set_unit_scale(UnitRef unit, float scale) requires ScalesUnits<M> { model_.set_unit_scale(unit, scale); }
    void set_batch_rows(std::span<const std::uint32_t> rows) requires TakesBatchRows<M> { model_.set_batch_rows(rows); }

private:
    M model_;
    PruningMasks masks_;
};

}  // namespace ist
