#pragma once
// Gather a compact sub-tensor out of a full tensor, and scatter it back, given an index list per
// axis. Users never call this: subnet extraction and aggregation do.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/tensor.hpp"
#include "ist/core/plan.hpp"

namespace ist::detail {

/// Per axis, the indices selected (nullptr = the whole axis).
using AxisSelection = std::vector<const std::vector<std::uint32_t>*>;

inline AxisSelection select_axes(const std::vector<DimId>& axis_dims, const WorkerPlan& plan) {
    AxisSelection sel;
    sel.reserve(axis_dims.size());
    for (DimId d : axis_dims) {
        const IndexSet* set = d == kWholeAxis ? nullptr : &plan.dims.at(static_cast<std::size_t>(d));
        sel.push_back(set && *set ? &**set : nullptr);
    }
    return sel;
}

inline std::vector<std::size_t> selected_shape(const Tensor::shape_type& full, const AxisSelection& sel) {
    std::vector<std::size_t> shape(full.begin(), full.end());
    for (std::size_t a = 0; a < shape.size(); ++a)
        if (sel[a]) shape[a] = sel[a]->size();
    return shape;
}

/// Calls visit(full_offset, sub_offset, run_length) for every maximal contiguous run of selected
/// elements, in row-major order of the sub-tensor. Runs are long when trailing axes are uncut.
template <class Visit>
void for_each_selected_run(const Tensor::shape_type& full, const AxisSelection& sel, Visit&& visit) {
    const std::size_t rank = full.size();
    if (rank == 0) { visit(std::size_t{0}, std::size_t{0}, std::size_t{1}); return; }
    // Trailing uncut axes form one contiguous run.
    std::size_t split = rank, run = 1;
    while (split > 0 && !sel[split - 1]) run *= full[--split];
    if (split == 0) { visit(std::size_t{0}, std::size_t{0}, run); return; }

    std::vector<std::size_t> stride(rank, 1);
    for (std::size_t a = rank - 1; a > 0; --a) stride[a - 1] = stride[a] * full[a];
    std::size_t sub_offset = 0;
    auto recurse = [&](auto&& self, std::size_t axis, std::size_t full_offset) -> void {
        const std::size_t n = sel[axis] ? sel[axis]->size() : full[axis];
        for (std::size_t i = 0; i < n; ++i) {
            const std::size_t idx = sel[axis] ? (*sel[axis])[i] : i;
            const std::size_t off = full_offset + idx * stride[axis];
            if (axis + 1 == split) { visit(off, sub_offset, run); sub_offset += run; }
            else self(self, axis + 1, off);
        }
    };
    recurse(recurse, 0, 0);
}

/// The compact sub-tensor of `full` selected by `sel`.
inline Tensor gather(const Tensor& full, const AxisSelection& sel) {
    Tensor sub = Tensor::from_shape(selected_shape(full.shape(), sel));
    const float* src = full.data();
    float* dst = sub.data();
    for_each_selected_run(full.shape(), sel, [&](std::size_t f, std::size_t s, std::size_t n) {
        std::copy_n(src + f, n, dst + s);
    });
    return sub;
}

/// out = the columns `columns` of x, in that order (a worker's share of the input features).
inline void select_columns(const Matrix& x, const std::vector<std::uint32_t>& columns, Matrix& out) {
    const std::size_t rows = x.shape()[0], cols = x.shape()[1], n = columns.size();
    if (out.shape()[0] != rows || out.shape()[1] != n) out.resize({rows, n});
    for (std::size_t r = 0; r < rows; ++r) {
        const float* src = x.data() + r * cols;
        float* dst = out.data() + r * n;
        for (std::size_t j = 0; j < n; ++j) dst[j] = src[columns[j]];
    }
}

/// A tensor of the same rank with no elements: what a worker holds of a block it lacks.
inline Tensor absent_tensor(std::size_t rank) { return Tensor::from_shape(std::vector<std::size_t>(rank, 0)); }

/// The compact slice of `full` a worker with `plan` trains: the gather of its indices, or an
/// empty tensor when the parameter belongs to a unit (residual block) the worker does not hold.
inline Tensor slice_for(const Tensor& full, const std::vector<DimId>& axis_dims, UnitRef unit, const WorkerPlan& plan) {
    if (!plan.holds(unit)) return absent_tensor(full.dimension());
    return gather(full, select_axes(axis_dims, plan));
}

/// full[sel] = sub: the inverse of gather.
inline void scatter(const Tensor& sub, const AxisSelection& sel, Tensor& full) {
    const float* src = sub.data();
    float* dst = full.data();
    for_each_selected_run(full.shape(), sel, [&](std::size_t f, std::size_t s, std::size_t n) {
        std::copy_n(src + s, n, dst + f);
    });
}

/// Exchanges full[sel] and `sub`: full[sel] takes sub's values (as scatter) and `sub` keeps the
/// ones they replaced, so a second call undoes the first.
inline void swap_scatter(Tensor& sub, const AxisSelection& sel, Tensor& full) {
    float* mine = sub.data();
    float* dst = full.data();
    for_each_selected_run(full.shape(), sel, [&](std::size_t f, std::size_t s, std::size_t n) {
        std::swap_ranges(mine + s, mine + s + n, dst + f);
    });
}

}  // namespace ist::detail
