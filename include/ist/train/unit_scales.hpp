#pragma once
// ResIST (Dun et al. 2022): the full model evaluates every block, each partitioned branch scaled as
// the partitioner says (1/S by default), since each was trained in 1/S of the subnets.
#include <cstddef>
#include <cstdint>

#include "ist/core/dimension.hpp"
#include "ist/model/model.hpp"
#include "ist/partition/partitioner.hpp"

namespace ist::detail {

/// Sets every block's scale, 1 when `partitioner` has no unit_scale, so a model fine-tuned by
/// another trainer does not keep an earlier trainer's scales.
template <Model M, Partitioner P>
void apply_unit_scales(M& model, const P& partitioner, std::size_t workers) {
    if constexpr (ScalesUnits<M>) {
        const DimensionTable& dims = model.dimensions();
        for (std::size_t d = 0; d < dims.size(); ++d)
            for (std::uint32_t i = 0; dims[d].kind == DimKind::Units && i < dims[d].size; ++i) {
                const UnitRef unit{static_cast<DimId>(d), i};
                if constexpr (HasUnitScale<P>) model.set_unit_scale(unit, partitioner.unit_scale(dims, unit, workers));
                else model.set_unit_scale(unit, 1.0f);
            }
    }
}

}  // namespace ist::detail
