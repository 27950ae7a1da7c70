#pragma once
// The ONNX graph an exporter writes, through the protobuf classes of Debian's libonnx-dev
// (onnx/onnx_pb.h, linked as ist::onnx): constants, nodes with unique names, and the two layouts
// ist's rows take (feature rows, or images C x H x W flattened channel-major).
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// The opset every exported model imports: the newest Debian's ONNX 1.12 checks, the first with
/// LayerNormalization (GELU came in opset 20 and is written as Erf, Mul and Add).
inline constexpr std::int64_t kOnnxOpset = 17;
/// The ONNX IR version of opset 17.
inline constexpr std::int64_t kOnnxIrVersion = 8;

/// What export_onnx does with a BatchNorm / BatchNorm2d that has no running statistics (the
/// reference IST network's: it normalises with the statistics of each batch, in evaluation too).
enum class OnnxBatchStatistics {
    InGraph,  ///< the graph computes the batch's statistics (ReduceMean over the batch axis), as ist does
    Refuse,   ///< throw ConfigError naming the layer (ask for population statistics first)
};

struct OnnxExportOptions {
    OnnxBatchStatistics batch_statistics = OnnxBatchStatistics::InGraph;
    std::string model_name = "ist";  ///< the graph's name
};

/// A value flowing through the graph: its name and its shape without the batch axis, {features}
/// for rows or {channels, height, width} for images.
struct OnnxValue {
    std::string name;
    std::vector<std::int64_t> dims;
};

/// One attribute of a node: an integer, a float or a list of integers.
struct OnnxAttribute {
    std::string name;
    std::variant<std::int64_t, float, std::vector<std::int64_t>> value;
};

/// Appends to an onnx::GraphProto. Names are scoped by the layer being exported: constants are
/// "<scope>.<name>" (the model file's tensor names, "dense1.weight"), node outputs "<scope>/<op>";
/// a name already taken gets a suffix, so every value is named once.
class OnnxGraph {
public:
    OnnxGraph(onnx::GraphProto& graph, const OnnxExportOptions& options) : graph_(graph), options_(options) {}

    const OnnxExportOptions& options() const { return options_; }
    /// The layer being exported ("dense1", "block2.conv1"): names what follows, and errors.
    const std::string& scope() const { return scope_; }
    void set_scope(std::string scope) { scope_ = std::move(scope); }

    /// A float constant of `shape` holding `values` (row-major), named "<scope>.<name>".
    std::string constant(const std::string& name, const std::vector<float>& values, std::vector<std::int64_t> shape) {
        std::int64_t count = 1;
        for (std::int64_t d : shape) count *= d;
        detail::require(count == static_cast<std::int64_t>(values.size()),
                        "OnnxGraph: constant " + name + " has " + std::to_string(values.size()) + " values for its shape");
        onnx::TensorProto& t = *graph_.add_initializer();
        t.set_name(unique(scoped(name, '.')));
        t.set_data_type(onnx::TensorProto::FLOAT);
        for (std::int64_t d : shape) t.add_dims(d);
        for (float v : values) t.add_float_data(v);
        return t.name();
    }
    /// A constant with the shape and values of an ist tensor.
    std::string constant(const std::string& name, const Tensor& tensor) {
        return constant(name, std::vector<float>(tensor.begin(), tensor.end()),
                        std::vector<std::int64_t>(tensor.shape().begin(), tensor.shape().end()));
    }
    /// A one-element constant, which broadcasts against any value.
    std::string scalar(const std::string& name, float value) { return constant(name, {value}, {1}); }
    /// An int64 constant (the shape a Reshape takes).
    std::string int64s(const std::string& name, const std::vector<std::int64_t>& values) {
        onnx::TensorProto& t = *graph_.add_initializer();
        t.set_name(unique(scoped(name, '.')));
        t.set_data_type(onnx::TensorProto::INT64);
        t.add_dims(static_cast<std::int64_t>(values.size()));
        for (std::int64_t v : values) t.add_int64_data(v);
        return t.name();
    }

    /// A node `op` reading `inputs` ("" for an optional input left out); returns its output's name.
    std::string node(const std::string& op, const std::vector<std::string>& inputs,
                     std::initializer_list<OnnxAttribute> attributes = {}) {
        return node_named(op, scoped(op, '/'), inputs, attributes);
    }
    /// The same, its output named `output` exactly (a graph output: "logits").
    std::string node_named(const std::string& op, const std::string& output, const std::vector<std::string>& inputs,
                           std::initializer_list<OnnxAttribute> attributes = {}) {
        onnx::NodeProto& n = *graph_.add_node();
        n.set_op_type(op);
        n.set_name(unique(output));
        n.add_output(n.name());
        for (const std::string& in : inputs) n.add_input(in);
        for (const OnnxAttribute& a : attributes) add_attribute(n, a);
        return n.name();
    }

    /// `x` as rows: images are flattened channel-major, as ist stores them.
    OnnxValue rows(const OnnxValue& x) {
        if (x.dims.size() == 1) return x;
        return {node("Flatten", {x.name}, {{"axis", std::int64_t{1}}}), {x.dims[0] * x.dims[1] * x.dims[2]}};
    }
    /// `x` as images of height x width, checking its features hold whole channels (errors name
    /// the layer being exported).
    OnnxValue images(const OnnxValue& x, std::size_t height, std::size_t width) {
        const auto h = static_cast<std::int64_t>(height), w = static_cast<std::int64_t>(width);
        if (x.dims.size() == 3) {
            detail::require(x.dims[1] == h && x.dims[2] == w, scope_ + ": takes " + std::to_string(h) + "x" + std::to_string(w) +
                                                                  " images, the layer before gives " + std::to_string(x.dims[1]) +
                                                                  "x" + std::to_string(x.dims[2]));
            return x;
        }
        detail::require(x.dims[0] % (h * w) == 0, scope_ + ": its input's " + std::to_string(x.dims[0]) +
                                                      " features are not whole " + std::to_string(h) + "x" +
                                                      std::to_string(w) + " channels");
        const std::int64_t channels = x.dims[0] / (h * w);
        return {node("Reshape", {x.name, int64s("image_shape", {-1, channels, h, w})}), {channels, h, w}};
    }

    /// Declares a graph input or output of element type `type`, a first "batch" axis, then `dims`.
    void input(const std::string& name, const std::vector<std::int64_t>& dims,
               int type = onnx::TensorProto::FLOAT) {
        describe(*graph_.add_input(), name, dims, type);
        taken_.insert(name);
    }
    void output(const std::string& name, const std::vector<std::int64_t>& dims, int type = onnx::TensorProto::FLOAT) {
        describe(*graph_.add_output(), name, dims, type);
    }

private:
    std::string scoped(const std::string& name, char separator) const {
        return scope_.empty() ? name : scope_ + separator + name;
    }
    std::string unique(const std::string& wanted) {
        std::string name = wanted;
        for (int k = 2; !taken_.insert(name).second; ++k) name = wanted + "_" + std::to_string(k);
        return name;
    }

    static void add_attribute(onnx::NodeProto& node, const OnnxAttribute& a) {
        onnx::AttributeProto& p = *node.add_attribute();
        p.set_name(a.name);
        if (const auto* i = std::get_if<std::int64_t>(&a.value)) {
            p.set_type(onnx::AttributeProto::INT);
            p.set_i(*i);
        } else if (const auto* f = std::get_if<float>(&a.value)) {
            p.set_type(onnx::AttributeProto::FLOAT);
            p.set_f(*f);
        } else {
            p.set_type(onnx::AttributeProto::INTS);
            for (std::int64_t v : std::get<std::vector<std::int64_t>>(a.value)) p.add_ints(v);
        }
    }

    static void describe(onnx::ValueInfoProto& info, const std::string& name, const std::vector<std::int64_t>& dims, int type) {
        info.set_name(name);
        onnx::TypeProto_Tensor& tensor = *info.mutable_type()->mutable_tensor_type();
        tensor.set_elem_type(type);
        onnx::TensorShapeProto& shape = *tensor.mutable_shape();
        shape.add_dim()->set_dim_param("batch");
        for (std::int64_t d : dims) shape.add_dim()->set_dim_value(d);
    }

    onnx::GraphProto& graph_;
    const OnnxExportOptions& options_;
    std::string scope_;
    std::set<std::string> taken_;
};

}  // namespace ist
