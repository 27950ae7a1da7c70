#pragma once
// The fixed model and trainer the checkpoint harness loads into, shared with the seed generator
// so the seed checkpoint fits them: a 4-6-3 MLP, 2 workers, momentum SGD with carried state (so
// the optimizer_<j> members are read too).
#include <cstdint>
#include <random>

#include <ist/ist.hpp>

namespace ist_fuzz {

inline ist::Network checkpoint_model() { return ist::make_mlp({4, {6}, 3}); }

inline ist::TrainerOptions checkpoint_options() {
    ist::TrainerOptions o;
    o.workers = 2;
    o.local_steps = 2;
    o.rounds = 2;
    o.batch_size = 4;
    o.seed = 7;
    o.eval_every = 0;
    o.optimizer_state = ist::OptimizerState::Carry;
    return o;
}

inline auto checkpoint_trainer(ist::Network& net) {
    return ist::IstTrainer(net, checkpoint_options(), ist::NeuronPartition(), ist::MomentumSgd(0.05f, 0.9f));
}

/// The RunState read_checkpoint fills for this trainer: one zero momentum tensor per parameter,
/// as IstTrainer::load_checkpoint prepares it.
inline ist::RunState checkpoint_state(const ist::Network& net) {
    ist::RunState state;
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        state.optimizer_state.push_back(xt::zeros<float>(net.parameter(i).value.shape()));
    return state;
}

/// 24 rows of 4 features, 3 classes: enough for the seed run.
inline ist::Dataset checkpoint_data(std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    ist::Dataset d{ist::Matrix::from_shape({24, 4}), {}, 3, "fuzz-seed-data", {}};
    for (std::size_t i = 0; i < 24; ++i) {
        d.labels.push_back(static_cast<std::uint32_t>(i % 3));
        for (std::size_t j = 0; j < 4; ++j) d.features(i, j) = noise(rng) + (j % 3 == i % 3 ? 2.0f : 0.0f);
    }
    return d;
}

}  // namespace ist_fuzz
