#pragma once
// Multi-head self-attention over token rows, the part of a transformer IST cuts by heads: a
// worker holds some heads, i.e. their rows of the Q, K, V projections and their columns of the
// output projection.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <string>

#include "ist/core/error.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/detail/random.hpp"
#include "ist/model/layer.hpp"
#include "ist/model/transformer/linear.hpp"
#include "ist/model/transformer/sequence_mask.hpp"

namespace ist {

/// Where each projection sits in an attention's parameter list.
enum AttentionParameter : std::size_t { kQueryWeight, kQueryBias, kKeyWeight, kKeyBias, kValueWeight, kValueBias,
                                        kOutputWeight, kOutputBias, kAttentionParameters };

namespace detail {

/// C (m x n, leading dimension ldc) = alpha * op(A) op(B): a GEMM over one head's columns of
/// one sequence's rows, in place inside the wider Q, K, V matrices.
inline void strided_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, float alpha,
                         const float* a, std::size_t lda, const float* b, std::size_t ldb, float* c, std::size_t ldc) {
    gemm(GemmCall{trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, 0.0f, c, ldc});
}

}  // namespace detail

/// Attention over parameters owned elsewhere (see AttentionParameter), so a transformer block can
/// keep every parameter in one array. The number of heads follows from the projections: a subnet
/// with fewer heads is handed fewer rows of them. `head_width` is the columns of one head.
class AttentionKernel {
public:
    AttentionKernel(std::size_t head_width, bool causal) : head_width_(head_width), causal_(causal) {}

    void set_sequences(const SequenceMask& mask) { mask_ = mask; }
    /// Multiplies the heads' contribution (not the output bias): a subnet holding H' of H heads
    /// may scale by H / H' so that its output matches the full model's in size.
    void set_output_scale(float scale) { output_scale_ = scale; }
    float output_scale() const { return output_scale_; }
    std::size_t head_width() const { return head_width_; }
    bool causal() const { return causal_; }

    void forward(std::span<const Parameter> p, const Matrix& x, Matrix& y) {
        mask_.check_rows("MultiHeadSelfAttention", x.shape()[0]);
        detail::linear_forward(x, p[kQueryWeight], p[kQueryBias], query_);
        detail::linear_forward(x, p[kKeyWeight], p[kKeyBias], key_);
        detail::linear_forward(x, p[kValueWeight], p[kValueBias], value_);
        const std::size_t length = mask_.length, columns = query_.shape()[1], heads = columns / head_width_;
        probabilities_.resize({mask_.sequences() * heads, length * length});
        heads_out_.resize(query_.shape());
        const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(head_width_));
        for (std::size_t b = 0; b < mask_.sequences(); ++b)
            for (std::size_t h = 0; h < heads; ++h) {
                const std::size_t at = b * length * columns + h * head_width_;
                float* probs = &probabilities_(b * heads + h, 0);
                detail::strided_gemm(false, true, length, length, head_width_, inv_sqrt, query_.data() + at, columns,
                                     key_.data() + at, columns, probs, length);
                masked_softmax(probs, b);
                detail::strided_gemm(false, false, length, head_width_, length, 1.0f, probs, length,
                                     value_.data() + at, columns, heads_out_.data() + at, columns);
            }
        detail::linear_forward(heads_out_, p[kOutputWeight], p[kOutputBias], y, output_scale_);
    }

    /// Fills every parameter's grad from dL/dy; writes dL/dx into *dx when given.
    void backward(std::span<Parameter> p, const Matrix& x, const Matrix& dy, Matrix* dx) {
        detail::linear_backward(heads_out_, dy, p[kOutputWeight], p[kOutputBias], &dheads_, output_scale_);
        dquery_.resize(query_.shape());
        dkey_.resize(key_.shape());
        dvalue_.resize(value_.shape());
        const std::size_t length = mask_.length, columns = query_.shape()[1], heads = columns / head_width_;
        const float inv_sqrt = 1.0f / std::sqrt(static_cast<float>(head_width_));
        dscores_.resize({length, length});
        for (std::size_t b = 0; b < mask_.sequences(); ++b)
            for (std::size_t h = 0; h < heads; ++h) {
                const std::size_t at = b * length * columns + h * head_width_;
                const float* probs = &probabilities_(b * heads + h, 0);
                detail::strided_gemm(false, true, length, length, head_width_, 1.0f, dheads_.data() + at, columns,
                                     value_.data() + at, columns, dscores_.data(), length);
                detail::strided_gemm(true, false, length, head_width_, length, 1.0f, probs, length, dheads_.data() + at,
                                     columns, dvalue_.data() + at, columns);
                softmax_backward(probs, dscores_.data());
                detail::strided_gemm(false, false, length, head_width_, length, inv_sqrt, dscores_.data(), length,
                                     key_.data() + at, columns, dquery_.data() + at, columns);
                detail::strided_gemm(true, false, length, head_width_, length, inv_sqrt, dscores_.data(), length,
                                     query_.data() + at, columns, dkey_.data() + at, columns);
            }
        detail::linear_backward(x, dquery_, p[kQueryWeight], p[kQueryBias], dx);
        detail::linear_backward(x, dkey_, p[kKeyWeight], p[kKeyBias], dx, 1.0f, dx != nullptr);
        detail::linear_backward(x, dvalue_, p[kValueWeight], p[kValueBias], dx, 1.0f, dx != nullptr);
    }

private:
    /// Softmax of each query's scores over the keys it may see: real tokens of its sequence (and,
    /// when causal, not after it). A query that may see none attends to nothing (a zero row).
    void masked_softmax(float* scores, std::size_t sequence) const {
        const std::size_t length = mask_.length;
        const std::uint8_t* real = mask_.real.data() + sequence * length;
        for (std::size_t i = 0; i < length; ++i) {
            float* row = scores + i * length;
            const std::size_t visible = causal_ ? i + 1 : length;
            float top = -std::numeric_limits<float>::infinity();
            for (std::size_t k = 0; k < visible; ++k)
                if (real[k]) top = std::max(top, row[k]);
            float sum = 0.0f;
            for (std::size_t k = 0; k < length; ++k) {
                row[k] = k < visible && real[k] ? std::exp(row[k] - top) : 0.0f;
                sum += row[k];
            }
            const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
            for (std::size_t k = 0; k < length; ++k) row[k] *= inv;
        }
    }

    /// dS = P o (dP - rowsum(dP o P)), in place over dP.
    void softmax_backward(const float* probs, float* dprobs) const {
        const std::size_t length = mask_.length;
        for (std::size_t i = 0; i < length; ++i) {
            const float* pr = probs + i * length;
            float* dr = dprobs + i * length;
            float dot = 0.0f;
            for (std::size_t k = 0; k < length; ++k) dot += pr[k] * dr[k];
            for (std::size_t k = 0; k < length; ++k) dr[k] = pr[k] * (dr[k] - dot);
        }
    }

    std::size_t head_width_;
    bool causal_;
    float output_scale_ = 1.0f;
    SequenceMask mask_;
    Matrix query_, key_, value_, probabilities_, heads_out_;
    Matrix dheads_, dquery_, dkey_, dvalue_, dscores_;
};

namespace detail {

/// The eight projections of attention over `width` columns, each U(-1/sqrt(in), 1/sqrt(in)) like
/// PyTorch's Linear, written into params[first .. first + kAttentionParameters).
inline void init_attention(std::span<Parameter> params, std::size_t width, RandomEngine& rng) {
    const char* names[] = {"query_weight", "query_bias", "key_weight", "key_bias",
                           "value_weight", "value_bias", "output_weight", "output_bias"};
    const float bound = 1.0f / std::sqrt(static_cast<float>(width));
    for (std::size_t i = 0; i < kAttentionParameters; ++i) {
        const bool weight = i % 2 == 0, output = i >= kOutputWeight;
        // Head columns: the rows of Q, K, V and their biases, the columns of the output weight.
        std::vector<Axis> axes = weight ? std::vector<Axis>{output ? Axis::Shared : Axis::Out, output ? Axis::In : Axis::Shared}
                                        : std::vector<Axis>{output ? Axis::Shared : Axis::Out};
        params[i] = {names[i], weight ? Tensor::from_shape({width, width}) : Tensor::from_shape({width}), {}, axes};
        fill_uniform(params[i].value, rng, -bound, bound);
    }
}

}  // namespace detail

/// Multi-head self-attention as a layer over token rows (see SequenceMask): width / heads
/// columns a head, scaled dot products, padding keys masked out, optionally causal.
class MultiHeadSelfAttention {
public:
    static constexpr bool opens_dimension = false;

    MultiHeadSelfAttention(std::size_t width, std::size_t heads, bool causal = false, std::uint64_t seed = 0)
        : kernel_(check_heads(width, heads), causal) {
        detail::RandomEngine rng(seed);
        detail::init_attention(params_, width, rng);
    }

    /// Throws ConfigError unless `heads` divides `width`; returns the columns of one head.
    static std::size_t check_heads(std::size_t width, std::size_t heads) {
        detail::require(width > 0 && heads > 0 && width % heads == 0,
                        "MultiHeadSelfAttention: " + std::to_string(heads) + " heads do not divide the width " +
                            std::to_string(width) + " (every head needs the same number of columns)");
        return width / heads;
    }

    void set_sequences(const SequenceMask& mask) { kernel_.set_sequences(mask); }
    void set_output_scale(float scale) { kernel_.set_output_scale(scale); }
    std::size_t heads() const { return params_[kQueryWeight].value.shape()[0] / kernel_.head_width(); }

    void forward(const Matrix& x, Matrix& y, Mode) { kernel_.forward(params_, x, y); }
    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) { kernel_.backward(params_, x, dy, dx); }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

private:
    std::array<Parameter, kAttentionParameters> params_;
    AttentionKernel kernel_;
};

}  // namespace ist
