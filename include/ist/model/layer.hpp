#pragma once
// The Layer concept: what a user's own layer type must provide to be trained with IST.
#include <concepts>
#include <cstdint>
#include <cmath>
#include <span>
#include <string>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

namespace detail {
/// A norm's eps, checked: positive and finite (eps <= 0 divides by zero for a constant feature).
inline float checked_eps(float eps, const char* who) {
    require(std::isfinite(eps) && eps > 0.0f, std::string(who) + ": eps must be positive and finite, got " + std::to_string(eps));
    return eps;
}
}  // namespace detail

/// Requirements of a layer (library or user-defined):
///  - copyable (each worker trains its own copy);
///  - `forward(x, y, mode)` writes the output for the batch `x` into `y` (resizing it);
///  - `backward(x, y, dy, dx)` receives the forward input and output and dL/dy, writes the
///    gradient of every parameter into `Parameter::grad` (overwriting, shaped like the value) and,
///    when `dx` is not null, dL/dx into `*dx`;
///  - `parameters()` exposes its parameters, each tagging every axis as Axis::In, Axis::Out or
///    Axis::Shared. All shapes must follow from the parameter shapes and the input: a subnet is
///    made by handing the layer smaller parameters, so no width may be stored elsewhere;
///  - `opens_dimension`: true when the output feature dimension is new (a dense or conv layer),
///    false when the layer keeps its input's feature dimension (norms, activations).
/// Optional:
///  - `set_input_scale(float)`, called on subnets with (full input width / held width) when
///    activation scaling is on;
///  - `input_span()` / `output_span()`: layers over images (conv, pooling, 2-D norms) say how
///    many columns one channel takes on each side (height x width), so the Network can check
///    geometry and map a following dense layer's columns to channels;
///  - `set_batch_rows(std::span<const std::uint32_t>)`: receives the data-set rows of the next
///    batch before its forward pass (graph layers propagate over those nodes' subgraph).
template <class L>
concept Layer = std::copy_constructible<L> &&
    requires(L& layer, const L& const_layer, const Matrix& x, Matrix& y, const Matrix& dy, Matrix* dx, Mode mode) {
        layer.forward(x, y, mode);
        layer.backward(x, y, dy, dx);
        { layer.parameters() } -> std::convertible_to<std::span<Parameter>>;
        { const_layer.parameters() } -> std::convertible_to<std::span<const Parameter>>;
        { L::opens_dimension } -> std::convertible_to<bool>;
    };

/// Layers whose output should be rescaled when a subnet holds only part of their input.
template <class L>
concept InputScalable = requires(L& layer, float s) { layer.set_input_scale(s); };

/// Layers over images: columns per channel of their input and of their output.
template <class L>
concept Spatial = requires(const L& layer) {
    { layer.input_span() } -> std::convertible_to<std::size_t>;
    { layer.output_span() } -> std::convertible_to<std::size_t>;
};

/// Layers that depend on which data-set rows form the batch (graph layers).
template <class L>
concept BatchRowsAware = requires(L& layer, std::span<const std::uint32_t> rows) { layer.set_batch_rows(rows); };

}  // namespace ist
