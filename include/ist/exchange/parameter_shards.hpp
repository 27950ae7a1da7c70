#pragma once
// The trainer's side of a sharded parameter node (the partitioned parameter server of the IST
// reference code; IST: Yuan et al. 2019). Each rank merges only its shard of the model, so between
// rounds no rank holds the whole model: before rank 0 evaluates, checkpoints or broadcasts it, every
// rank takes part in gathering the shards there. The transport learns each round's layout (the
// parameter shapes, which parameter each package tensor belongs to, the plan) before the round.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/plan.hpp"
#include "ist/core/tensor.hpp"
#include "ist/aggregate/replicas.hpp"
#include "ist/model/model.hpp"
#include "ist/exchange/exchange.hpp"
#include "ist/transport/transport.hpp"

namespace ist {

namespace detail {

/// Whether the model is sharded among the processes and, if so, whether it is scattered now.
class ParameterShards {
public:
    /// `replicas`: where the workers' models live between rounds (the aggregator's choice).
    template <class T>
    static ParameterShards of(const T& transport, Replicas replicas) {
        ParameterShards out;
        if constexpr (ShardsParameters<T>) {
            if (transport.sharded() && replicas == Replicas::Persistent)
                throw ConfigError("IstTrainer: the sharded parameter node holds subnets that travel every round; data "
                                  "parallel keeps a whole replica on every process (use the central node)");
            out.active_ = transport.sharded();
        }
        return out;
    }

    /// Sharded: each worker checks its own package (a rank sees only its shard of the others').
    bool active() const { return active_; }

    /// No rank holds the model whole: merged shards wait for gather().
    bool scattered() const { return scattered_; }

    /// Before a round: the transport learns its layout; afterwards the model is scattered.
    /// `K`: optimizer-state tensors carried per parameter.
    template <class T, Model M>
    void begin_round(T& transport, const M& model, std::size_t K, const Plan& plan) {
        if constexpr (ShardsParameters<T>) {
            if (!active_) return;
            transport.set_shard_layout(parameter_shapes(model), package_owners(model, K, true), plan);
            scattered_ = true;
        }
    }

    /// Every process calls it alike: once scattered, the coordinator's `full` tensors (the
    /// parameters, then the carried state) take every shard. Returns the bytes that crossed the
    /// wire (every rank's shard but the coordinator's own), alike on every process.
    template <class T>
    std::uint64_t gather(T& transport, std::span<Tensor* const> full) {
        if constexpr (ShardsParameters<T>) {
            if (!scattered_) return 0;
            scattered_ = false;
            return transport.gather_shards(full);
        } else {
            return 0;  // a transport without shards holds every parameter at the coordinator already
        }
    }

private:
    bool active_ = false;
    bool scattered_ = false;
};

}  // namespace detail
}  // namespace ist
