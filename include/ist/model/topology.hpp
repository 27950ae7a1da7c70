#pragma once
// The structure of a Network without its parameter values, shared by the network and its subnets.
#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/error.hpp"
#include "ist/model/any_layer.hpp"

namespace ist {

/// What a Network knows of its shape: its layers without parameter values, the dimension of every
/// parameter axis, the residual blocks, the order of top-level steps and the dimension table (full
/// sizes). A Network holds it as std::shared_ptr<const Topology>, shared by its copies and subnets;
/// Network::add extends a copy and swaps it in only on success. Each layer's record is shared
/// between copies, so a copy costs pointers, not layer clones.
class Topology {
public:
    /// One layer: its parameter-free skeleton (a subnet's layers start as copies of it), the
    /// Features dimensions it reads and writes, the dimension of each axis of each parameter
    /// (kWholeAxis for uncut axes) and the residual block its parameters belong to.
    struct LayerRecord {
        AnyLayer skeleton;
        DimId in = 0, out = 0;
        UnitRef unit;
        std::vector<std::vector<DimId>> parameter_dims;
    };
    /// Layers [shortcut_begin, branch_begin) are the shortcut, [branch_begin, branch_end) the branch.
    struct Block {
        std::size_t shortcut_begin = 0, branch_begin = 0, branch_end = 0;
        UnitRef unit;
    };
    /// One top-level element: the layer `layer` alone, or the residual block `*block`.
    struct Step {
        std::size_t layer = 0;
        std::optional<std::size_t> block;
    };
    /// Parameter i of the network is parameter `index` of layer `layer`.
    struct Slot {
        std::size_t layer = 0, index = 0;
    };

    std::size_t layer_count() const { return layers_.size(); }
    const LayerRecord& layer(std::size_t l) const { return *layers_.at(l); }
    std::size_t parameter_count() const { return slots_.size(); }
    const Slot& slot(std::size_t i) const { return slots_[i]; }
    const std::vector<DimId>& parameter_dims(std::size_t i) const {
        return layers_[slots_[i].layer]->parameter_dims[slots_[i].index];
    }
    UnitRef parameter_unit(std::size_t i) const { return layers_[slots_[i].layer]->unit; }
    const std::vector<Block>& blocks() const { return blocks_; }
    const std::vector<Step>& steps() const { return steps_; }
    const DimensionTable& dimensions() const { return dims_; }
    DimId output_dim() const { return output_dim_; }

    /// Appends a layer as the next step. Throws ConfigError when it does not fit (widths, geometry).
    void append_layer(const AnyLayer& layer) {
        steps_.push_back({layers_.size(), std::nullopt});
        open_input();
        settle_input_span({&layer, 1});
        output_dim_ = register_layer(layer, output_dim_, std::nullopt, span_, {});
        update_partitionable();
    }

    /// Appends a residual block as the next step. It continues the current section unless it
    /// projects (a strided block starts a stage). Throws ConfigError when it does not fit.
    void append_block(std::span<const AnyLayer> shortcut, std::span<const AnyLayer> branch) {
        open_input();
        settle_input_span(shortcut);
        settle_input_span(branch);
        const std::string where = "Network::add: residual block " + std::to_string(blocks_.size());
        detail::require(!branch.empty(), where + ": the branch has no layers");
        // A shortcut that opens a dimension (a projection) starts a new section; one of shape-keeping
        // layers only (a post-activation block's ReLU, model/resnet/resnet.hpp) continues it.
        const bool projecting =
            std::any_of(shortcut.begin(), shortcut.end(), [](const AnyLayer& l) { return l.opens_dimension(); });
        const bool continues = !steps_.empty() && steps_.back().block && !projecting;
        const DimId section = continues ? blocks_.back().unit.dim
                                        : new_dim(named_dim("section" + std::to_string(section_count() + 1), DimKind::Units));
        Dimension& units = dims_[static_cast<std::size_t>(section)];
        const UnitRef unit{section, static_cast<std::uint32_t>(units.size++)};
        if (projecting) units.projecting.push_back(unit.index);

        Block b{layers_.size(), 0, 0, unit};
        std::size_t skip_span = span_, branch_span = span_;
        DimId out = output_dim_;
        for (const AnyLayer& layer : shortcut) out = register_layer(layer, out, std::nullopt, skip_span, {});
        b.branch_begin = layers_.size();
        // The branch's last widening layer writes the shortcut's output dimension, so both sum.
        std::size_t last_opening = branch.size();
        for (std::size_t j = 0; j < branch.size(); ++j)
            if (branch[j].opens_dimension()) last_opening = j;
        DimId cur = output_dim_;
        for (std::size_t j = 0; j < branch.size(); ++j)
            cur = register_layer(branch[j], cur, j == last_opening ? std::optional(out) : std::nullopt, branch_span, unit);
        b.branch_end = layers_.size();
        detail::require(cur == out, where + ": the branch ends in " + dims_[static_cast<std::size_t>(cur)].name +
                                        ", the shortcut in " + dims_[static_cast<std::size_t>(out)].name +
                                        "; a widening block needs a layer that opens a dimension in both");
        detail::require(branch_span == skip_span, where + ": the branch gives " + std::to_string(branch_span) +
                                                      " pixels per channel, the shortcut " + std::to_string(skip_span));
        steps_.push_back({b.shortcut_begin, blocks_.size()});
        blocks_.push_back(b);
        output_dim_ = out;
        span_ = branch_span;
        update_partitionable();
    }

    /// Takes the sizes of `held` (a subnet's table of this topology): layers added to a subnet
    /// must fit the widths it holds.
    void take_sizes(const DimensionTable& held) {
        for (std::size_t d = 0; d < dims_.size(); ++d) dims_[d].size = held.at(d).size;
    }

private:
    static Dimension named_dim(std::string name, DimKind kind) {
        Dimension d;
        d.name = std::move(name);
        d.kind = kind;
        return d;
    }

    void open_input() {
        if (dims_.empty()) dims_.push_back(named_dim("input", DimKind::Features));
    }

    /// An input row's pixels per channel are known only once a spatial layer reads the input: the
    /// first one on `path` decides them, also behind layers that leave the input as it is
    /// (Standardize, activations, dropout: no parameter along it, no new dimension). When a layer
    /// with parameters (reading the input as plain features) or a new dimension comes first, the
    /// input keeps one column per index and a spatial layer after it is refused.
    void settle_input_span(std::span<const AnyLayer> path) {
        if (input_span_settled_ || output_dim_ != 0 || dims_.front().size > 0) return;
        for (const AnyLayer& layer : path) {
            if (layer.input_span() > 0) {
                dims_.front().span = span_ = layer.input_span();
                input_span_settled_ = true;
                return;
            }
            if (layer.opens_dimension() || !layer.parameters().empty()) return;
        }
    }

    DimId new_dim(Dimension dim) {
        dims_.push_back(std::move(dim));
        return static_cast<DimId>(dims_.size() - 1);
    }

    /// The column view of Features dimension `parent` whose indices span `span` columns each.
    DimId derived_dim(DimId parent, std::size_t span) {
        for (std::size_t d = 0; d < dims_.size(); ++d)
            if (dims_[d].kind == DimKind::Derived && dims_[d].parent == parent && dims_[d].span == span)
                return static_cast<DimId>(d);
        const Dimension& p = dims_[static_cast<std::size_t>(parent)];
        Dimension view = named_dim(p.name + "/columns", DimKind::Derived);
        view.size = p.size * span;
        view.span = span;
        view.parent = parent;
        return new_dim(std::move(view));
    }

    std::size_t section_count() const {
        return static_cast<std::size_t>(
            std::count_if(dims_.begin(), dims_.end(), [](const Dimension& d) { return d.kind == DimKind::Units; }));
    }

    void update_partitionable() {
        for (std::size_t d = 1; d < dims_.size(); ++d) {
            Dimension& dim = dims_[d];
            dim.partitionable = dim.kind == DimKind::Units ||
                                (dim.kind == DimKind::Features && static_cast<DimId>(d) != output_dim_);
        }
    }

    /// Records a layer reading dimension `in` with `span` columns per index: maps its axis roles
    /// to dimension ids (its new dimension is `out_override` when given), checks widths and
    /// geometry, updates `span` and returns the output dimension.
    DimId register_layer(const AnyLayer& layer, DimId in, std::optional<DimId> out_override, std::size_t& span,
                         UnitRef unit) {
        const std::size_t l = layers_.size();
        const std::string where = "Network::add: layer " + std::to_string(l) + " (" + layer.type_name() + ")";
        const bool spatial = layer.input_span() > 0;
        detail::require(!spatial || span == layer.input_span(),
                        where + ": expects " + std::to_string(layer.input_span()) +
                            " pixels per channel, the layer before gives " + std::to_string(span));
        DimId out = in;
        if (layer.opens_dimension())
            out = out_override ? *out_override : new_dim(named_dim("hidden" + std::to_string(dims_.size()), DimKind::Features));
        // A dense layer after image layers sees columns, not channels (made on first use only).
        const auto in_view = [&] { return !spatial && span > 1 ? derived_dim(in, span) : in; };
        const auto out_view = [&] { return layer.opens_dimension() ? out : in_view(); };
        auto record = std::make_shared<LayerRecord>(LayerRecord{skeleton_of(layer), in, out, unit, {}});
        const auto params = layer.parameters();
        for (std::size_t p = 0; p < params.size(); ++p) {
            const Parameter& param = params[p];
            detail::require(param.axes.size() == param.value.dimension(),
                            where + ": parameter '" + param.name + "' tags " + std::to_string(param.axes.size()) +
                                " axes but has rank " + std::to_string(param.value.dimension()));
            std::vector<DimId>& dims = record->parameter_dims.emplace_back();
            for (std::size_t a = 0; a < param.axes.size(); ++a) {
                const DimId d = param.axes[a] == Axis::In ? in_view() : param.axes[a] == Axis::Out ? out_view() : kWholeAxis;
                dims.push_back(d);
                if (d != kWholeAxis) claim_extent(d, param.value.shape()[a], where + ": parameter '" + param.name + "'");
            }
            slots_.push_back({l, p});
        }
        detail::require(!layer.opens_dimension() || dims_[static_cast<std::size_t>(out)].size > 0,
                        where + ": opens a dimension but no parameter has an Axis::Out axis giving its width");
        span = spatial ? layer.output_span() : layer.opens_dimension() ? 1 : span;
        layers_.push_back(std::move(record));
        return out;
    }

    static AnyLayer skeleton_of(const AnyLayer& layer) {
        AnyLayer empty = layer;
        for (auto& p : empty.parameters()) p.value = Tensor(), p.grad = Tensor();
        return empty;
    }

    /// Sets the size of dimension d from a parameter's extent, or checks it agrees.
    void claim_extent(DimId d, std::size_t extent, const std::string& what) {
        auto& dim = dims_[static_cast<std::size_t>(d)];
        detail::require(dim.size == 0 || dim.size == extent, what + " has " + std::to_string(extent) + " entries along " +
                                                                 dim.name + ", which has " + std::to_string(dim.size));
        dim.size = extent;
    }

    std::vector<std::shared_ptr<const LayerRecord>> layers_;  // shared between copies: never modified
    std::vector<Slot> slots_;
    std::vector<Block> blocks_;
    std::vector<Step> steps_;
    DimensionTable dims_;
    DimId output_dim_ = 0;
    std::size_t span_ = 1;  // columns per index of the current output dimension
    bool input_span_settled_ = false;  // a spatial layer has read the input (settle_input_span)
};

}  // namespace ist
