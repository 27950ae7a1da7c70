#pragma once
// Element-wise activations.
#include <span>

#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "ist/detail/parallel_ranges.hpp"
#include "ist/model/layer.hpp"

namespace ist {

/// Rectified linear unit, y = max(x, 0).
class ReLU {
public:
    static constexpr bool opens_dimension = false;
    // Element ranges in parallel when BLAS has several threads (detail/parallel_ranges.hpp).
    void forward(const Matrix& x, Matrix& y, Mode) {
        y.resize(x.shape());
        detail::parallel_ranges(x.size(), 1, [&](std::size_t from, std::size_t to) {
            xt::noalias(detail::flat_range(y.data(), from, to)) = xt::maximum(detail::flat_range(x.data(), from, to), 0.0f);
        });
    }
    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        dx->resize(dy.shape());
        detail::parallel_ranges(dy.size(), 1, [&](std::size_t from, std::size_t to) {
            xt::noalias(detail::flat_range(dx->data(), from, to)) =
                xt::where(detail::flat_range(y.data(), from, to) > 0.0f, detail::flat_range(dy.data(), from, to), 0.0f);
        });
    }
    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }
};

}  // namespace ist
