#pragma once
// The library's layers as model files describe them, and the registry that holds them with any
// user-registered layer types.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ist/model/graph/graph_conv.hpp"
#include "ist/model/activation.hpp"
#include "ist/model/batch_norm.hpp"
#include "ist/model/batch_norm2d.hpp"
#include "ist/model/conv2d.hpp"
#include "ist/model/dense.hpp"
#include "ist/model/dropout.hpp"
#include "ist/model/layer_norm.hpp"
#include "ist/model_files/layer_registry.hpp"
#include "ist/model/pooling.hpp"
#include "ist/model/transformer/gelu.hpp"
#include "ist/model/standardize.hpp"

namespace ist {

namespace detail {

using json::Fields;
using json::Value;

/// A layer whose parameters include one named `name` (optional biases and weights).
template <class L>
bool has_parameter(const L& layer, const std::string& name) {
    for (const Parameter& p : layer.parameters())
        if (p.name == name) return true;
    return false;
}

/// Running statistics as extra tensors (none while tracking is off), for both batch norms.
template <class L>
void add_running_state(LayerCodec<L>& codec) {
    codec.state = [](const L& layer) {
        const RunningStatistics& r = layer.running_statistics();
        if (!r.enabled()) return std::vector<NamedTensor>{};
        return std::vector<NamedTensor>{{"running_mean", r.mean()}, {"running_var", r.variance()}};
    };
    codec.restore = [](L& layer, std::vector<NamedTensor> tensors) {
        for (NamedTensor& t : tensors)
            (t.name == "running_mean" ? layer.running_statistics().mean() : layer.running_statistics().variance()) =
                std::move(t.value);
    };
}

inline void register_dense_layers(LayerRegistry& r) {
    r.add(LayerCodec<Dense>{"Dense", "dense",
                            [](const Dense& l, Value& o, ModelWriteContext&) {
                                const Tensor& w = l.parameters()[0].value;
                                o.set("inputs", Value::number(w.shape()[1])).set("outputs", Value::number(w.shape()[0]));
                                o.set("bias", Value::boolean(l.parameters().size() == 2));
                            },
                            [](Fields& f, ModelReadContext&) {
                                const std::size_t in = f.count("inputs"), out = f.count("outputs");
                                return Dense(in, out, f.flag("bias"));
                            }});
    LayerCodec<Standardize> standardize{"Standardize", "standardize",
                                        [](const Standardize& l, Value& o, ModelWriteContext&) {
                                            o.set("features", Value::number(l.features()));
                                        },
                                        [](Fields& f, ModelReadContext&) { return Standardize(f.count("features")); }};
    standardize.state = [](const Standardize& l) {
        return std::vector<NamedTensor>{{"mean", l.mean()}, {"scale", l.scale()}};
    };
    standardize.restore = [](Standardize& l, std::vector<NamedTensor> tensors) {
        xt::xtensor<float, 1> mean = tensors.at(0).value, scale = tensors.at(1).value;  // read as 1-D by their shapes
        l = Standardize(std::move(mean), std::move(scale));
    };
    r.add(std::move(standardize));
    r.add(LayerCodec<ReLU>{"ReLU", "relu", [](const ReLU&, Value&, ModelWriteContext&) {},
                           [](Fields&, ModelReadContext&) { return ReLU(); }});
    r.add(LayerCodec<Gelu>{"Gelu", "gelu", [](const Gelu&, Value&, ModelWriteContext&) {},
                           [](Fields&, ModelReadContext&) { return Gelu(); }});
    r.add(LayerCodec<Dropout>{"Dropout", "dropout",
                              [](const Dropout& l, Value& o, ModelWriteContext&) {
                                  o.set("rate", Value::number(l.rate())).set("seed", Value::number(l.seed()));
                              },
                              [](Fields& f, ModelReadContext&) {
                                  const float rate = f.number<float>("rate");
                                  return Dropout(rate, f.number<std::uint64_t>("seed"));
                              }});
    r.add(LayerCodec<LayerNorm>{"LayerNorm", "norm",
                                [](const LayerNorm& l, Value& o, ModelWriteContext&) { o.set("eps", Value::number(l.eps())); },
                                [](Fields& f, ModelReadContext&) { return LayerNorm(f.number<float>("eps")); }});
    LayerCodec<BatchNorm> bn{"BatchNorm", "norm",
                             [](const BatchNorm& l, Value& o, ModelWriteContext&) {
                                 o.set("features", Value::number(l.features())).set("affine", Value::boolean(l.affine()));
                                 o.set("eps", Value::number(l.eps()));
                                 o.set("momentum", Value::number(l.running_statistics().momentum()));
                             },
                             [](Fields& f, ModelReadContext&) {
                                 const std::size_t features = f.count("features");
                                 const bool affine = f.flag("affine");
                                 const float eps = f.number<float>("eps");
                                 return BatchNorm(features, affine, eps, f.number<float>("momentum"));
                             }};
    add_running_state(bn);
    r.add(std::move(bn));
}

inline void register_image_layers(LayerRegistry& r) {
    r.add(LayerCodec<Conv2d>{"Conv2d", "conv",
                             [](const Conv2d& l, Value& o, ModelWriteContext&) {
                                 const Tensor& w = l.parameters()[0].value;
                                 o.set("in_channels", Value::number(w.shape()[1])).set("out_channels", Value::number(w.shape()[0]));
                                 o.set("height", Value::number(l.input_height())).set("width", Value::number(l.input_width()));
                                 o.set("kernel", Value::number(l.kernel())).set("stride", Value::number(l.stride()));
                                 o.set("padding", Value::number(l.padding()));
                                 o.set("bias", Value::boolean(l.parameters().size() == 2));
                             },
                             [](Fields& f, ModelReadContext&) {
                                 Conv2dOptions c;
                                 c.in_channels = f.count("in_channels"), c.out_channels = f.count("out_channels");
                                 c.height = f.count("height"), c.width = f.count("width");
                                 c.kernel = f.count("kernel"), c.stride = f.count("stride"), c.padding = f.count("padding");
                                 c.bias = f.flag("bias");
                                 return Conv2d(c);
                             }});
    LayerCodec<BatchNorm2d> bn{"BatchNorm2d", "norm",
                               [](const BatchNorm2d& l, Value& o, ModelWriteContext&) {
                                   o.set("channels", Value::number(l.channels())).set("height", Value::number(l.height()));
                                   o.set("width", Value::number(l.width())).set("affine", Value::boolean(l.affine()));
                                   o.set("eps", Value::number(l.eps()));
                                   o.set("momentum", Value::number(l.running_statistics().momentum()));
                               },
                               [](Fields& f, ModelReadContext&) {
                                   const std::size_t c = f.count("channels"), h = f.count("height"), w = f.count("width");
                                   const bool affine = f.flag("affine");
                                   const float eps = f.number<float>("eps");
                                   return BatchNorm2d(c, h, w, affine, eps, f.number<float>("momentum"));
                               }};
    add_running_state(bn);
    r.add(std::move(bn));
    const auto describe_pool = [](const auto& l, Value& o, ModelWriteContext&) {
        o.set("height", Value::number(l.input_height())).set("width", Value::number(l.input_width()));
        o.set("kernel", Value::number(l.kernel())).set("stride", Value::number(l.stride()));
    };
    r.add(LayerCodec<MaxPool2d>{"MaxPool2d", "pool", describe_pool, [](Fields& f, ModelReadContext&) {
                                    const std::size_t h = f.count("height"), w = f.count("width"), k = f.count("kernel");
                                    return MaxPool2d(h, w, k, f.count("stride"));
                                }});
    r.add(LayerCodec<AvgPool2d>{"AvgPool2d", "pool", describe_pool, [](Fields& f, ModelReadContext&) {
                                    const std::size_t h = f.count("height"), w = f.count("width"), k = f.count("kernel");
                                    return AvgPool2d(h, w, k, f.count("stride"));
                                }});
    r.add(LayerCodec<GlobalAvgPool>{"GlobalAvgPool", "pool",
                                    [](const GlobalAvgPool& l, Value& o, ModelWriteContext&) {
                                        o.set("height", Value::number(l.input_height()));
                                        o.set("width", Value::number(l.input_width()));
                                    },
                                    [](Fields& f, ModelReadContext&) {
                                        const std::size_t h = f.count("height");
                                        return GlobalAvgPool(h, f.count("width"));
                                    }});
}

/// The plain graph of a GraphConv: its own, or for a layer built from A_hat alone the graph
/// whose normalised adjacency A_hat is (anything else cannot be stored as a graph).
inline std::shared_ptr<const Graph> plain_graph_of(const GraphConv& l) {
    if (l.plain_graph()) return l.plain_graph();
    const Graph& a_hat = *l.graph();
    std::vector<std::vector<std::uint32_t>> lists(a_hat.nodes());
    for (std::size_t i = 0; i < a_hat.nodes(); ++i)
        for (std::size_t k = a_hat.row_offsets()[i]; k < a_hat.row_offsets()[i + 1]; ++k)
            if (a_hat.columns()[k] != i) lists[i].push_back(a_hat.columns()[k]);
    auto plain = std::make_shared<const Graph>(graph_from_neighbour_lists(std::move(lists)));
    const Graph again = plain->normalized_adjacency();
    require(again.columns() == a_hat.columns() && again.values() == a_hat.values(),
            "save_model: a GraphConv's propagation matrix is not the normalised adjacency of a graph, so the model "
            "file cannot store it");
    return plain;
}

inline void register_graph_layers(LayerRegistry& r) {
    r.add(LayerCodec<GraphConv>{"GraphConv", "graphconv",
                                [](const GraphConv& l, Value& o, ModelWriteContext& context) {
                                    const Tensor& w = l.parameters()[0].value;
                                    o.set("inputs", Value::number(w.shape()[1])).set("outputs", Value::number(w.shape()[0]));
                                    o.set("bias", Value::boolean(has_parameter(l, "bias")));
                                    o.set("self_weight", Value::boolean(has_parameter(l, "self_weight")));
                                    o.set("graph", Value::string(context.graph_name(plain_graph_of(l))));
                                },
                                [](Fields& f, ModelReadContext& context) {
                                    const std::size_t in = f.count("inputs"), out = f.count("outputs");
                                    GraphConvOptions options;
                                    options.bias = f.flag("bias");
                                    options.self_weight = f.flag("self_weight");
                                    return GraphConv(context.graph(f.text("graph")), in, out, options);
                                }});
}

}  // namespace detail

/// The registry model files use: the library's layers, then whatever users register.
inline LayerRegistry& layer_registry() {
    static LayerRegistry registry = [] {
        LayerRegistry r;
        detail::register_dense_layers(r);
        detail::register_image_layers(r);
        detail::register_graph_layers(r);
        return r;
    }();
    return registry;
}

/// Makes the user's layer type L savable and loadable (see LayerCodec). Throws ConfigError if
/// a type of that name is already registered.
template <class L>
void register_layer(LayerCodec<L> codec) {
    layer_registry().add(std::move(codec));
}

}  // namespace ist
