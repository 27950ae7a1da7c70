#pragma once
// How each layer type becomes ONNX nodes. The library's layers are mapped here; a user's own layer
// type is mapped with ist::register_onnx_layer, like ist::register_layer for model files.
#include <cstdint>
#include <functional>
#include <numbers>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/model/activation.hpp"
#include "ist/model/any_layer.hpp"
#include "ist/model/batch_norm.hpp"
#include "ist/model/batch_norm2d.hpp"
#include "ist/model/conv2d.hpp"
#include "ist/model/dense.hpp"
#include "ist/model/dropout.hpp"
#include "ist/model/graph/graph_conv.hpp"
#include "ist/model/layer_norm.hpp"
#include "ist/model/pooling.hpp"
#include "ist/model/standardize.hpp"
#include "ist/model/transformer/gelu.hpp"
#include "ist/onnx/onnx_graph.hpp"

namespace ist {

/// Writes the nodes of one layer of type L: reads `x`, returns the value it outputs. Constants
/// and nodes are named after the layer (graph.scope()); errors name it too.
template <class L>
using OnnxEmit = std::function<OnnxValue(const L& layer, OnnxGraph& graph, const OnnxValue& x)>;

/// A mapped layer type, erased: its name prefix ("dense": the model file's, so the first dense
/// layer's weight is "dense1.weight" in both files) and how it is written.
struct OnnxLayerMapping {
    std::string prefix;
    std::function<bool(const AnyLayer&)> matches;
    std::function<OnnxValue(const AnyLayer&, OnnxGraph&, const OnnxValue&)> emit;
};

/// The layer types export_onnx can write. Not synchronised: register before exporting.
class OnnxLayerTable {
public:
    template <class L>
    void add(std::string prefix, OnnxEmit<L> emit) {
        detail::require(!prefix.empty() && emit, "register_onnx_layer: a mapping needs a prefix and an emit function");
        mappings_.push_back({std::move(prefix), [](const AnyLayer& l) { return l.as<L>() != nullptr; },
                             [f = std::move(emit)](const AnyLayer& l, OnnxGraph& g, const OnnxValue& x) {
                                 return f(*l.as<L>(), g, x);
                             }});
    }

    /// The mapping of `layer`, or nullptr when its type has none.
    const OnnxLayerMapping* find(const AnyLayer& layer) const {
        for (const OnnxLayerMapping& m : mappings_)
            if (m.matches(layer)) return &m;
        return nullptr;
    }

private:
    std::vector<OnnxLayerMapping> mappings_;
};

namespace detail::onnx_layers {

inline OnnxValue dense(const Dense& l, OnnxGraph& g, const OnnxValue& in) {
    const OnnxValue x = g.rows(in);
    std::vector<std::string> inputs{x.name};
    for (const Parameter& p : l.parameters()) inputs.push_back(g.constant(p.name, p.value));
    // Gemm's alpha is ist's activation scale: s * x W^T + b, as Dense computes it.
    const auto outputs = static_cast<std::int64_t>(l.parameters()[0].value.shape()[0]);
    return {g.node("Gemm", inputs, {{"transB", std::int64_t{1}}, {"alpha", l.input_scale()}}), {outputs}};
}

/// (x - mean) * scale per feature, as Standardize computes it.
inline OnnxValue standardize(const Standardize& l, OnnxGraph& g, const OnnxValue& in) {
    const OnnxValue x = g.rows(in);
    const auto values = [](const xt::xtensor<float, 1>& v) { return std::vector<float>(v.begin(), v.end()); };
    const std::string centred = g.node("Sub", {x.name, g.constant("mean", values(l.mean()), {x.dims[0]})});
    return {g.node("Mul", {centred, g.constant("scale", values(l.scale()), {x.dims[0]})}), x.dims};
}

inline OnnxValue conv(const Conv2d& l, OnnxGraph& g, const OnnxValue& in) {
    const OnnxValue x = g.images(in, l.input_height(), l.input_width());
    const std::span<const Parameter> p = l.parameters();
    const auto k = static_cast<std::int64_t>(l.kernel()), s = static_cast<std::int64_t>(l.stride()),
               pad = static_cast<std::int64_t>(l.padding());
    const std::vector<std::int64_t> dims{static_cast<std::int64_t>(p[0].value.shape()[0]),
                                         static_cast<std::int64_t>(l.output_height()),
                                         static_cast<std::int64_t>(l.output_width())};
    const auto convolve = [&](std::vector<std::string> inputs) {
        return g.node("Conv", inputs, {{"kernel_shape", std::vector{k, k}}, {"strides", std::vector{s, s}},
                                       {"pads", std::vector{pad, pad, pad, pad}}});
    };
    const std::string weight = g.constant(p[0].name, p[0].value);
    const bool bias = p.size() == 2;
    if (l.input_scale() == 1.0f) return {convolve(bias ? std::vector{x.name, weight, g.constant(p[1].name, p[1].value)}
                                                       : std::vector{x.name, weight}), dims};
    // A subnet's activation scale multiplies the convolution before its bias, as Conv2d does.
    std::string y = g.node("Mul", {convolve({x.name, weight}), g.scalar("input_scale", l.input_scale())});
    if (bias) y = g.node("Add", {y, g.constant(p[1].name, std::vector<float>(p[1].value.begin(), p[1].value.end()),
                                               {dims[0], 1, 1})});
    return {y, dims};
}

/// BatchNormalization with the running statistics when the layer keeps them; otherwise the
/// statistics of the batch (over the batch axis, and every pixel of images) computed in the
/// graph as ist computes them: biased variance, x - mean times 1 / sqrt(var + eps).
inline OnnxValue batch_norm(OnnxGraph& g, const OnnxValue& x, std::span<const Parameter> affine,
                            const detail::RunningStatistics& running, float eps) {
    const std::int64_t channels = x.dims[0];
    // Per-channel parameters broadcast against rows as {C}, against images as {C, 1, 1}.
    std::vector<std::int64_t> shape{channels};
    if (!running.enabled() && x.dims.size() == 3) shape.insert(shape.end(), {1, 1});
    const auto per_channel = [&](const char* name, std::size_t index, float otherwise) {
        return affine.empty() ? g.constant(name, std::vector<float>(static_cast<std::size_t>(channels), otherwise), shape)
                              : g.constant(name, std::vector<float>(affine[index].value.begin(), affine[index].value.end()), shape);
    };
    if (running.enabled())
        return {g.node("BatchNormalization", {x.name, per_channel("gamma", 0, 1.0f), per_channel("beta", 1, 0.0f),
                                              g.constant("running_mean", running.mean()),
                                              g.constant("running_var", running.variance())},
                       {{"epsilon", eps}}),
                x.dims};
    detail::require(g.options().batch_statistics == OnnxBatchStatistics::InGraph,
                    "export_onnx: " + g.scope() + " normalises with the statistics of each batch (no running statistics), "
                    "which OnnxBatchStatistics::Refuse refuses; give it population statistics first "
                    "(ist::refresh_running_statistics)");
    const std::vector<std::int64_t> axes = x.dims.size() == 1 ? std::vector<std::int64_t>{0} : std::vector<std::int64_t>{0, 2, 3};
    const std::string mean = g.node("ReduceMean", {x.name}, {{"axes", axes}, {"keepdims", std::int64_t{1}}});
    const std::string centred = g.node("Sub", {x.name, mean});
    const std::string variance =
        g.node("ReduceMean", {g.node("Mul", {centred, centred})}, {{"axes", axes}, {"keepdims", std::int64_t{1}}});
    const std::string inv_std = g.node("Reciprocal", {g.node("Sqrt", {g.node("Add", {variance, g.scalar("eps", eps)})})});
    const std::string normalised = g.node("Mul", {centred, inv_std});
    if (affine.empty()) return {normalised, x.dims};
    return {g.node("Add", {g.node("Mul", {normalised, per_channel("gamma", 0, 1.0f)}), per_channel("beta", 1, 0.0f)}), x.dims};
}

inline OnnxValue layer_norm(const LayerNorm& l, OnnxGraph& g, const OnnxValue& in) {
    const OnnxValue x = g.rows(in);
    const std::string gain = g.constant("gain", std::vector<float>(static_cast<std::size_t>(x.dims[0]), 1.0f), {x.dims[0]});
    return {g.node("LayerNormalization", {x.name, gain}, {{"axis", std::int64_t{-1}}, {"epsilon", l.eps()}}), x.dims};
}

/// x * Phi(x) in the erf form ist computes (0.5 x (1 + erf(x sqrt(2) / 2))): opset 17 has no Gelu.
inline OnnxValue gelu(OnnxGraph& g, const OnnxValue& x) {
    const std::string erf = g.node("Erf", {g.node("Mul", {x.name, g.scalar("sqrt_half", std::numbers::sqrt2_v<float> / 2)})});
    const std::string half_x = g.node("Mul", {x.name, g.scalar("half", 0.5f)});
    return {g.node("Mul", {half_x, g.node("Add", {erf, g.scalar("one", 1.0f)})}), x.dims};
}

template <class Pool>
OnnxValue pool(const Pool& l, OnnxGraph& g, const OnnxValue& in, const char* op) {
    const OnnxValue x = g.images(in, l.input_height(), l.input_width());
    const auto k = static_cast<std::int64_t>(l.kernel()), s = static_cast<std::int64_t>(l.stride());
    return {g.node(op, {x.name}, {{"kernel_shape", std::vector{k, k}}, {"strides", std::vector{s, s}}}),
            {x.dims[0], static_cast<std::int64_t>(l.output_height()), static_cast<std::int64_t>(l.output_width())}};
}

inline void add_library_layers(OnnxLayerTable& t) {
    t.add<Standardize>("standardize", standardize);
    t.add<Dense>("dense", dense);
    t.add<ReLU>("relu", [](const ReLU&, OnnxGraph& g, const OnnxValue& x) { return OnnxValue{g.node("Relu", {x.name}), x.dims}; });
    t.add<Gelu>("gelu", [](const Gelu&, OnnxGraph& g, const OnnxValue& x) { return gelu(g, x); });
    t.add<Dropout>("dropout", [](const Dropout&, OnnxGraph&, const OnnxValue& x) { return x; });  // identity in evaluation
    t.add<LayerNorm>("norm", layer_norm);
    t.add<BatchNorm>("norm", [](const BatchNorm& l, OnnxGraph& g, const OnnxValue& x) {
        return batch_norm(g, g.rows(x), l.parameters(), l.running_statistics(), l.eps());
    });
    t.add<Conv2d>("conv", conv);
    t.add<BatchNorm2d>("norm", [](const BatchNorm2d& l, OnnxGraph& g, const OnnxValue& x) {
        return batch_norm(g, g.images(x, l.height(), l.width()), l.parameters(), l.running_statistics(), l.eps());
    });
    t.add<MaxPool2d>("pool", [](const MaxPool2d& l, OnnxGraph& g, const OnnxValue& x) { return pool(l, g, x, "MaxPool"); });
    t.add<AvgPool2d>("pool", [](const AvgPool2d& l, OnnxGraph& g, const OnnxValue& x) { return pool(l, g, x, "AveragePool"); });
    t.add<GlobalAvgPool>("pool", [](const GlobalAvgPool& l, OnnxGraph& g, const OnnxValue& in) {
        const OnnxValue x = g.images(in, l.input_height(), l.input_width());
        return OnnxValue{g.node("GlobalAveragePool", {x.name}), {x.dims[0], 1, 1}};
    });
    t.add<GraphConv>("graphconv", [](const GraphConv&, OnnxGraph& g, const OnnxValue&) -> OnnxValue {
        throw ConfigError("export_onnx: " + g.scope() + " (ist::GraphConv) cannot be exported: it propagates over the "
                          "graph of the whole data set, and an ONNX model scores rows on their own");
    });
}

}  // namespace detail::onnx_layers

/// The mappings export_onnx uses: the library's layers, then whatever users register.
inline OnnxLayerTable& onnx_layer_table() {
    static OnnxLayerTable table = [] {
        OnnxLayerTable t;
        detail::onnx_layers::add_library_layers(t);
        return t;
    }();
    return table;
}

/// Makes the user's layer type L exportable: `emit` writes its nodes (see OnnxEmit; `prefix`
/// names them, as the layer's LayerCodec prefix names its tensors).
template <class L>
void register_onnx_layer(std::string prefix, OnnxEmit<L> emit) {
    onnx_layer_table().add<L>(std::move(prefix), std::move(emit));
}

}  // namespace ist
