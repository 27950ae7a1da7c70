#pragma once
// The Model concept: what IstTrainer needs of the thing it trains. ist::Network models it; a
// user's own model type can too.
#include <concepts>
#include <cstdint>
#include <span>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/tensor.hpp"
#include "ist/core/plan.hpp"

namespace ist {

/// Requirements:
///  - a dimension table (what partitioners cut) and an indexed list of parameters, each with the
///    dimension of every axis (kWholeAxis for axes every subnet holds whole);
///  - `subnet(plan, scale_activations)`: a physically smaller copy holding only the plan's
///    indices, with parameters in the same order;
///  - `forward(x, Mode::Eval)`: logits (or predictions) for evaluation;
///  - and, for each kind of data set it trains on, `loss_and_gradient(x, y)`: one training
///    forward/backward that fills every grad (y: class labels, label sets or real targets; the
///    concepts ClassifierModel, SparseModel and RegressionModel of ist/sampling/training_set.hpp).
/// Optional hooks, each a named concept below: HasParameterUnits, ScalesUnits, TakesBatchRows,
/// ProjectsParameters, HasMasks.
template <class M>
concept Model = std::copy_constructible<M> &&
    requires(M& m, const M& cm, const Matrix& x, const WorkerPlan& wp, std::size_t i) {
        { cm.dimensions() } -> std::convertible_to<const DimensionTable&>;
        { cm.parameter_count() } -> std::convertible_to<std::size_t>;
        { m.parameter(i) } -> std::same_as<Parameter&>;
        { cm.parameter(i) } -> std::same_as<const Parameter&>;
        { cm.parameter_dims(i) } -> std::convertible_to<std::span<const DimId>>;
        { cm.subnet(wp, true) } -> std::same_as<M>;
        { m.forward(x, Mode::Eval) } -> std::convertible_to<const Matrix&>;
    };

/// Optional hook: `parameter_unit(i)` names the residual block (unit) parameter i belongs to;
/// a subnet without that block receives the parameter empty.
template <class M>
concept HasParameterUnits = requires(const M& m, std::size_t i) {
    { m.parameter_unit(i) } -> std::convertible_to<UnitRef>;
};

/// Optional hook: `set_unit_scale(unit, s)` multiplies a block's branch by s in evaluation
/// (ResIST evaluates the full model with each partitioned branch scaled by 1/S).
template <class M>
concept ScalesUnits = requires(M& m, UnitRef unit, float s) { m.set_unit_scale(unit, s); };

/// Optional hook: `set_batch_rows(rows)` tells the model which data-set rows the next batch
/// holds (graph layers gather their neighbourhoods by row number).
template <class M>
concept TakesBatchRows = requires(M& m, std::span<const std::uint32_t> rows) { m.set_batch_rows(rows); };

/// Optional hook: `project_parameters()` runs after every local optimizer step and puts the
/// parameters back where the model allows them (a pruned model re-zeroes its pruned weights).
template <class M>
concept ProjectsParameters = requires(M& m) { m.project_parameters(); };

/// Optional hook: pruning masks a checkpoint saves and restores with the parameters (one per
/// parameter, a 0-D tensor for none; see ist/prune/masked.hpp). check_masks throws for masks that
/// do not fit, so a checkpoint is refused before anything changes; set_masks installs them.
template <class M>
concept HasMasks = requires(M& m, const M& cm, const std::vector<Tensor>& masks) {
    { cm.masks() } -> std::convertible_to<const std::vector<Tensor>&>;
    cm.check_masks(masks);
    m.set_masks(masks);
};

/// The residual block parameter i belongs to, for models with blocks (ist::Network); none otherwise.
template <Model M>
UnitRef unit_of(const M& model, std::size_t i) {
    if constexpr (HasParameterUnits<M>) return model.parameter_unit(i);
    else return {};
}

/// Pointers to every parameter of a model, in order (what optimizers step over).
template <Model M>
std::vector<Parameter*> parameter_pointers(M& model) {
    std::vector<Parameter*> out;
    out.reserve(model.parameter_count());
    for (std::size_t i = 0; i < model.parameter_count(); ++i) out.push_back(&model.parameter(i));
    return out;
}

}  // namespace ist
