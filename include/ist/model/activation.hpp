#pragma once
// Element-wise activations.
#include <span>

#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>

#include "ist/model/layer.hpp"

namespace ist {

/// Rectified linear unit, y = max(x, 0).
class ReLU {
public:
    static constexpr bool opens_dimension = false;
    void forward(const Matrix& x, Matrix& y, Mode) { xt::noalias(y) = xt::maximum(x, 0.0f); }
    void backward(const Matrix&, const Matrix& y, const Matrix& dy, Matrix* dx) {
        if (dx) xt::noalias(*dx) = xt::where(y > 0.0f, dy, 0.0f);
    }
    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }
};

}  // namespace ist
