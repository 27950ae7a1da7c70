#pragma once
// ONNX export of a Network (MLPs, CNNs, ResNets) through Debian's libonnx-dev: what a model file
// holds becomes an ONNX model (opset 17) that onnxruntime and other runtimes score. Needs ist::onnx
// (CMake) and so is not part of <ist/ist.hpp>; docs/onnx.md says what exports and how to check it.
//
//   ist::export_onnx(ist::load_model("m.npz"), "m.onnx");
//
// The model reads "input" (batch x features, the rows ist's forward takes) and writes "logits",
// "probabilities" (their softmax) and "class" (int64, the arg max), each with a first "batch" axis.
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ist/core/error.hpp"
#include "ist/io/atomic_file.hpp"
#include "ist/model/network.hpp"
#include "ist/model_files/model_file.hpp"
#include "ist/onnx/layer_mappings.hpp"
#include "ist/onnx/onnx_graph.hpp"

namespace ist {

namespace detail {

/// A model importing opset 17, its graph named after the options, ready for nodes.
inline onnx::ModelProto onnx_model(const OnnxExportOptions& options) {
    onnx::ModelProto model;
    model.set_ir_version(kOnnxIrVersion);
    model.set_producer_name("ist");
    model.set_producer_version("0.1.0");
    onnx::OperatorSetIdProto& opset = *model.add_opset_import();
    opset.set_domain("");
    opset.set_version(kOnnxOpset);
    model.mutable_graph()->set_name(options.model_name);
    return model;
}

/// The graph outputs every exported classifier has: logits, probabilities and the class.
inline void classifier_outputs(OnnxGraph& g, const OnnxValue& x) {
    detail::require(x.dims.size() == 1, "export_onnx: the model ends in images, not one logit per class");
    g.set_scope("");
    const std::string logits = g.node_named("Identity", "logits", {x.name});
    g.node_named("Softmax", "probabilities", {logits}, {{"axis", std::int64_t{1}}});
    g.node_named("ArgMax", "class", {logits}, {{"axis", std::int64_t{1}}, {"keepdims", std::int64_t{0}}});
    g.output("logits", x.dims);
    g.output("probabilities", x.dims);
    g.output("class", {}, onnx::TensorProto::INT64);
}

/// The mapping of every layer of `net`, looked up before any node is written: an unexportable
/// layer is named (index and type) before work starts.
inline std::vector<const OnnxLayerMapping*> onnx_mappings(const Network& net, const OnnxLayerTable& table) {
    std::vector<const OnnxLayerMapping*> mappings(net.layer_count());
    for (std::size_t l = 0; l < net.layer_count(); ++l) {
        mappings[l] = table.find(net.layer(l));
        detail::require(mappings[l] != nullptr, "export_onnx: layer " + std::to_string(l) + " of " +
                                                    std::to_string(net.layer_count()) + " (" + net.layer(l).type_name() +
                                                    ") has no ONNX mapping (ist::register_onnx_layer)");
    }
    return mappings;
}

/// Writes the nodes of `net`'s steps: its layers, and residual blocks as shortcut + scale * branch.
class NetworkExport {
public:
    NetworkExport(const Network& net, OnnxGraph& g, const OnnxLayerTable& table)
        : net_(net), g_(g), mappings_(onnx_mappings(net, table)), names_(net.layer_count()) {
        for_each_layer_name(net, [&](std::size_t l) { return mappings_[l]->prefix; },
                            [&](std::size_t l, const std::string& name) { names_[l] = name; });
    }

    OnnxValue run(OnnxValue x) {
        const Topology& topology = *net_.topology();
        for (const Topology::Step& step : topology.steps())
            x = step.block ? block(*step.block, x) : chain(step.layer, step.layer + 1, x);
        return g_.rows(x);
    }

private:
    OnnxValue chain(std::size_t begin, std::size_t end, OnnxValue x) {
        for (std::size_t l = begin; l < end; ++l) {
            g_.set_scope(names_[l]);
            x = mappings_[l]->emit(net_.layer(l), g_, x);
        }
        return x;
    }

    OnnxValue block(std::size_t b, const OnnxValue& x) {
        const Topology::Block& block = net_.topology()->blocks()[b];
        OnnxValue skip = chain(block.shortcut_begin, block.branch_begin, x);
        if (!net_.block_active(b)) return skip;
        OnnxValue branch = chain(block.branch_begin, block.branch_end, x);
        if (skip.dims != branch.dims) skip = g_.rows(skip), branch = g_.rows(branch);
        detail::require(skip.dims == branch.dims, "export_onnx: residual block " + std::to_string(b + 1) +
                                                      ": its branch and its shortcut give different widths");
        g_.set_scope("block" + std::to_string(b + 1));
        const float scale = net_.block_eval_scale(b);
        if (scale != 1.0f) branch.name = g_.node("Mul", {branch.name, g_.scalar("branch_scale", scale)});
        return {g_.node("Add", {skip.name, branch.name}), skip.dims};
    }

    const Network& net_;
    OnnxGraph& g_;
    std::vector<const OnnxLayerMapping*> mappings_;
    std::vector<std::string> names_;
};

inline std::string serialized(const onnx::ModelProto& model) {
    std::string bytes;
    detail::require<DataError>(model.SerializeToString(&bytes), "export_onnx: protobuf could not serialise the model");
    return bytes;
}

}  // namespace detail

/// The ONNX model of `net` as it evaluates (Mode::Eval): dropout is the identity, norms with
/// running statistics use them, norms without (OnnxExportOptions::batch_statistics) compute the
/// statistics of the batch in the graph, residual branches carry their evaluation scale. Throws
/// ConfigError naming the first layer whose type has no mapping in `table`, or that refuses.
inline onnx::ModelProto to_onnx(const Network& net, const OnnxExportOptions& options = {},
                                const OnnxLayerTable& table = onnx_layer_table()) {
    detail::require(net.topology() != nullptr, "export_onnx: the network has no layers");
    onnx::ModelProto model = detail::onnx_model(options);
    OnnxGraph g(*model.mutable_graph(), options);
    const auto features = static_cast<std::int64_t>(net.input_size());
    g.input("input", {features});
    detail::NetworkExport exporter(net, g, table);
    detail::classifier_outputs(g, exporter.run({"input", {features}}));
    return model;
}

/// Writes to_onnx(net, options) to `path` (atomically: the old file or the new one). Throws
/// ConfigError for a layer that cannot be exported and DataError when the file cannot be written,
/// both before `path` changes.
inline void export_onnx(const Network& net, const std::string& path, const OnnxExportOptions& options = {},
                        const OnnxLayerTable& table = onnx_layer_table()) {
    detail::write_file_atomically(path, detail::serialized(to_onnx(net, options, table)));
}

}  // namespace ist
