#pragma once
// The layer types a model file can name: how each is described in architecture.json and rebuilt
// from it. Library layers are registered by ist/model_files/layer_codecs.hpp; a user's own layer type
// registers a LayerCodec to be saved and loaded like them.
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/json.hpp"
#include "ist/model/graph/graph_conv.hpp"
#include "ist/io/npz.hpp"
#include "ist/model/any_layer.hpp"
#include "ist/model_files/sparse_tensor.hpp"

namespace ist {

/// A tensor a layer keeps besides its parameters (BatchNorm's running statistics), by its name
/// within the layer ("running_mean": stored as "<layer>.running_mean").
struct NamedTensor {
    std::string name;
    Tensor value;
};

/// What layers share while a model is written: the graphs GraphConv layers propagate over,
/// each stored once however many layers use it.
class ModelWriteContext {
public:
    /// The name ("graph1", "graph2", ...) of the plain graph `plain` in the file.
    std::string graph_name(const std::shared_ptr<const Graph>& plain) {
        for (const auto& [name, g] : graphs_)
            if (g == plain) return name;
        graphs_.emplace_back("graph" + std::to_string(graphs_.size() + 1), plain);
        return graphs_.back().first;
    }
    const std::vector<std::pair<std::string, std::shared_ptr<const Graph>>>& graphs() const { return graphs_; }

private:
    std::vector<std::pair<std::string, std::shared_ptr<const Graph>>> graphs_;
};

/// What layers share while a model is read: the archive, whose every array must be claimed by
/// exactly one reader (so an extra tensor is an error), and the graphs, each built once.
class ModelReadContext {
public:
    explicit ModelReadContext(const NpzArchive& archive) : archive_(archive) {}

    /// Reads array `name` into `into`, whose shape it must have, or its CSR arrays (a pruned
    /// tensor: model_files/sparse_tensor.hpp). Throws DataError if it is missing, shaped otherwise,
    /// inconsistent or holds a NaN or infinity (a model that would predict nothing).
    void read_tensor(const std::string& name, Tensor& into) {
        if (!archive_.contains(name) && archive_.contains(name + detail::kCsrValues)) {  // stored sparse
            detail::read_csr(archive_, name, into);
            for (const char* part : {detail::kCsrValues, detail::kCsrColumns, detail::kCsrRowOffsets})
                claimed_.insert(name + part);
        } else {
            if (!archive_.contains(name)) throw DataError(archive_.path() + ": missing tensor '" + name + "'");
            archive_.read_into(name, into);
            claimed_.insert(name);
        }
        const float* v = into.data();
        for (std::size_t k = 0; k < into.size(); ++k)
            if (!std::isfinite(v[k]))
                throw DataError(archive_.path() + ": tensor '" + name + "' holds " + (std::isnan(v[k]) ? "NaN" : "an infinity") +
                                " at element " + std::to_string(k));
    }

    /// Array `name` of element type T, any shape.
    template <class T>
    std::vector<T> read_values(const std::string& name) {
        if (!archive_.contains(name)) throw DataError(archive_.path() + ": missing tensor '" + name + "'");
        claimed_.insert(name);
        return archive_.values<T>(name);
    }

    /// The graph stored as `name` (row_offsets and columns of its plain adjacency), with its
    /// normalised adjacency; built on first use and shared by every layer naming it.
    const GcnGraph& graph(const std::string& name) {
        auto it = graphs_.find(name);
        if (it != graphs_.end()) return it->second;
        const auto offsets = read_values<std::uint64_t>(name + ".row_offsets");
        const auto columns = read_values<std::uint32_t>(name + ".columns");
        const std::string where = archive_.path() + "[" + name + "]";
        detail::require<DataError>(offsets.size() >= 2 && offsets.front() == 0 && offsets.back() == columns.size(),
                                   where + ": row_offsets must run from 0 to the number of columns");
        std::vector<std::vector<std::uint32_t>> lists(offsets.size() - 1);
        for (std::size_t i = 0; i + 1 < offsets.size(); ++i) {
            detail::require<DataError>(offsets[i] <= offsets[i + 1], where + ": row_offsets decrease at row " + std::to_string(i));
            lists[i].assign(columns.begin() + static_cast<std::ptrdiff_t>(offsets[i]),
                            columns.begin() + static_cast<std::ptrdiff_t>(offsets[i + 1]));
        }
        return graphs_.emplace(name, GcnGraph(graph_from_neighbour_lists(std::move(lists)))).first->second;
    }

    const std::string& path() const { return archive_.path(); }
    /// The arrays no reader claimed.
    std::vector<std::string> unclaimed(const std::set<std::string>& also_known) const {
        std::vector<std::string> out;
        for (const std::string& name : archive_.names())
            if (!claimed_.count(name) && !also_known.count(name)) out.push_back(name);
        return out;
    }

private:
    const NpzArchive& archive_;
    std::set<std::string> claimed_;
    std::map<std::string, GcnGraph> graphs_;
};

/// How a layer type L is written to and read from a model file:
///  - `type`: its name in architecture.json ("Dense"); `prefix`: of its tensors' names ("dense":
///    the first dense layer's weight is "dense1.weight");
///  - `describe(layer, options, context)` adds the options that rebuild it to a JSON object
///    (widths, flags; not the parameter values, which are stored as tensors);
///  - `build(options, context)` constructs it from them (reading each with options.count /
///    number / flag / text; a key it does not read is refused as unknown);
///  - optionally `state` / `restore`: tensors it keeps besides its parameters.
template <class L>
struct LayerCodec {
    std::string type, prefix;
    std::function<void(const L&, detail::json::Value&, ModelWriteContext&)> describe;
    std::function<L(detail::json::Fields&, ModelReadContext&)> build;
    std::function<std::vector<NamedTensor>(const L&)> state = {};
    std::function<void(L&, std::vector<NamedTensor>)> restore = {};
};

/// A registered layer type, erased.
struct LayerKind {
    std::string type, prefix;
    std::function<bool(const AnyLayer&)> matches;
    std::function<detail::json::Value(const AnyLayer&, ModelWriteContext&)> describe;
    std::function<AnyLayer(detail::json::Fields&, ModelReadContext&)> build;
    std::function<std::vector<NamedTensor>(const AnyLayer&)> state;
    std::function<void(AnyLayer&, std::vector<NamedTensor>)> restore;
};

/// The layer types model files may name. Not synchronised: register before saving or loading.
class LayerRegistry {
public:
    template <class L>
    void add(LayerCodec<L> codec) {
        detail::require(!codec.type.empty() && !codec.prefix.empty() && codec.describe && codec.build,
                        "register_layer: a codec needs a type name, a prefix, describe and build");
        detail::require(!contains(codec.type), "register_layer: a layer type named '" + codec.type + "' is already registered");
        LayerKind kind{codec.type, codec.prefix, [](const AnyLayer& l) { return l.as<L>() != nullptr; }, {}, {}, {}, {}};
        kind.describe = [f = codec.describe](const AnyLayer& l, ModelWriteContext& context) {
            detail::json::Value options = detail::json::Value::object();
            f(*l.as<L>(), options, context);
            return options;
        };
        kind.build = [f = codec.build](detail::json::Fields& options, ModelReadContext& context) {
            return AnyLayer(f(options, context));
        };
        kind.state = [f = codec.state](const AnyLayer& l) { return f ? f(*l.as<L>()) : std::vector<NamedTensor>{}; };
        kind.restore = [f = codec.restore](AnyLayer& l, std::vector<NamedTensor> tensors) {
            if (f) f(*l.as<L>(), std::move(tensors));
        };
        kinds_.push_back(std::move(kind));
    }

    bool contains(const std::string& type) const {
        for (const LayerKind& k : kinds_)
            if (k.type == type) return true;
        return false;
    }

    /// The kind of `layer`; ConfigError (at save time) for an unregistered type.
    const LayerKind& kind_of(const AnyLayer& layer, const std::string& where) const {
        for (const LayerKind& k : kinds_)
            if (k.matches(layer)) return k;
        throw ConfigError(where + ": layer type " + layer.type_name() +
                          " is not registered for model files (ist::register_layer)");
    }

    /// The kind named `type`; DataError (at load time) naming it when none is.
    const LayerKind& kind_named(const std::string& type, const std::string& where) const {
        for (const LayerKind& k : kinds_)
            if (k.type == type) return k;
        throw DataError(where + ": unknown layer type '" + type + "' (a user's layer type must be registered with "
                                "ist::register_layer before loading)");
    }

private:
    std::vector<LayerKind> kinds_;
};

}  // namespace ist
