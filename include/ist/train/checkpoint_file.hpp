#pragma once
// Checkpoint files: everything a run needs to continue bit-identically, as one .npz.
//
// Members (numpy.load() reads them):
//   format            uint8 text "ist-checkpoint-1"
//   param_<i>         float32, parameter i of the model, its own shape
//   optimizer_<j>     float32, carried optimizer state j (OptimizerState::Carry only)
//   counters          uint64[5]: rounds done, local steps taken, total bytes, bits of the seconds
//                     (double), training rows the samplers were built for
//   partition_rng     uint8 text, the shared partition engine (std::mt19937_64 text form)
//   sampler_<s>_pool, sampler_<s>_position, sampler_<s>_rng   worker s's data stream
//   codec             uint8 text, the exchange's coding ("q4 updates + error feedback"); absent: fp32
//   residual_<j>      float32, error-feedback residual j (every worker's, in package order)
//   mask_<i>          float32 0/1, the pruning mask of parameter i (models with masks: HasMasks)
#include <bit>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "ist/data/dataset.hpp"
#include "ist/io/npz.hpp"
#include "ist/model/model.hpp"
#include "ist/sampling/worker_streams.hpp"

namespace ist {

/// The trainer's progress besides the model (what a checkpoint holds with it).
struct RunState {
    std::uint64_t rounds_done = 0, steps_taken = 0, total_bytes = 0;
    double seconds = 0.0;
    std::string partition_rng;
    StreamPositions streams;  ///< the workers' (or clients') data streams
    std::vector<Tensor> optimizer_state;
    std::string codec = "fp32";        ///< the exchange's coding (IstTrainer's coding description)
    std::vector<Tensor> residuals;     ///< error feedback only
};

inline constexpr const char* kCheckpointFormat = "ist-checkpoint-1";

template <Model M>
void write_checkpoint(const std::string& path, const M& model, const RunState& state) {
    NpzWriter npz;
    npz.add("format", std::string(kCheckpointFormat));
    for (std::size_t i = 0; i < model.parameter_count(); ++i) npz.add("param_" + std::to_string(i), model.parameter(i).value);
    for (std::size_t j = 0; j < state.optimizer_state.size(); ++j)
        npz.add("optimizer_" + std::to_string(j), state.optimizer_state[j]);
    npz.add("counters", std::vector<std::uint64_t>{state.rounds_done, state.steps_taken, state.total_bytes,
                                                   std::bit_cast<std::uint64_t>(state.seconds), state.streams.sampled_rows});
    npz.add("partition_rng", state.partition_rng);
    for (std::size_t s = 0; s < state.streams.samplers.size(); ++s) {
        const BatchSampler& stream = state.streams.samplers[s];
        const std::string key = "sampler_" + std::to_string(s);
        npz.add(key + "_pool", stream.pool());
        npz.add(key + "_position", std::vector<std::uint64_t>{stream.position()});
        npz.add(key + "_rng", stream.rng_state());
    }
    if (state.codec != "fp32") npz.add("codec", state.codec);  // fp32 checkpoints stay as they were
    for (std::size_t j = 0; j < state.residuals.size(); ++j) npz.add("residual_" + std::to_string(j), state.residuals[j]);
    if constexpr (HasMasks<M>)
        for (std::size_t i = 0; i < model.masks().size(); ++i)
            if (model.masks()[i].dimension() > 0) npz.add("mask_" + std::to_string(i), model.masks()[i]);
    npz.write_atomically(path);
}

/// Members `<prefix>0`, `<prefix>1`, ... shaped like `like` (DataError if missing or misshapen).
inline std::vector<Tensor> read_tensors_like(const NpzArchive& npz, const std::string& prefix,
                                             const std::vector<Tensor>& like) {
    std::vector<Tensor> out;
    for (std::size_t j = 0; j < like.size(); ++j) {
        Tensor t = Tensor::from_shape(like[j].shape());
        npz.read_into(prefix + std::to_string(j), t);
        out.push_back(std::move(t));
    }
    return out;
}

namespace detail {

/// The pruning masks a checkpoint holds for `model` (unset where it holds none), checked: a
/// model without masks refuses a checkpoint that has them.
template <Model M>
std::vector<Tensor> read_checkpoint_masks(const NpzArchive& npz, const M& model) {
    std::vector<Tensor> masks;
    if constexpr (HasMasks<M>) {
        for (std::size_t i = 0; i < model.parameter_count(); ++i) {
            const std::string name = "mask_" + std::to_string(i);
            masks.emplace_back();
            if (!npz.contains(name)) continue;
            masks.back() = Tensor::from_shape(model.parameter(i).value.shape());
            npz.read_into(name, masks.back());
        }
        try {
            model.check_masks(masks);
        } catch (const ConfigError& e) {
            throw DataError(npz.path() + ": " + e.what());
        }
    } else {
        for (const std::string& name : npz.names())
            if (name.rfind("mask_", 0) == 0)
                throw DataError(npz.path() + ": the checkpoint holds pruning masks (" + name +
                                "); resume it with a model that has them (ist::Masked)");
    }
    return masks;
}

}  // namespace detail

/// Reads a checkpoint written for a model of the same shapes, `workers` workers,
/// `optimizer_state` state tensors shaped like `state.optimizer_state`, coding `state.codec` and
/// residuals shaped like `state.residuals`, from an archive already read (from a file or from
/// memory). Every check happens before anything is changed: on error, `model` and `state` are
/// untouched.
template <Model M>
void read_checkpoint(const NpzArchive& npz, M& model, RunState& state, std::size_t workers) {
    const std::string& path = npz.path();
    if (!npz.contains("format") || npz.text("format") != kCheckpointFormat)
        throw DataError(path + ": not an ist checkpoint (member 'format' is not '" + kCheckpointFormat + "')");
    std::vector<Tensor> params;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        Tensor t = Tensor::from_shape(model.parameter(i).value.shape());
        npz.read_into("param_" + std::to_string(i), t);
        params.push_back(std::move(t));
    }
    if (npz.contains("param_" + std::to_string(model.parameter_count())))
        throw DataError(path + ": the checkpoint has more parameters than the model (" +
                        std::to_string(model.parameter_count()) + ")");
    const std::string codec = npz.contains("codec") ? npz.text("codec") : "fp32";
    if (codec != state.codec)
        throw ConfigError(path + ": the checkpoint was written with codec '" + codec + "' and this run codes with '" +
                          state.codec + "'; resume with the same codec, coded values and error feedback");
    RunState loaded;
    loaded.codec = codec;
    loaded.optimizer_state = read_tensors_like(npz, "optimizer_", state.optimizer_state);
    loaded.residuals = read_tensors_like(npz, "residual_", state.residuals);
    const std::vector<std::size_t> five{5};
    const auto counters = npz.values<std::uint64_t>("counters", &five);
    loaded.rounds_done = counters[0];
    loaded.steps_taken = counters[1];
    loaded.total_bytes = counters[2];
    loaded.seconds = std::bit_cast<double>(counters[3]);
    loaded.streams.sampled_rows = counters[4];
    loaded.partition_rng = npz.text("partition_rng");
    {
        // Checked here, not by the caller after the model has been replaced.
        std::istringstream in(loaded.partition_rng);
        detail::RandomEngine engine;
        in >> engine;
        if (in.fail()) throw DataError(path + "[partition_rng]: corrupt RNG state (not a std::mt19937_64 text form)");
    }
    if (npz.contains("sampler_" + std::to_string(workers) + "_pool") ||
        !npz.contains("sampler_" + std::to_string(workers - 1) + "_pool"))
        throw DataError(path + ": the checkpoint was not written for " + std::to_string(workers) + " workers");
    for (std::size_t s = 0; s < workers; ++s) {
        const std::string key = "sampler_" + std::to_string(s);
        const std::vector<std::size_t> one{1};
        auto pool = npz.values<std::uint32_t>(key + "_pool");
        for (std::uint32_t row : pool)
            if (row >= loaded.streams.sampled_rows)
                throw DataError(path + "[" + key + "_pool]: row " + std::to_string(row) + " is out of range for " +
                                std::to_string(loaded.streams.sampled_rows) + " training rows");
        const std::uint64_t position = npz.values<std::uint64_t>(key + "_position", &one)[0];
        if (pool.empty() || position > pool.size())
            throw DataError(path + "[" + key + "_position]: position " + std::to_string(position) +
                            " is outside the pool of " + std::to_string(pool.size()) + " rows");
        const std::string rng = npz.text(key + "_rng");
        BatchSampler sampler;
        try {
            sampler.restore(std::move(pool), static_cast<std::size_t>(position), rng);
        } catch (const DataError& e) {
            throw DataError(path + "[" + key + "_rng]: " + e.what());
        }
        loaded.streams.samplers.push_back(std::move(sampler));
    }
    std::vector<Tensor> masks = detail::read_checkpoint_masks(npz, model);
    for (std::size_t i = 0; i < params.size(); ++i) model.parameter(i).value = std::move(params[i]);
    if constexpr (HasMasks<M>) model.set_masks(std::move(masks));
    state = std::move(loaded);
}

/// Reads the checkpoint file `path`; see read_checkpoint(const NpzArchive&, ...).
template <Model M>
void read_checkpoint(const std::string& path, M& model, RunState& state, std::size_t workers) {
    read_checkpoint(NpzArchive(path), model, state, workers);
}

}  // namespace ist
