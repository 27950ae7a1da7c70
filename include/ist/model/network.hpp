#pragma once
// A feed-forward network of layers and residual blocks that knows its dimensions, so IST can cut it.
#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/error.hpp"
#include "ist/detail/gather.hpp"
#include "ist/model/any_layer.hpp"
#include "ist/model/loss.hpp"
#include "ist/partition/plan.hpp"

namespace ist {

namespace detail {
template <class> inline constexpr bool always_false = false;

/// Type-erases a layer, failing at compile time with a readable message for anything else.
template <class L>
AnyLayer make_layer(L&& layer) {
    using T = std::remove_cvref_t<L>;
    if constexpr (Layer<T>) {
        return AnyLayer(T(std::forward<L>(layer)));
    } else {
        static_assert(always_false<T>,
                      "ist::Network::add / ist::Residual::add: this type does not model ist::Layer. It needs "
                      "forward(x, y, mode), backward(x, y, dy, dx), parameters() (const and non-const, returning "
                      "std::span<Parameter>) and a static bool opens_dimension; see ist/model/layer.hpp.");
    }
}
}  // namespace detail

/// A residual block, y = shortcut(x) + branch(x). The shortcut is the identity unless layers are
/// given for it (a projection, for strided or widening blocks). In a Network, consecutive blocks
/// form a section: a Units dimension that ResIST deals to workers. A worker without a block runs
/// its shortcut alone (the identity for plain blocks), so a subnet is a shallower network.
class Residual {
public:
    template <class L>
    Residual& add(L&& layer) {
        branch_.push_back(detail::make_layer(std::forward<L>(layer)));
        return *this;
    }
    template <class L>
    Residual& shortcut(L&& layer) {
        shortcut_.push_back(detail::make_layer(std::forward<L>(layer)));
        return *this;
    }

private:
    friend class Network;
    std::vector<AnyLayer> branch_, shortcut_;
};

/// Sequential model of ist::Layer values and ist::Residual blocks. Dimension 0 is the input;
/// every layer that opens a dimension adds one; the last output dimension is the output. Every
/// Features dimension in between may be cut; each section of residual blocks adds a Units
/// dimension ("section1", "section2", ... in order); a dense layer after image layers sees a
/// Derived view of the channel dimension.
class Network {
public:
    Network() = default;

    /// Appends a layer or a Residual block. A layer that does not fit (widths, geometry) throws
    /// ist::ConfigError and leaves the network as it was.
    template <class L>
    Network& add(L&& layer) {
        if constexpr (std::is_same_v<std::remove_cvref_t<L>, Residual>) {
            all_or_nothing([&] { add_block(Residual(std::forward<L>(layer))); });
        } else {
            AnyLayer erased = detail::make_layer(std::forward<L>(layer));
            all_or_nothing([&] {
                steps_.push_back({layers_.size(), -1});
                if (dims_.empty()) dims_.push_back(named_dim("input", DimKind::Features));
                output_dim_ = append_layer(std::move(erased), output_dim_, std::nullopt, span_, {});
                update_partitionable();
            });
        }
        return *this;
    }

    std::size_t layer_count() const { return layers_.size(); }
    AnyLayer& layer(std::size_t i) { return layers_.at(i); }
    const AnyLayer& layer(std::size_t i) const { return layers_.at(i); }

    const DimensionTable& dimensions() const { return dims_; }
    /// Feature columns of one input row (channels x pixels for image models).
    std::size_t input_size() const { return dims_.empty() ? 0 : dims_.front().size * dims_.front().span; }
    std::size_t output_size() const { return dims_.empty() ? 0 : dims_[static_cast<std::size_t>(output_dim_)].size; }

    std::size_t parameter_count() const { return slots_.size(); }
    Parameter& parameter(std::size_t i) { return layers_[slots_[i].layer].parameters()[slots_[i].index]; }
    const Parameter& parameter(std::size_t i) const {
        return layers_[slots_[i].layer].parameters()[slots_[i].index];
    }
    /// The dimension indexing each axis of parameter i (kSharedDim for uncut axes).
    std::span<const DimId> parameter_dims(std::size_t i) const { return slots_[i].dims; }
    /// The residual block (unit) parameter i belongs to, if any.
    UnitRef parameter_unit(std::size_t i) const { return slots_[i].unit; }
    std::size_t parameter_elements() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < parameter_count(); ++i) n += parameter(i).value.size();
        return n;
    }

    /// The compact network that holds only the indices `plan` gives each dimension; blocks the
    /// plan leaves out become their shortcut. With `scale_activations`, layers that support it
    /// multiply their output by full/held input width.
    Network subnet(const WorkerPlan& given, bool scale_activations = false) const {
        require(given.dims.size() == dims_.size(), "Network::subnet: plan has " + std::to_string(given.dims.size()) +
                                                       " dimensions, the network " + std::to_string(dims_.size()));
        WorkerPlan plan = given;
        derive_indices(dims_, plan);
        Network sub;  // the structure, with layers copied from the parameter-free skeleton
        sub.layers_ = *skeleton_;
        sub.skeleton_ = skeleton_;
        sub.slots_ = slots_;
        sub.layer_dims_ = layer_dims_;
        sub.blocks_ = blocks_;
        sub.steps_ = steps_;
        sub.dims_ = dims_;
        sub.output_dim_ = output_dim_;
        sub.span_ = span_;
        for (std::size_t d = 0; d < dims_.size(); ++d) sub.dims_[d].size = plan.held(static_cast<DimId>(d), dims_[d].size);
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            Parameter& p = sub.parameter(i);
            p.value = detail::slice_for(parameter(i).value, slots_[i].dims, slots_[i].unit, plan);
            if (!plan.holds(slots_[i].unit)) p.grad = p.value;
        }
        for (Block& b : sub.blocks_) b.active = plan.holds(b.unit);
        if (scale_activations)
            for (std::size_t l = 0; l < layers_.size(); ++l) {
                const auto d = static_cast<std::size_t>(layer_dims_[l].first);
                sub.layers_[l].set_input_scale(static_cast<float>(dims_[d].size) / static_cast<float>(sub.dims_[d].size));
            }
        return sub;
    }

    /// Multiplies, in evaluation only, the branch of block `u` by `scale` (ResIST evaluates the
    /// whole network with each partitioned branch scaled by 1/S).
    void set_unit_scale(UnitRef u, float scale) {
        for (Block& b : blocks_)
            if (b.unit.dim == u.dim && b.unit.index == u.index) b.eval_scale = scale;
    }

    /// Tells layers that depend on it (graph layers) which data-set rows the next batch holds.
    void set_batch_rows(std::span<const std::uint32_t> rows) {
        for (AnyLayer& l : layers_) l.set_batch_rows(rows);
    }

    /// Output of the whole network for batch `x` (kept until the next call).
    const Matrix& forward(const Matrix& x, Mode mode) {
        require(!steps_.empty(), "Network::forward: the network has no layers");
        acts_.resize(layers_.size());
        inputs_.assign(layers_.size(), nullptr);
        const Matrix* cur = &x;
        for (const Step& step : steps_)
            cur = step.block < 0 ? &forward_chain(step.layer, step.layer + 1, *cur, mode)
                                 : &forward_block(blocks_[static_cast<std::size_t>(step.block)], *cur, mode);
        return *cur;
    }

    /// Training step half: forward in training mode, softmax cross-entropy, backward. Fills every
    /// Parameter::grad and returns the mean loss of the batch.
    float loss_and_gradient(const Matrix& x, const Labels& labels) {
        const Matrix& logits = forward(x, Mode::Train);
        const float loss = softmax_cross_entropy(logits, labels, &dlogits_);
        step_dx_.resize(steps_.size());
        const Matrix* dy = &dlogits_;
        for (std::size_t k = steps_.size(); k-- > 0;) {
            Matrix* dx = k > 0 ? &step_dx_[k] : nullptr;
            const Step& step = steps_[k];
            if (step.block < 0) backward_chain(step.layer, step.layer + 1, *dy, dx);
            else backward_block(blocks_[static_cast<std::size_t>(step.block)], *dy, dx);
            dy = dx;
        }
        return loss;
    }

private:
    struct Slot {
        std::size_t layer, index;
        std::vector<DimId> dims;
        UnitRef unit;
    };
    /// Layers [shortcut_begin, branch_begin) are the shortcut, [branch_begin, branch_end) the branch.
    struct Block {
        std::size_t shortcut_begin = 0, branch_begin = 0, branch_end = 0;
        UnitRef unit;
        bool active = true;
        float eval_scale = 1.0f;
        Matrix out, dx_branch;  // scratch
    };
    /// One top-level element: layers_[layer], or blocks_[block] when block >= 0.
    struct Step {
        std::size_t layer;
        int block;
    };

    static void require(bool ok, const std::string& msg) { detail::require(ok, msg); }

    /// Runs `change`; if it throws, puts the structure back as it was (strong guarantee).
    template <class F>
    void all_or_nothing(F&& change) {
        const std::size_t layers = layers_.size(), slots = slots_.size(), layer_dims = layer_dims_.size();
        const std::size_t blocks = blocks_.size(), steps = steps_.size();
        const DimensionTable dims = dims_;
        const auto skeleton = skeleton_;
        const DimId output = output_dim_;
        const std::size_t span = span_;
        try {
            change();
        } catch (...) {
            layers_.erase(layers_.begin() + static_cast<std::ptrdiff_t>(layers), layers_.end());
            slots_.resize(slots);
            layer_dims_.resize(layer_dims);
            blocks_.resize(blocks);
            steps_.resize(steps);
            dims_ = dims;
            skeleton_ = skeleton;
            output_dim_ = output;
            span_ = span;
            throw;
        }
    }

    const Matrix& forward_chain(std::size_t begin, std::size_t end, const Matrix& x, Mode mode) {
        const Matrix* cur = &x;
        for (std::size_t l = begin; l < end; ++l) {
            inputs_[l] = cur;
            layers_[l].forward(*cur, acts_[l], mode);
            cur = &acts_[l];
        }
        return *cur;
    }

    /// dy is dL/d(chain output); writes dL/d(chain input) into *dx when dx is given.
    void backward_chain(std::size_t begin, std::size_t end, const Matrix& dy, Matrix* dx) {
        if (begin == end) {
            if (dx) *dx = dy;
            return;
        }
        layer_dx_.resize(layers_.size());
        const Matrix* g = &dy;
        for (std::size_t l = end; l-- > begin;) {
            Matrix* out = l > begin ? &layer_dx_[l] : dx;
            layers_[l].backward(*inputs_[l], acts_[l], *g, out);
            g = out;
        }
    }

    const Matrix& forward_block(Block& b, const Matrix& x, Mode mode) {
        const Matrix& skip = forward_chain(b.shortcut_begin, b.branch_begin, x, mode);
        if (!b.active) return skip;
        const Matrix& branch = forward_chain(b.branch_begin, b.branch_end, x, mode);
        detail::require<DataError>(branch.shape() == skip.shape(),
                                   "Network: a residual block's branch gives " + std::to_string(branch.shape()[1]) +
                                       " columns, its shortcut " + std::to_string(skip.shape()[1]));
        const float scale = mode == Mode::Eval ? b.eval_scale : 1.0f;
        if (b.out.shape() != skip.shape()) b.out.resize(skip.shape());
        const float* s = skip.data();
        const float* r = branch.data();
        float* o = b.out.data();
        for (std::size_t i = 0; i < b.out.size(); ++i) o[i] = s[i] + scale * r[i];
        return b.out;
    }

    // Training forwards are unscaled, so the branch receives dy itself.
    void backward_block(Block& b, const Matrix& dy, Matrix* dx) {
        if (b.active) backward_chain(b.branch_begin, b.branch_end, dy, dx ? &b.dx_branch : nullptr);
        backward_chain(b.shortcut_begin, b.branch_begin, dy, dx);
        if (!dx || !b.active) return;
        float* d = dx->data();
        const float* r = b.dx_branch.data();
        for (std::size_t i = 0; i < dx->size(); ++i) d[i] += r[i];
    }

    static Dimension named_dim(std::string name, DimKind kind) {
        Dimension d;
        d.name = std::move(name);
        d.kind = kind;
        return d;
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

    /// Registers a layer reading dimension `in` with `span` columns per index: maps its axis roles
    /// to dimension ids (its new dimension is `out_override` when given), checks widths and
    /// geometry, updates `span` and returns the output dimension.
    DimId append_layer(AnyLayer layer, DimId in, std::optional<DimId> out_override, std::size_t& span, UnitRef unit) {
        const std::size_t l = layers_.size();
        const std::string where = "Network::add: layer " + std::to_string(l) + " (" + layer.type_name() + ")";
        const bool spatial = layer.input_span() > 0;
        if (spatial && l == 0) dims_.front().span = span = layer.input_span();
        require(!spatial || span == layer.input_span(),
                where + ": expects " + std::to_string(layer.input_span()) + " pixels per channel, the layer before gives " +
                    std::to_string(span));
        DimId out = in;
        if (layer.opens_dimension())
            out = out_override ? *out_override : new_dim(named_dim("hidden" + std::to_string(dims_.size()), DimKind::Features));
        // A dense layer after image layers sees columns, not channels (made on first use only).
        const auto in_view = [&] { return !spatial && span > 1 ? derived_dim(in, span) : in; };
        const auto out_view = [&] { return layer.opens_dimension() ? out : in_view(); };
        auto params = layer.parameters();
        for (std::size_t p = 0; p < params.size(); ++p) {
            const Parameter& param = params[p];
            require(param.axes.size() == param.value.dimension(),
                    where + ": parameter '" + param.name + "' tags " + std::to_string(param.axes.size()) +
                        " axes but has rank " + std::to_string(param.value.dimension()));
            Slot slot{l, p, {}, unit};
            for (std::size_t a = 0; a < param.axes.size(); ++a) {
                const DimId d = param.axes[a] == Axis::In ? in_view() : param.axes[a] == Axis::Out ? out_view() : kSharedDim;
                slot.dims.push_back(d);
                if (d != kSharedDim) claim_extent(d, param.value.shape()[a], where + ": parameter '" + param.name + "'");
            }
            slots_.push_back(std::move(slot));
        }
        require(!layer.opens_dimension() || dims_[static_cast<std::size_t>(out)].size > 0,
                where + ": opens a dimension but no parameter has an Axis::Out axis giving its width");
        span = spatial ? layer.output_span() : layer.opens_dimension() ? 1 : span;
        layer_dims_.emplace_back(in, out);
        AnyLayer empty = layer;
        for (auto& p : empty.parameters()) p.value = Tensor(), p.grad = Tensor();
        auto skeleton = std::make_shared<std::vector<AnyLayer>>(skeleton_ ? *skeleton_ : std::vector<AnyLayer>{});
        skeleton->push_back(std::move(empty));
        skeleton_ = std::move(skeleton);
        layers_.push_back(std::move(layer));
        return out;
    }

    /// Sets the size of dimension d from a parameter's extent, or checks it agrees.
    void claim_extent(DimId d, std::size_t extent, const std::string& what) {
        auto& dim = dims_[static_cast<std::size_t>(d)];
        require(dim.size == 0 || dim.size == extent, what + " has " + std::to_string(extent) + " entries along " +
                                                         dim.name + ", which has " + std::to_string(dim.size));
        dim.size = extent;
    }

    /// A block continues the current section unless it projects (a strided block starts a stage).
    void add_block(Residual block) {
        if (dims_.empty()) dims_.push_back(named_dim("input", DimKind::Features));
        const std::string where = "Network::add: residual block " + std::to_string(blocks_.size());
        require(!block.branch_.empty(), where + ": the branch has no layers");
        const bool projecting = !block.shortcut_.empty();
        const bool continues = !steps_.empty() && steps_.back().block >= 0 && !projecting;
        const DimId section = continues ? blocks_.back().unit.dim
                                        : new_dim(named_dim("section" + std::to_string(section_count() + 1), DimKind::Units));
        Dimension& units = dims_[static_cast<std::size_t>(section)];
        const UnitRef unit{section, static_cast<std::uint32_t>(units.size++)};
        if (projecting) units.projecting.push_back(unit.index);

        Block b;
        b.shortcut_begin = layers_.size();
        b.unit = unit;
        std::size_t skip_span = span_, branch_span = span_;
        DimId out = output_dim_;
        for (AnyLayer& layer : block.shortcut_) out = append_layer(std::move(layer), out, std::nullopt, skip_span, {});
        b.branch_begin = layers_.size();
        std::size_t last_opening = block.branch_.size();
        for (std::size_t j = 0; j < block.branch_.size(); ++j)
            if (block.branch_[j].opens_dimension()) last_opening = j;
        DimId cur = output_dim_;
        for (std::size_t j = 0; j < block.branch_.size(); ++j)
            cur = append_layer(std::move(block.branch_[j]), cur, j == last_opening ? std::optional(out) : std::nullopt,
                               branch_span, unit);
        b.branch_end = layers_.size();
        require(cur == out, where + ": the branch ends in " + dims_[static_cast<std::size_t>(cur)].name +
                                ", the shortcut in " + dims_[static_cast<std::size_t>(out)].name +
                                "; a widening block needs a layer that opens a dimension in both");
        require(branch_span == skip_span, where + ": the branch gives " + std::to_string(branch_span) +
                                              " pixels per channel, the shortcut " + std::to_string(skip_span));
        steps_.push_back({b.shortcut_begin, static_cast<int>(blocks_.size())});
        blocks_.push_back(std::move(b));
        output_dim_ = out;
        span_ = branch_span;
        update_partitionable();
    }

    std::vector<AnyLayer> layers_;
    std::shared_ptr<const std::vector<AnyLayer>> skeleton_;  // layers without parameter values
    std::vector<Slot> slots_;
    std::vector<std::pair<DimId, DimId>> layer_dims_;  // input and output Features dimension per layer
    std::vector<Block> blocks_;
    std::vector<Step> steps_;
    DimensionTable dims_;
    DimId output_dim_ = 0;
    std::size_t span_ = 1;  // columns per index of the current output dimension
    std::vector<const Matrix*> inputs_;  // each layer's input in the last forward pass
    std::vector<Matrix> acts_, layer_dx_, step_dx_;
    Matrix dlogits_;
};

}  // namespace ist
