#pragma once
// A partitioner chosen at run time, so that a program offering several (ist-train's --partition,
// --shares, --nested) compiles its trainer once instead of once per partitioner.
#include <concepts>
#include <memory>
#include <type_traits>

#include "ist/partition/partitioner.hpp"

namespace ist {

/// Holds any Partitioner and forwards to it. Plans are the held partitioner's, drawn from the same
/// RNG, so training through AnyPartition is bit-identical to training with the partitioner itself.
/// The evaluation scale of residual blocks is forwarded too (1 when the held one has none, as the
/// trainer does). Copies share the held partitioner: one whose plan() keeps state advances it
/// for every copy (the trainer keeps one).
class AnyPartition {
public:
    template <Partitioner P>
        requires(!std::same_as<std::remove_cvref_t<P>, AnyPartition>)
    AnyPartition(P partitioner) : held_(std::make_shared<Held<P>>(std::move(partitioner))) {}

    void validate(const DimensionTable& dims, std::size_t workers) const { held_->validate(dims, workers); }
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        return held_->plan(dims, workers, rng);
    }
    float unit_scale(const DimensionTable& dims, UnitRef unit, std::size_t workers) const {
        return held_->unit_scale(dims, unit, workers);
    }

private:
    struct Interface {
        virtual ~Interface() = default;
        virtual void validate(const DimensionTable& dims, std::size_t workers) const = 0;
        virtual Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const = 0;
        virtual float unit_scale(const DimensionTable& dims, UnitRef unit, std::size_t workers) const = 0;
    };

    template <class P>
    struct Held final : Interface {
        explicit Held(P p) : partitioner(std::move(p)) {}
        void validate(const DimensionTable& dims, std::size_t workers) const override {
            partitioner.validate(dims, workers);
        }
        // The concept allows a non-const plan(), hence mutable.
        Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const override {
            return partitioner.plan(dims, workers, rng);
        }
        float unit_scale(const DimensionTable& dims, UnitRef unit, std::size_t workers) const override {
            if constexpr (HasUnitScale<P>) return partitioner.unit_scale(dims, unit, workers);
            else return 1.0f;
        }
        mutable P partitioner;
    };

    std::shared_ptr<const Interface> held_;
};

static_assert(Partitioner<AnyPartition>);

}  // namespace ist
