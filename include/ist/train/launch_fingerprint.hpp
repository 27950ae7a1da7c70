#pragma once
// What every process of a distributed run must agree on before the first round, as one number
// (Transport::handshake compares them): the model's shapes and the options that decide what is
// trained, so that ranks launched with different programs or options stop with a message.
#include <cstdint>
#include <string>
#include <string_view>

#include "ist/core/fingerprint.hpp"
#include "ist/model/model.hpp"
#include "ist/core/trainer_options.hpp"

namespace ist::detail {

/// `coding`: the exchange's coding description ("fp32": none, which leaves the number as before codecs).
template <Model M>
std::uint64_t launch_fingerprint(const M& model, const TrainerOptions& options, const std::string& coding) {
    Fingerprint f;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        f.add(model.parameter(i).value.dimension());
        for (std::size_t n : model.parameter(i).value.shape()) f.add(n);
    }
    f.add(options.workers).add(options.local_steps).add(options.rounds).add(options.batch_size);
    f.add(options.seed).add(options.sampling).add(options.optimizer_state).add(options.scale_activations);
    if (options.sampling == Sampling::Clients) f.add(options.client_selection);
    f.add(options.batches).add(options.clusters_per_batch);
    if (coding != "fp32") f.add(coding);
    if (options.precision != Precision::Fp32) f.add(options.precision);  // fp32 leaves the number as before
    if (!options.final_model_everywhere) f.add(std::string_view("final model on the coordinator only"));  // a collective skipped
    return f.value();
}

}  // namespace ist::detail
