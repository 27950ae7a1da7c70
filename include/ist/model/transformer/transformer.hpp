#pragma once
// A transformer classifier of token sequences that IST can cut by attention heads, feed-forward
// neurons or whole blocks: token + positional embedding, pre-norm blocks, a final norm, mean
// pooling and a dense head. It models ist::Model, so IstTrainer trains it like any network.
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/plan.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/gather.hpp"
#include "ist/detail/seed.hpp"
#include "ist/model/dense.hpp"
#include "ist/model/layer_norm.hpp"
#include "ist/model/loss.hpp"
#include "ist/model/model.hpp"
#include "ist/model/transformer/block.hpp"
#include "ist/model/transformer/mean_pooling.hpp"
#include "ist/model/transformer/positional_embedding.hpp"
#include "ist/model/transformer/token_embedding.hpp"

namespace ist {

/// Sizes of a Transformer.
struct TransformerShape {
    std::size_t vocabulary = 0;       ///< token ids 0 .. vocabulary - 1 (0 is padding)
    std::size_t sequence_length = 0;  ///< tokens per sequence: the data's columns
    std::size_t positions = 0;        ///< rows of the positional table; 0: sequence_length
    std::size_t width = 128;          ///< the residual stream
    std::size_t heads = 4;            ///< per block; must divide width
    std::size_t ffn = 512;            ///< feed-forward neurons per block
    std::size_t blocks = 2;
    std::size_t classes = 2;
    bool causal = false;
    std::uint64_t seed = 0;
};

/// Dimensions: "tokens" (the input), "width", then per block i "block<i>/heads" (Heads),
/// "block<i>/head_columns" (Derived: a head's columns of Q, K, V and of the output projection)
/// and "block<i>/ffn" (Features), then "blocks" (Units: ResIST deals whole blocks; an absent block
/// is the identity), "vocabulary" (the token embedding's rows: never cut by a partitioner, only
/// by VocabularyCut) and "classes". Norms and the head are held whole by every worker.
class Transformer {
public:
    explicit Transformer(TransformerShape shape)
        : shape_(checked(shape)), embedding_(shape_.vocabulary, shape_.width, detail::derive_seed(shape_.seed, 1)),
          positions_(shape_.positions, shape_.width, detail::derive_seed(shape_.seed, 2)), final_norm_(shape_.width),
          head_(shape_.width, shape_.classes, true, detail::derive_seed(shape_.seed, 3)) {
        for (std::size_t b = 0; b < shape_.blocks; ++b)
            blocks_.emplace_back(BlockShape{shape_.width, shape_.heads, shape_.ffn, shape_.causal},
                                 detail::derive_seed(shape_.seed, 100 + b));
        block_held_.assign(shape_.blocks, true);
        build_tables();
    }

    const TransformerShape& shape() const { return shape_; }
    /// The full table, or for a subnet the same dimensions with the sizes it holds.
    const DimensionTable& dimensions() const { return *dims_; }
    std::size_t parameter_count() const { return parameter_dims_->size(); }
    Parameter& parameter(std::size_t i) { return const_cast<Parameter&>(std::as_const(*this).parameter(i)); }
    const Parameter& parameter(std::size_t i) const;
    std::span<const DimId> parameter_dims(std::size_t i) const { return (*parameter_dims_)[i]; }
    UnitRef parameter_unit(std::size_t i) const {
        if (i < 2 || i >= 2 + blocks_.size() * kBlockParameters) return {};
        return {blocks_dim(), static_cast<std::uint32_t>((i - 2) / kBlockParameters)};
    }
    DimId blocks_dim() const { return static_cast<DimId>(2 + 3 * shape_.blocks); }
    DimId vocabulary_dim() const { return blocks_dim() + 1; }

    Transformer subnet(const WorkerPlan& plan, bool scale_activations = false) const;

    /// Evaluation scale of a block's branches (ResIST's 1/S for a dealt block).
    void set_unit_scale(UnitRef unit, float scale) {
        if (unit.dim == blocks_dim()) blocks_.at(unit.index).set_eval_scale(scale);
    }

    /// Throws DataError for a token id outside the vocabulary anywhere in `data`: the check to run
    /// before training (a forward pass refuses such ids too, but only when it meets them).
    void check_tokens(const Dataset& data) const {
        detail::require<DataError>(data.feature_count() == shape_.sequence_length,
                                   data.name + ": sequences of " + std::to_string(data.feature_count()) +
                                       " tokens, the model takes " + std::to_string(shape_.sequence_length));
        embedding_.check_ids(data.features);
    }

    const Matrix& forward(const Matrix& tokens, Mode mode);
    float loss_and_gradient(const Matrix& tokens, const Labels& labels);

    TransformerBlock& block(std::size_t b) { return blocks_.at(b); }
    const TransformerBlock& block(std::size_t b) const { return blocks_.at(b); }
    float final_norm_eps() const { return final_norm_.eps(); }
    bool holds_block(std::size_t b) const { return block_held_.at(b); }

private:
    static TransformerShape checked(TransformerShape shape);
    void build_tables();
    void set_sequences(const Matrix& tokens);

    TransformerShape shape_;
    std::shared_ptr<const DimensionTable> dims_;  // shared by copies; a subnet's holds its sizes
    std::shared_ptr<const std::vector<std::vector<DimId>>> parameter_dims_;
    TokenEmbedding embedding_;
    PositionalEmbedding positions_;
    std::vector<TransformerBlock> blocks_;
    std::vector<bool> block_held_;  // false: a ResIST subnet without that block (the identity)
    AffineLayerNorm final_norm_;
    MeanPooling pooling_;
    Dense head_;
    SequenceMask mask_;
    std::vector<Matrix> stream_;  // embedded tokens, then each block's output
    Matrix embedded_, normed_, pooled_, logits_, dlogits_, dpooled_, dnormed_, dstream_, dprevious_;
};

inline TransformerShape Transformer::checked(TransformerShape shape) {
    if (shape.positions == 0) shape.positions = shape.sequence_length;
    detail::require(shape.vocabulary > 1 && shape.sequence_length > 0 && shape.blocks > 0 && shape.classes > 1,
                    "Transformer: vocabulary, classes (at least 2), sequence_length and blocks must be positive");
    detail::require(shape.sequence_length <= shape.positions,
                    "Transformer: sequences of " + std::to_string(shape.sequence_length) +
                        " tokens are longer than the positional table (" + std::to_string(shape.positions) + " positions)");
    MultiHeadSelfAttention::check_heads(shape.width, shape.heads);
    return shape;
}

inline void Transformer::build_tables() {
    auto dims = std::make_shared<DimensionTable>();
    auto axes = std::make_shared<std::vector<std::vector<DimId>>>();
    auto add = [&](std::string name, std::size_t size, bool partitionable, DimKind kind) {
        Dimension dim;
        dim.name = std::move(name);
        dim.size = size;
        dim.partitionable = partitionable;
        dim.kind = kind;
        dims->push_back(std::move(dim));
        return static_cast<DimId>(dims->size() - 1);
    };
    add("tokens", shape_.sequence_length, false, DimKind::Features);
    const DimId width = add("width", shape_.width, false, DimKind::Features);
    axes->push_back({vocabulary_dim(), width});  // embedding
    axes->push_back({kWholeAxis, width});  // positions
    for (std::size_t b = 0; b < shape_.blocks; ++b) {
        const std::string name = "block" + std::to_string(b + 1);
        const DimId heads = add(name + "/heads", shape_.heads, true, DimKind::Heads);
        const DimId columns = add(name + "/head_columns", shape_.width, false, DimKind::Derived);
        dims->back().span = shape_.width / shape_.heads;
        dims->back().parent = heads;
        const DimId ffn = add(name + "/ffn", shape_.ffn, true, DimKind::Features);
        axes->insert(axes->end(), {{width}, {width}});  // first norm
        for (int p = 0; p < 3; ++p) axes->insert(axes->end(), {{columns, width}, {columns}});  // Q, K, V
        axes->insert(axes->end(), {{width, columns}, {width}, {width}, {width}});  // output projection, second norm
        axes->insert(axes->end(), {{ffn, width}, {ffn}, {width, ffn}, {width}});  // feed-forward
    }
    add("blocks", shape_.blocks, true, DimKind::Units);
    add("vocabulary", shape_.vocabulary, false, DimKind::Features);
    const DimId classes = add("classes", shape_.classes, false, DimKind::Features);
    axes->insert(axes->end(), {{width}, {width}, {classes, width}, {classes}});  // final norm, head
    dims_ = std::move(dims);
    parameter_dims_ = std::move(axes);
}

inline const Parameter& Transformer::parameter(std::size_t i) const {
    if (i == 0) return embedding_.parameters()[0];
    if (i == 1) return positions_.parameters()[0];
    std::size_t k = i - 2;
    if (k < blocks_.size() * kBlockParameters) return blocks_[k / kBlockParameters].parameters()[k % kBlockParameters];
    k -= blocks_.size() * kBlockParameters;
    detail::require(k < 4, "Transformer::parameter: index " + std::to_string(i) + " past the " +
                               std::to_string(parameter_count()) + " parameters");
    return k < 2 ? final_norm_.parameters()[k] : head_.parameters()[k - 2];
}

inline Transformer Transformer::subnet(const WorkerPlan& given, bool scale_activations) const {
    const DimensionTable& dims = dimensions();
    detail::require(given.dims.size() == dims.size(), "Transformer::subnet: plan has " + std::to_string(given.dims.size()) +
                                                          " dimensions, the model " + std::to_string(dims.size()));
    WorkerPlan plan = given;
    derive_indices(dims, plan);
    Transformer sub = *this;
    auto held = std::make_shared<DimensionTable>(dims);
    for (std::size_t d = 0; d < dims.size(); ++d) (*held)[d].size = plan.held(static_cast<DimId>(d), dims[d].size);
    sub.dims_ = held;
    for (std::size_t i = 0; i < parameter_count(); ++i) {
        Parameter& p = sub.parameter(i);
        const std::vector<DimId>& axes = (*parameter_dims_)[i];
        p.value = detail::slice_for(parameter(i).value, axes, parameter_unit(i), plan);
        if (!plan.holds(parameter_unit(i))) p.grad = p.value;
    }
    if (const IndexSet& rows = plan.dims[static_cast<std::size_t>(vocabulary_dim())])
        sub.embedding_.hold_rows(*rows, shape_.vocabulary);
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
        sub.block_held_[b] = plan.holds({blocks_dim(), static_cast<std::uint32_t>(b)});
        const auto heads = static_cast<std::size_t>(2 + 3 * b), ffn = heads + 2;
        if (scale_activations && sub.block_held_[b])
            sub.blocks_[b].set_branch_scales(static_cast<float>(dims[heads].size) / static_cast<float>((*held)[heads].size),
                                             static_cast<float>(dims[ffn].size) / static_cast<float>((*held)[ffn].size));
    }
    return sub;
}

inline void Transformer::set_sequences(const Matrix& tokens) {
    mask_ = SequenceMask::of_tokens(tokens);
    positions_.set_sequences(mask_);
    for (TransformerBlock& block : blocks_) block.set_sequences(mask_);
    pooling_.set_sequences(mask_);
}

inline const Matrix& Transformer::forward(const Matrix& tokens, Mode mode) {
    set_sequences(tokens);
    embedding_.forward(tokens, embedded_, mode);
    stream_.resize(blocks_.size() + 1);
    positions_.forward(embedded_, stream_[0], mode);
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
        if (block_held_[b]) blocks_[b].forward(stream_[b], stream_[b + 1], mode);
        else stream_[b + 1] = stream_[b];
    }
    final_norm_.forward(stream_.back(), normed_, mode);
    pooling_.forward(normed_, pooled_, mode);
    head_.forward(pooled_, logits_, mode);
    return logits_;
}

inline float Transformer::loss_and_gradient(const Matrix& tokens, const Labels& labels) {
    forward(tokens, Mode::Train);
    const float loss = softmax_cross_entropy(logits_, labels, &dlogits_);
    head_.backward(pooled_, logits_, dlogits_, &dpooled_);
    pooling_.backward(normed_, pooled_, dpooled_, &dnormed_);
    final_norm_.backward(stream_.back(), normed_, dnormed_, &dstream_);
    for (std::size_t b = blocks_.size(); b-- > 0;) {
        if (!block_held_[b]) continue;  // the identity passes the gradient on unchanged
        blocks_[b].backward(stream_[b], stream_[b + 1], dstream_, &dprevious_);
        std::swap(dstream_, dprevious_);
    }
    positions_.backward(embedded_, stream_[0], dstream_, &dprevious_);
    embedding_.backward(tokens, embedded_, dprevious_, nullptr);
    return loss;
}

static_assert(Model<Transformer> && HasParameterUnits<Transformer> && ScalesUnits<Transformer>);

}  // namespace ist
