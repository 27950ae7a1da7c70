#pragma once
// Saved models that load back: one .npz with every parameter under a readable name
// ("dense1.weight", "block3.conv1.weight", "norm2.gamma") and a member "architecture.json" that
// rebuilds the Network without the code that built it. numpy.load() opens the file as it is
// (docs/model_files.md shows the forward pass in numpy).
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/json.hpp"
#include "ist/io/npz.hpp"
#include "ist/model_files/layer_codecs.hpp"
#include "ist/model_files/model_metadata.hpp"
#include "ist/model_files/sparse_tensor.hpp"
#include "ist/model/network.hpp"
#include "ist/model/resnet/residual.hpp"

namespace ist {

/// The version of the model file format this library writes, and the newest it reads. Format 2
/// added the "metadata" object (ModelMetadata) and the Standardize layer; format 1 files (ist 0.1
/// and 0.2) still load, without them.
inline constexpr std::size_t kModelFormatVersion = 2;

namespace detail {

inline constexpr const char* kArchitectureMember = "architecture.json";

/// Calls f(layer index, name) for every layer of `net` in order. Layers are named by their
/// type's prefix (`prefix_of(layer index)`) and a count per prefix: "dense1", "norm2" at the top
/// level; "block3.conv1" in the third residual block's branch and "block3.shortcut.conv1" in its
/// shortcut. Model files and ONNX files (ist/onnx/) name layers alike.
template <class PrefixOf, class F>
void for_each_layer_name(const Network& net, PrefixOf&& prefix_of, F&& f) {
    const auto& topology = *net.topology();
    std::map<std::string, std::size_t> top_counts;
    const auto name_range = [&](std::size_t begin, std::size_t end, const std::string& scope) {
        std::map<std::string, std::size_t> counts;
        for (std::size_t l = begin; l < end; ++l) {
            const std::string prefix = prefix_of(l);
            f(l, scope + prefix + std::to_string(++(scope.empty() ? top_counts : counts)[prefix]));
        }
    };
    std::size_t blocks = 0;
    for (const Topology::Step& step : topology.steps()) {
        if (!step.block) {
            name_range(step.layer, step.layer + 1, "");
            continue;
        }
        const Topology::Block& b = topology.blocks()[*step.block];
        const std::string block = "block" + std::to_string(++blocks) + ".";
        name_range(b.shortcut_begin, b.branch_begin, block + "shortcut.");
        name_range(b.branch_begin, b.branch_end, block);
    }
}

/// for_each_layer_name with the prefixes of the model file registry.
template <class F>
void for_each_named_layer(const Network& net, const LayerRegistry& registry, F&& f) {
    for_each_layer_name(
        net, [&](std::size_t l) { return registry.kind_of(net.layer(l), "save_model: layer " + std::to_string(l)).prefix; },
        std::forward<F>(f));
}

/// Reads one layer entry of architecture.json into a layer, checking its name is `expected`.
inline AnyLayer read_layer(const json::Value& entry, const std::string& where, const LayerRegistry& registry,
                           ModelReadContext& context, std::vector<std::string>& names) {
    json::Fields f(entry, where);
    const LayerKind& kind = registry.kind_named(f.text("type"), where);
    names.push_back(f.text("name"));
    try {
        AnyLayer layer = kind.build(f, context);
        f.finish();
        return layer;
    } catch (const ConfigError& e) {  // a layer constructor refused the options
        throw DataError(where + " (" + kind.type + "): " + e.what());
    }
}

inline std::vector<AnyLayer> read_layers(const json::Value& list, const std::string& where, const LayerRegistry& registry,
                                         ModelReadContext& context, std::vector<std::string>& names) {
    if (list.kind != json::Value::Kind::Array) throw DataError(where + ": expected a JSON array of layers");
    std::vector<AnyLayer> out;
    for (std::size_t i = 0; i < list.items.size(); ++i)
        out.push_back(read_layer(list.items[i], where + "[" + std::to_string(i) + "]", registry, context, names));
    return out;
}

/// Appends the architecture's step `entry` (a layer, or a Residual block) to `net`.
inline void add_step(Network& net, const json::Value& entry, const std::string& where, const LayerRegistry& registry,
                     ModelReadContext& context, std::vector<std::string>& names) {
    const json::Value* type = entry.find("type");
    const bool block = type && type->kind == json::Value::Kind::String && type->text == "Residual";
    try {
        if (!block) return void(net.add(read_layer(entry, where, registry, context, names)));
        json::Fields f(entry, where);
        f.text("type"), f.text("name");
        Residual residual;
        // In layer order: a Network lays out a block's shortcut before its branch.
        for (AnyLayer& l : read_layers(f.value("shortcut"), where + ".shortcut", registry, context, names))
            residual.shortcut(std::move(l));
        for (AnyLayer& l : read_layers(f.value("branch"), where + ".branch", registry, context, names))
            residual.add(std::move(l));
        f.finish();
        net.add(std::move(residual));
    } catch (const ConfigError& e) {  // the layers do not fit together
        throw DataError(where + ": " + e.what());
    }
}

/// What architecture.json holds besides the layers.
struct ArchitectureHeader {
    std::size_t version = 0;
    std::optional<ModelMetadata> metadata;  ///< absent in format 1
};

/// The Network architecture.json describes, its parameters still as initialised; its version and
/// metadata into `header`.
inline Network read_architecture(const NpzArchive& archive, const LayerRegistry& registry, ModelReadContext& context,
                                 std::vector<std::string>& names, ArchitectureHeader& header) {
    const std::string source = archive.path() + "[" + kArchitectureMember + "]";
    if (!archive.contains(kArchitectureMember))
        throw DataError(archive.path() + ": not an ist model file (no " + kArchitectureMember +
                        " member; files from ist-train --save-model before format 1 hold only param_0, param_1, ...)");
    const json::Value doc = json::parse(archive.text(kArchitectureMember), source);
    json::Fields top(doc, source);
    if (top.text("format") != "ist-model") throw DataError(source + ": 'format' is not \"ist-model\"");
    const std::size_t version = top.count("version");
    if (version == 0 || version > kModelFormatVersion)
        throw DataError(source + ": model format version " + std::to_string(version) + " is not supported (this library reads "
                                 "versions 1 to " + std::to_string(kModelFormatVersion) + "; a newer ist wrote it?)");
    const json::Value& layers = top.value("layers");
    const json::Value* metadata = version >= 2 ? &top.value("metadata") : nullptr;
    top.finish();
    if (layers.kind != json::Value::Kind::Array || layers.items.empty())
        throw DataError(source + ": 'layers' must be a non-empty array");
    Network net;
    for (std::size_t i = 0; i < layers.items.size(); ++i)
        add_step(net, layers.items[i], source + ": layers[" + std::to_string(i) + "]", registry, context, names);
    header.version = version;
    if (metadata) header.metadata = read_metadata(*metadata, source + ": metadata", net.output_size());
    return net;
}

}  // namespace detail

/// Writes `net` to `path` (atomically: the old file or the new one, never a torn one): its
/// architecture as JSON, each parameter as "<layer>.<parameter>" and each layer's extra state
/// (running statistics) as "<layer>.<tensor>"; a weight with few enough non-zeros (a pruned one:
/// under about half) as CSR arrays instead (model_files/sparse_tensor.hpp). Throws ConfigError
/// for a layer type that is not registered (ist::register_layer), DataError if the file cannot
/// be written.
/// `metadata` is stored as architecture.json's "metadata" object, its class count set to the
/// network's outputs (ConfigError if it names another number of classes).
inline void save_model(const Network& net, const std::string& path, ModelMetadata metadata,
                       const LayerRegistry& registry = layer_registry()) {
    detail::require(net.topology() != nullptr, "save_model: the network has no layers");
    detail::require(metadata.class_names.empty() || metadata.class_names.size() == net.output_size(),
                    "save_model: " + std::to_string(metadata.class_names.size()) + " class names for a network of " +
                        std::to_string(net.output_size()) + " outputs");
    metadata.classes = net.output_size();
    using detail::json::Value;
    ModelWriteContext context;
    std::vector<Value> entries(net.layer_count());
    std::vector<std::pair<std::string, const Tensor*>> tensors;
    std::deque<NamedTensor> state;  // stable addresses for `tensors`
    std::set<std::string> taken;
    detail::for_each_named_layer(net, registry, [&](std::size_t l, const std::string& name) {
        const LayerKind& kind = registry.kind_of(net.layer(l), "save_model: layer " + std::to_string(l));
        Value options = kind.describe(net.layer(l), context);
        entries[l] = Value::object().set("type", Value::string(kind.type)).set("name", Value::string(name));
        for (auto& member : options.members) entries[l].set(std::move(member.key), std::move(member.value));
        const auto add = [&](const std::string& tensor, const Tensor& value) {
            detail::require(taken.insert(name + "." + tensor).second,
                            "save_model: layer " + name + " has two tensors named '" + tensor + "'");
            tensors.emplace_back(name + "." + tensor, &value);
        };
        for (const Parameter& p : net.layer(l).parameters()) add(p.name, p.value);
        for (NamedTensor& t : kind.state(net.layer(l))) {
            const NamedTensor& kept = state.emplace_back(std::move(t));
            add(kept.name, kept.value);
        }
    });
    Value layers = Value::array();
    const Topology& topology = *net.topology();
    for (const Topology::Step& step : topology.steps()) {
        if (!step.block) {
            layers.items.push_back(std::move(entries[step.layer]));
            continue;
        }
        const Topology::Block& b = topology.blocks()[*step.block];
        Value shortcut = Value::array(), branch = Value::array();
        for (std::size_t l = b.shortcut_begin; l < b.branch_begin; ++l) shortcut.items.push_back(std::move(entries[l]));
        for (std::size_t l = b.branch_begin; l < b.branch_end; ++l) branch.items.push_back(std::move(entries[l]));
        const std::string name = "block" + std::to_string(*step.block + 1);
        layers.items.push_back(Value::object().set("type", Value::string("Residual")).set("name", Value::string(name))
                                   .set("shortcut", std::move(shortcut)).set("branch", std::move(branch)));
    }
    Value doc = Value::object().set("format", Value::string("ist-model"));
    doc.set("version", Value::number(kModelFormatVersion)).set("metadata", detail::metadata_json(metadata));
    doc.set("layers", std::move(layers));
    NpzWriter npz;
    npz.add(detail::kArchitectureMember, detail::json::dump(doc));
    for (const auto& [name, value] : tensors) detail::add_tensor(npz, name, *value);  // CSR when smaller
    for (const auto& [name, graph] : context.graphs()) {
        npz.add(name + ".row_offsets", graph->row_offsets());
        npz.add(name + ".columns", graph->columns());
    }
    npz.write_atomically(path);
}

/// save_model without metadata beyond the class count.
inline void save_model(const Network& net, const std::string& path, const LayerRegistry& registry = layer_registry()) {
    save_model(net, path, ModelMetadata{}, registry);
}

/// A model file read whole: the network, what the file says about it, and what it lacks.
struct LoadedModel {
    Network network;
    ModelMetadata metadata;  ///< for a format 1 file: the class count alone (the network's outputs)
    std::size_t version = 0;
    /// What a user should know before feeding the model rows: what a format 1 file does not record,
    /// a model without its input standardisation, batch norms that use each batch's statistics.
    std::vector<std::string> notes;
};

namespace detail {

/// The notes of LoadedModel for a file at `path`.
inline std::vector<std::string> model_notes(const std::string& path, const LoadedModel& m) {
    std::vector<std::string> notes;
    if (m.version < 2)
        notes.push_back(path + ": model format " + std::to_string(m.version) +
                        " (ist 0.1/0.2) records no input standardisation, class names or label column");
    if (m.network.layer(0).as<Standardize>() == nullptr)
        notes.push_back(path + ": the model does not standardise its inputs: give it rows standardised as in training");
    for (std::size_t l = 0; l < m.network.layer_count(); ++l) {
        const AnyLayer& layer = m.network.layer(l);
        const BatchNorm* bn = layer.as<BatchNorm>();
        const BatchNorm2d* bn2 = layer.as<BatchNorm2d>();
        if ((bn && !bn->running_statistics().enabled()) || (bn2 && !bn2->running_statistics().enabled())) {
            notes.push_back(path + ": its batch norms normalise with the statistics of each batch: a row's prediction "
                                   "depends on the rows scored with it");
            break;
        }
    }
    return notes;
}

}  // namespace detail

/// Reads a model written by save_model into a new Network (returned only once complete, so a
/// bad file leaves nothing half-loaded). Throws DataError naming the file and the problem: not
/// a model file, malformed JSON, a format version from the future, an unknown layer type, a
/// missing, extra or misshapen tensor.
inline LoadedModel load_model_file(const std::string& path, const LayerRegistry& registry = layer_registry()) {
    const NpzArchive archive(path);
    ModelReadContext context(archive);
    std::vector<std::string> names;  // each layer's name in the file, in layer order
    detail::ArchitectureHeader header;
    Network net = detail::read_architecture(archive, registry, context, names, header);
    detail::for_each_named_layer(net, registry, [&](std::size_t l, const std::string& name) {
        if (names.at(l) != name)
            throw DataError(path + ": layer " + std::to_string(l) + " is named '" + names[l] + "', expected '" + name + "'");
        AnyLayer& layer = net.layer(l);
        for (Parameter& p : layer.parameters()) context.read_tensor(name + "." + p.name, p.value);
        const LayerKind& kind = registry.kind_of(layer, path);
        std::vector<NamedTensor> state = kind.state(layer);
        for (NamedTensor& t : state) context.read_tensor(name + "." + t.name, t.value);
        if (!state.empty()) kind.restore(layer, std::move(state));
    });
    const std::vector<std::string> extra = context.unclaimed({detail::kArchitectureMember});
    if (!extra.empty())
        throw DataError(path + ": unexpected tensor '" + extra.front() + "' (the architecture has no such parameter)");
    LoadedModel out{std::move(net), {}, header.version, {}};
    out.metadata = header.metadata ? *header.metadata : ModelMetadata{out.network.output_size(), {}, {}, {}, 0};
    out.notes = detail::model_notes(path, out);
    return out;
}

/// The network of the model file at `path` (load_model_file without what the file says about it).
inline Network load_model(const std::string& path, const LayerRegistry& registry = layer_registry()) {
    return std::move(load_model_file(path, registry).network);
}

}  // namespace ist
