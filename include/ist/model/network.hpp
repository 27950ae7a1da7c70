#pragma once
// A feed-forward network of layers and residual blocks that knows its dimensions, so IST can cut it.
#include <algorithm>
#include <iterator>
#include <memory>
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
#include "ist/model/resnet/residual.hpp"
#include "ist/model/topology.hpp"
#include "ist/core/plan.hpp"

namespace ist {

/// Sequential model of ist::Layer values and ist::Residual blocks. Dimension 0 is the input;
/// every layer that opens a dimension adds one; the last output dimension is the output. Every
/// Features dimension in between may be cut; each section of residual blocks adds a Units
/// dimension ("section1", "section2", ... in order); a dense layer after image layers sees a
/// Derived view of the channel dimension.
/// The structure is an immutable Topology shared by copies and subnets; a network owns only its
/// layers' values, the sizes a subnet holds, each block's state and forward/backward scratch.
class Network {
public:
    Network() = default;

    /// Appends a layer or a Residual block. A layer that does not fit (widths, geometry) throws
    /// ist::ConfigError and leaves the network as it was.
    template <class L>
    Network& add(L&& layer) {
        // The extended topology is built aside and swapped in only once it is complete.
        std::shared_ptr<Topology> next = extendable_topology();
        std::vector<AnyLayer> fresh;
        if constexpr (std::is_same_v<std::remove_cvref_t<L>, Residual>) {
            Residual block(std::forward<L>(layer));
            next->append_block(block.shortcut_, block.branch_);
            fresh = std::move(block.shortcut_);
            std::move(block.branch_.begin(), block.branch_.end(), std::back_inserter(fresh));
        } else {
            fresh.push_back(detail::make_layer(std::forward<L>(layer)));
            next->append_layer(fresh.front());
        }
        adopt(std::move(next), fresh);
        return *this;
    }

    std::size_t layer_count() const { return layers_.size(); }
    AnyLayer& layer(std::size_t i) { return layers_.at(i); }
    const AnyLayer& layer(std::size_t i) const { return layers_.at(i); }

    /// The structure, shared with this network's copies and subnets (null while it has no layers).
    const std::shared_ptr<const Topology>& topology() const { return topology_; }

    /// The full table, or for a subnet the same dimensions with the sizes it holds.
    const DimensionTable& dimensions() const { return held_dims_ ? *held_dims_ : structure().dimensions(); }
    /// Feature columns of one input row (channels x pixels for image models).
    std::size_t input_size() const {
        const DimensionTable& dims = dimensions();
        return dims.empty() ? 0 : dims.front().size * dims.front().span;
    }
    std::size_t output_size() const {
        const DimensionTable& dims = dimensions();
        return dims.empty() ? 0 : dims[static_cast<std::size_t>(structure().output_dim())].size;
    }

    std::size_t parameter_count() const { return structure().parameter_count(); }
    Parameter& parameter(std::size_t i) {
        const Topology::Slot& slot = structure().slot(i);
        return layers_[slot.layer].parameters()[slot.index];
    }
    const Parameter& parameter(std::size_t i) const {
        const Topology::Slot& slot = structure().slot(i);
        return layers_[slot.layer].parameters()[slot.index];
    }
    /// The dimension indexing each axis of parameter i (kWholeAxis for uncut axes).
    std::span<const DimId> parameter_dims(std::size_t i) const { return structure().parameter_dims(i); }
    /// The residual block (unit) parameter i belongs to, if any.
    UnitRef parameter_unit(std::size_t i) const { return structure().parameter_unit(i); }
    std::size_t parameter_elements() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < parameter_count(); ++i) n += parameter(i).value.size();
        return n;
    }

    /// The compact network that holds only the indices `plan` gives each dimension; blocks the
    /// plan leaves out become their shortcut. With `scale_activations`, layers that support it
    /// multiply their output by full/held input width. It shares this network's topology.
    Network subnet(const WorkerPlan& given, bool scale_activations = false) const {
        const DimensionTable& dims = dimensions();
        require(given.dims.size() == dims.size(), "Network::subnet: plan has " + std::to_string(given.dims.size()) +
                                                      " dimensions, the network " + std::to_string(dims.size()));
        WorkerPlan plan = given;
        derive_indices(dims, plan);
        Network sub(topology_);
        auto held = std::make_shared<DimensionTable>(dims);
        for (std::size_t d = 0; d < dims.size(); ++d) (*held)[d].size = plan.held(static_cast<DimId>(d), dims[d].size);
        sub.held_dims_ = held;
        sub.layers_.reserve(layers_.size());
        for (std::size_t l = 0; l < layers_.size(); ++l) sub.layers_.push_back(structure().layer(l).skeleton);
        for (std::size_t i = 0; i < parameter_count(); ++i) {
            Parameter& p = sub.parameter(i);
            p.value = detail::slice_for(parameter(i).value, structure().parameter_dims(i), parameter_unit(i), plan);
            if (!plan.holds(parameter_unit(i))) p.grad = p.value;
        }
        sub.blocks_ = blocks_;
        for (std::size_t b = 0; b < blocks_.size(); ++b) sub.blocks_[b].active = plan.holds(structure().blocks()[b].unit);
        if (scale_activations)
            for (std::size_t l = 0; l < layers_.size(); ++l) {
                const auto d = static_cast<std::size_t>(structure().layer(l).in);
                sub.layers_[l].set_input_scale(static_cast<float>(dims[d].size) / static_cast<float>((*held)[d].size));
            }
        return sub;
    }

    /// Multiplies, in evaluation only, the branch of block `u` by `scale` (ResIST evaluates the
    /// whole network with each partitioned branch scaled by 1/S).
    void set_unit_scale(UnitRef u, float scale) {
        const auto& blocks = structure().blocks();
        for (std::size_t b = 0; b < blocks.size(); ++b)
            if (blocks[b].unit.dim == u.dim && blocks[b].unit.index == u.index) blocks_[b].eval_scale = scale;
    }

    /// Whether residual block `b` (in Topology::blocks() order) runs its branch (a ResIST subnet
    /// without the block runs its shortcut alone), and the scale of that branch in evaluation.
    bool block_active(std::size_t b) const { return blocks_.at(b).active; }
    float block_eval_scale(std::size_t b) const { return blocks_.at(b).eval_scale; }

    /// Tells layers that depend on it (graph layers) which data-set rows the next batch holds.
    void set_batch_rows(std::span<const std::uint32_t> rows) {
        for (AnyLayer& l : layers_) l.set_batch_rows(rows);
    }

    /// Output of the whole network for batch `x` (kept until the next call).
    const Matrix& forward(const Matrix& x, Mode mode) {
        const auto& steps = structure().steps();
        require(!steps.empty(), "Network::forward: the network has no layers");
        acts_.resize(layers_.size());
        inputs_.assign(layers_.size(), nullptr);
        block_out_.resize(blocks_.size());
        const Matrix* cur = &x;
        for (const Topology::Step& step : steps)
            cur = step.block ? &forward_block(*step.block, *cur, mode) : &forward_chain(step.layer, step.layer + 1, *cur, mode);
        return *cur;
    }

    /// The input layer `l` received in the last forward pass (valid until the next one).
    const Matrix& layer_input(std::size_t l) const {
        require(l < inputs_.size() && inputs_[l] != nullptr,
                "Network::layer_input: layer " + std::to_string(l) + " ran in no forward pass");
        return *inputs_[l];
    }

    /// Training step half: forward in training mode, softmax cross-entropy, backward. Fills every
    /// Parameter::grad and returns the mean loss of the batch.
    float loss_and_gradient(const Matrix& x, const Labels& labels) {
        const Matrix& logits = forward(x, Mode::Train);
        const float loss = softmax_cross_entropy(logits, labels, &dlogits_);
        const auto& steps = structure().steps();
        step_dx_.resize(steps.size());
        block_dx_.resize(blocks_.size());
        const Matrix* dy = &dlogits_;
        for (std::size_t k = steps.size(); k-- > 0;) {
            Matrix* dx = k > 0 ? &step_dx_[k] : nullptr;
            const Topology::Step& step = steps[k];
            if (step.block) backward_block(*step.block, *dy, dx);
            else backward_chain(step.layer, step.layer + 1, *dy, dx);
            dy = dx;
        }
        return loss;
    }

private:
    /// What a network holds of each residual block beyond the shared topology.
    struct BlockState {
        bool active = true;
        float eval_scale = 1.0f;
    };

    explicit Network(std::shared_ptr<const Topology> topology) : topology_(std::move(topology)) {}

    /// The topology, an empty one before the first add (or after a move).
    const Topology& structure() const {
        if (topology_) return *topology_;
        static const Topology empty;
        return empty;
    }

    static void require(bool ok, const std::string& msg) { detail::require(ok, msg); }

    /// A copy of the topology for `add` to extend, over the widths this network holds.
    std::shared_ptr<Topology> extendable_topology() const {
        auto next = std::make_shared<Topology>(structure());
        if (held_dims_) next->take_sizes(*held_dims_);
        return next;
    }

    /// Swaps in the extended topology `next` and its new layers. Room is made first, so nothing
    /// throws once the network starts changing: a failed add leaves it as it was.
    void adopt(std::shared_ptr<const Topology> next, std::vector<AnyLayer>& fresh) {
        make_room(layers_, fresh.size());
        make_room(blocks_, next->blocks().size() - blocks_.size());
        for (AnyLayer& l : fresh) layers_.push_back(std::move(l));
        blocks_.resize(next->blocks().size());
        topology_ = std::move(next);
        held_dims_.reset();
    }

    /// Reserves room for `extra` more elements, growing geometrically so appends stay amortised O(1).
    template <class T>
    static void make_room(std::vector<T>& v, std::size_t extra) {
        const std::size_t needed = v.size() + extra;
        if (needed > v.capacity()) v.reserve(std::max(needed, 2 * v.capacity()));
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

    const Matrix& forward_block(std::size_t b, const Matrix& x, Mode mode) {
        const Topology::Block& block = structure().blocks()[b];
        const Matrix& skip = forward_chain(block.shortcut_begin, block.branch_begin, x, mode);
        if (!blocks_[b].active) return skip;
        const Matrix& branch = forward_chain(block.branch_begin, block.branch_end, x, mode);
        detail::require<DataError>(branch.shape() == skip.shape(),
                                   "Network: a residual block's branch gives " + std::to_string(branch.shape()[1]) +
                                       " columns, its shortcut " + std::to_string(skip.shape()[1]));
        const float scale = mode == Mode::Eval ? blocks_[b].eval_scale : 1.0f;
        Matrix& out = block_out_[b];
        if (out.shape() != skip.shape()) out.resize(skip.shape());
        const float* s = skip.data();
        const float* r = branch.data();
        float* o = out.data();
        for (std::size_t i = 0; i < out.size(); ++i) o[i] = s[i] + scale * r[i];
        return out;
    }

    // Training forwards are unscaled, so the branch receives dy itself.
    void backward_block(std::size_t b, const Matrix& dy, Matrix* dx) {
        const Topology::Block& block = structure().blocks()[b];
        const bool active = blocks_[b].active;
        if (active) backward_chain(block.branch_begin, block.branch_end, dy, dx ? &block_dx_[b] : nullptr);
        backward_chain(block.shortcut_begin, block.branch_begin, dy, dx);
        if (!dx || !active) return;
        float* d = dx->data();
        const float* r = block_dx_[b].data();
        for (std::size_t i = 0; i < dx->size(); ++i) d[i] += r[i];
    }

    std::shared_ptr<const Topology> topology_;  // null: no layers yet
    std::shared_ptr<const DimensionTable> held_dims_;  // a subnet's sizes; null: the topology's full table
    std::vector<AnyLayer> layers_;  // with parameter values
    std::vector<BlockState> blocks_;
    std::vector<const Matrix*> inputs_;  // each layer's input in the last forward pass
    std::vector<Matrix> acts_, layer_dx_, step_dx_, block_out_, block_dx_;
    Matrix dlogits_;
};

}  // namespace ist
