#pragma once
// The pre-norm transformer block: x + attention(LN(x)), then + FFN(LN(.)), both residual.
#include <array>
#include <span>
#include <string>

#include "ist/detail/random.hpp"
#include "ist/model/layer.hpp"
#include "ist/model/layer_norm.hpp"
#include "ist/model/transformer/attention.hpp"
#include "ist/model/transformer/gelu.hpp"
#include "ist/model/transformer/linear.hpp"

namespace ist {

/// Where each parameter sits in a block's list: the first norm, attention's eight
/// (AttentionParameter order), the second norm, the feed-forward part.
enum BlockParameter : std::size_t {
    kNorm1Gain, kNorm1Bias,
    kAttentionFirst, kAttentionLast = kAttentionFirst + kAttentionParameters - 1,
    kNorm2Gain, kNorm2Bias, kHiddenWeight, kHiddenBias, kFfnOutputWeight, kFfnOutputBias, kBlockParameters
};

/// Sizes of a transformer block.
struct BlockShape {
    std::size_t width = 0;  ///< the residual stream (model width)
    std::size_t heads = 0;  ///< must divide width
    std::size_t ffn = 0;    ///< hidden neurons of the feed-forward part
    bool causal = false;
};

/// y = h + W2 GELU(W1 LN2(h) + b1) + b2 with h = x + attention(LN1(x)), over token rows (see
/// SequenceMask). IST cuts its heads (whole heads: rows of Q, K, V, columns of the output
/// projection) and its feed-forward neurons (rows of W1, b1, columns of W2); a subnet holding
/// fewer of them is handed fewer rows / columns. The norms and both output biases stay whole.
class TransformerBlock {
public:
    static constexpr bool opens_dimension = false;

    TransformerBlock(BlockShape shape, std::uint64_t seed = 0)
        : attention_(MultiHeadSelfAttention::check_heads(shape.width, shape.heads), shape.causal) {
        detail::require(shape.ffn > 0, "TransformerBlock: the feed-forward part needs at least one neuron");
        detail::RandomEngine rng(seed);
        for (std::size_t norm : {kNorm1Gain, kNorm2Gain}) {
            params_[norm] = {norm == kNorm1Gain ? "norm1_gain" : "norm2_gain", Tensor::from_shape({shape.width}), {}, {Axis::Shared}};
            params_[norm + 1] = {norm == kNorm1Gain ? "norm1_bias" : "norm2_bias", Tensor::from_shape({shape.width}), {}, {Axis::Shared}};
            params_[norm].value.fill(1.0f);
            params_[norm + 1].value.fill(0.0f);
        }
        detail::init_attention(attention_parameters(), shape.width, rng);
        init_linear(kHiddenWeight, "hidden", shape.ffn, shape.width, {Axis::Out, Axis::Shared}, rng);
        init_linear(kFfnOutputWeight, "ffn_output", shape.width, shape.ffn, {Axis::Shared, Axis::In}, rng);
    }

    void set_sequences(const SequenceMask& mask) { attention_.set_sequences(mask); }
    /// Subnet scales (full / held) for the heads' sum and the feed-forward output, so a subnet's
    /// branches match the full model's in size (activation scaling).
    void set_branch_scales(float heads, float ffn) {
        attention_.set_output_scale(heads);
        ffn_scale_ = ffn;
    }
    float head_scale() const { return attention_.output_scale(); }
    float ffn_scale() const { return ffn_scale_; }
    std::size_t head_width() const { return attention_.head_width(); }

    /// Multiplies both branches in evaluation only: the full model evaluates a block that ResIST
    /// dealt to some of the subnets with its branches scaled by the share that trained it.
    void set_eval_scale(float scale) { eval_scale_ = scale; }
    float eval_scale() const { return eval_scale_; }
    /// The eps of both norms (built alike).
    float norm_eps() const { return norm1_.eps(); }

    void forward(const Matrix& x, Matrix& y, Mode mode) {
        const float scale = mode == Mode::Eval ? eval_scale_ : 1.0f;
        norm1_.forward(params_[kNorm1Gain], params_[kNorm1Bias], x, normed1_);
        attention_.forward(attention_parameters(), normed1_, attended_);
        add(x, attended_, after_attention_, scale);
        norm2_.forward(params_[kNorm2Gain], params_[kNorm2Bias], after_attention_, normed2_);
        detail::linear_forward(normed2_, params_[kHiddenWeight], params_[kHiddenBias], hidden_);
        detail::gelu(hidden_, activated_);
        detail::linear_forward(activated_, params_[kFfnOutputWeight], params_[kFfnOutputBias], ffn_out_, ffn_scale_);
        add(after_attention_, ffn_out_, y, scale);
    }

    void backward(const Matrix&, const Matrix&, const Matrix& dy, Matrix* dx) {
        detail::linear_backward(activated_, dy, params_[kFfnOutputWeight], params_[kFfnOutputBias], &dactivated_, ffn_scale_);
        detail::gelu_backward(hidden_, dactivated_, dhidden_);
        detail::linear_backward(normed2_, dhidden_, params_[kHiddenWeight], params_[kHiddenBias], &dnormed_);
        norm2_.backward(params_[kNorm2Gain], params_[kNorm2Bias], dnormed_, &dstream_);
        add(dy, dstream_, dstream_);  // the residual path around the feed-forward part
        attention_.backward(attention_parameters(), normed1_, dstream_, &dnormed_);
        norm1_.backward(params_[kNorm1Gain], params_[kNorm1Bias], dnormed_, dx);
        if (dx) add(dstream_, *dx, *dx);  // the residual path around attention
    }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

private:
    std::span<Parameter> attention_parameters() { return std::span(params_).subspan(kAttentionFirst, kAttentionParameters); }

    void init_linear(std::size_t at, const std::string& name, std::size_t out, std::size_t in, std::vector<Axis> axes,
                     detail::RandomEngine& rng) {
        const float bound = 1.0f / std::sqrt(static_cast<float>(in));
        params_[at] = {name + "_weight", Tensor::from_shape({out, in}), {}, axes};
        params_[at + 1] = {name + "_bias", Tensor::from_shape({out}), {}, {axes.front()}};
        detail::fill_uniform(params_[at].value, rng, -bound, bound);
        detail::fill_uniform(params_[at + 1].value, rng, -bound, bound);
    }

    /// out = a + scale * b (out may alias either).
    static void add(const Matrix& a, const Matrix& b, Matrix& out, float scale = 1.0f) {
        if (out.shape() != a.shape()) out.resize(a.shape());
        const float* pa = a.data();
        const float* pb = b.data();
        float* po = out.data();
        for (std::size_t i = 0; i < a.size(); ++i) po[i] = pa[i] + scale * pb[i];
    }

    std::array<Parameter, kBlockParameters> params_;
    AffineLayerNormKernel norm1_, norm2_;
    AttentionKernel attention_;
    float ffn_scale_ = 1.0f, eval_scale_ = 1.0f;
    Matrix normed1_, attended_, after_attention_, normed2_, hidden_, activated_, ffn_out_;
    Matrix dactivated_, dhidden_, dnormed_, dstream_;
};

}  // namespace ist
