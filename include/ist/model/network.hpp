#pragma once
// A feed-forward chain of layers that knows its feature dimensions, so IST can cut it.
#include <memory>
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
}

/// Sequential model of ist::Layer values. Dimension 0 is the input; every layer that opens a
/// dimension adds one; the last layer's output dimension is the output. Input and output are
/// never partitioned, every dimension in between is.
class Network {
public:
    Network() = default;

    template <class L>
    Network& add(L&& layer) {
        using T = std::remove_cvref_t<L>;
        if constexpr (Layer<T>) {
            append(AnyLayer(T(std::forward<L>(layer))));
        } else {
            static_assert(detail::always_false<T>,
                          "ist::Network::add: this type does not model ist::Layer. It needs forward(x, y, mode), "
                          "backward(x, y, dy, dx), parameters() (const and non-const, returning "
                          "std::span<Parameter>) and a static bool opens_dimension; see ist/model/layer.hpp.");
        }
        return *this;
    }

    std::size_t layer_count() const { return layers_.size(); }
    AnyLayer& layer(std::size_t i) { return layers_.at(i); }
    const AnyLayer& layer(std::size_t i) const { return layers_.at(i); }

    const DimensionTable& dimensions() const { return dims_; }
    std::size_t input_size() const { return dims_.empty() ? 0 : dims_.front().size; }
    std::size_t output_size() const { return dims_.empty() ? 0 : dims_[output_dim()].size; }

    std::size_t parameter_count() const { return slots_.size(); }
    Parameter& parameter(std::size_t i) { return layers_[slots_[i].layer].parameters()[slots_[i].index]; }
    const Parameter& parameter(std::size_t i) const {
        return layers_[slots_[i].layer].parameters()[slots_[i].index];
    }
    /// The dimension indexing each axis of parameter i (kSharedDim for uncut axes).
    std::span<const DimId> parameter_dims(std::size_t i) const { return slots_[i].dims; }
    std::size_t parameter_elements() const {
        std::size_t n = 0;
        for (std::size_t i = 0; i < parameter_count(); ++i) n += parameter(i).value.size();
        return n;
    }

    /// The compact network that holds only the indices `plan` gives each dimension. With
    /// `scale_activations`, layers that support it multiply their output by full/held input width.
    Network subnet(const WorkerPlan& plan, bool scale_activations = false) const {
        require(plan.dims.size() == dims_.size(), "Network::subnet: plan has " + std::to_string(plan.dims.size()) +
                                                      " dimensions, the network " + std::to_string(dims_.size()));
        Network sub;
        sub.layers_ = *skeleton_;
        sub.skeleton_ = skeleton_;
        sub.slots_ = slots_;
        sub.layer_dims_ = layer_dims_;
        sub.dims_ = dims_;
        for (std::size_t d = 0; d < dims_.size(); ++d) sub.dims_[d].size = plan.held(static_cast<DimId>(d), dims_[d].size);
        for (std::size_t i = 0; i < slots_.size(); ++i)
            sub.parameter(i).value = detail::gather(parameter(i).value, detail::select_axes(slots_[i].dims, plan));
        if (scale_activations)
            for (std::size_t l = 0; l < layers_.size(); ++l) {
                const auto d = static_cast<std::size_t>(layer_dims_[l].first);
                sub.layers_[l].set_input_scale(static_cast<float>(dims_[d].size) / static_cast<float>(sub.dims_[d].size));
            }
        return sub;
    }

    /// Output of the whole chain for batch `x` (kept until the next call).
    const Matrix& forward(const Matrix& x, Mode mode) {
        require(!layers_.empty(), "Network::forward: the network has no layers");
        acts_.resize(layers_.size());
        input_ = &x;
        for (std::size_t l = 0; l < layers_.size(); ++l) layers_[l].forward(layer_input(l), acts_[l], mode);
        return acts_.back();
    }

    /// Training step half: forward in training mode, softmax cross-entropy, backward. Fills every
    /// Parameter::grad and returns the mean loss of the batch.
    float loss_and_gradient(const Matrix& x, const Labels& labels) {
        const Matrix& logits = forward(x, Mode::Train);
        grads_.resize(layers_.size());
        const float loss = softmax_cross_entropy(logits, labels, &grads_.back());
        for (std::size_t l = layers_.size(); l-- > 0;)
            layers_[l].backward(layer_input(l), acts_[l], grads_[l], l > 0 ? &grads_[l - 1] : nullptr);
        return loss;
    }

private:
    struct Slot {
        std::size_t layer, index;
        std::vector<DimId> dims;
    };

    static void require(bool ok, const std::string& msg) { detail::require(ok, msg); }
    DimId output_dim() const { return layer_dims_.empty() ? 0 : layer_dims_.back().second; }
    const Matrix& layer_input(std::size_t l) const { return l == 0 ? *input_ : acts_[l - 1]; }

    /// Registers a layer: maps its axis roles to dimension ids and checks widths agree.
    void append(AnyLayer layer) {
        const std::size_t l = layers_.size();
        const std::string where = "Network::add: layer " + std::to_string(l) + " (" + layer.type_name() + ")";
        if (dims_.empty()) dims_.push_back({"input", 0, false});
        const DimId in = output_dim();
        DimId out = in;
        if (layer.opens_dimension()) {
            out = static_cast<DimId>(dims_.size());
            dims_.push_back({"hidden" + std::to_string(out), 0, false});
        }
        auto params = layer.parameters();
        for (std::size_t p = 0; p < params.size(); ++p) {
            const Parameter& param = params[p];
            require(param.axes.size() == param.value.dimension(),
                    where + ": parameter '" + param.name + "' tags " + std::to_string(param.axes.size()) +
                        " axes but has rank " + std::to_string(param.value.dimension()));
            Slot slot{l, p, {}};
            for (std::size_t a = 0; a < param.axes.size(); ++a) {
                const DimId d = param.axes[a] == Axis::In ? in : param.axes[a] == Axis::Out ? out : kSharedDim;
                slot.dims.push_back(d);
                if (d == kSharedDim) continue;
                auto& dim = dims_[static_cast<std::size_t>(d)];
                const std::size_t extent = param.value.shape()[a];
                require(dim.size == 0 || dim.size == extent,
                        where + ": parameter '" + param.name + "' has " + std::to_string(extent) +
                            " entries along " + dim.name + ", which has " + std::to_string(dim.size));
                dim.size = extent;
            }
            slots_.push_back(std::move(slot));
        }
        require(!layer.opens_dimension() || dims_[static_cast<std::size_t>(out)].size > 0,
                where + ": opens a dimension but no parameter has an Axis::Out axis giving its width");
        layer_dims_.emplace_back(in, out);
        // Everything strictly between the input and the current output may be cut.
        for (std::size_t d = 1; d < dims_.size(); ++d) dims_[d].partitionable = static_cast<DimId>(d) != out;
        AnyLayer empty = layer;
        for (auto& p : empty.parameters()) p.value = Tensor(), p.grad = Tensor();
        auto skeleton = std::make_shared<std::vector<AnyLayer>>(skeleton_ ? *skeleton_ : std::vector<AnyLayer>{});
        skeleton->push_back(std::move(empty));
        skeleton_ = std::move(skeleton);
        layers_.push_back(std::move(layer));
    }

    std::vector<AnyLayer> layers_;
    std::shared_ptr<const std::vector<AnyLayer>> skeleton_;  // layers without parameter values
    std::vector<Slot> slots_;
    std::vector<std::pair<DimId, DimId>> layer_dims_;
    DimensionTable dims_;
    const Matrix* input_ = nullptr;
    std::vector<Matrix> acts_, grads_;
};

}  // namespace ist
