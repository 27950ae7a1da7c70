#pragma once
// Learned positional embedding: adds a trained row per position to every token row.
#include <array>
#include <string>

#include "ist/core/error.hpp"
#include "ist/model/layer.hpp"
#include "ist/model/transformer/embedding_table.hpp"
#include "ist/model/transformer/sequence_mask.hpp"

namespace ist {

/// y[b * T + t] = x[b * T + t] + table[t] over token rows (see SequenceMask). The table holds
/// `positions` rows of `width`, N(0, 0.02) at first (GPT-2's initialisation); a batch whose
/// sequences are longer than the table is refused.
class PositionalEmbedding {
public:
    static constexpr bool opens_dimension = false;

    PositionalEmbedding(std::size_t positions, std::size_t width, std::uint64_t seed = 0)
        : params_{detail::gaussian_table("PositionalEmbedding", "positions", "positions", positions, width, 0.02, seed)} {}

    std::size_t positions() const { return params_[0].value.shape()[0]; }

    void set_sequences(const SequenceMask& mask) {
        detail::require<DataError>(mask.length <= positions(),
                                   "PositionalEmbedding: sequences of " + std::to_string(mask.length) +
                                       " tokens are longer than the positional table (" + std::to_string(positions()) +
                                       " positions)");
        length_ = mask.length;
    }

    void forward(const Matrix& x, Matrix& y, Mode) {
        const std::size_t d = params_[0].value.shape()[1];
        detail::require<DataError>(length_ > 0 && x.shape()[0] % length_ == 0 && x.shape()[1] == d,
                                   "PositionalEmbedding: the input is not rows of " + std::to_string(length_) +
                                       "-token sequences of width " + std::to_string(d) + " (call set_sequences first)");
        if (y.shape() != x.shape()) y.resize(x.shape());
        const float* table = params_[0].value.data();
        for (std::size_t r = 0; r < x.shape()[0]; ++r) {
            const float* p = table + (r % length_) * d;
            const float* in = x.data() + r * d;
            float* out = y.data() + r * d;
            for (std::size_t j = 0; j < d; ++j) out[j] = in[j] + p[j];
        }
    }

    void backward(const Matrix&, const Matrix&, const Matrix& dy, Matrix* dx) {
        const std::size_t d = params_[0].value.shape()[1];
        Tensor& grad = params_[0].grad;
        grad = Tensor::from_shape({positions(), d});
        grad.fill(0.0f);
        for (std::size_t r = 0; r < dy.shape()[0]; ++r) {
            float* row = grad.data() + (r % length_) * d;
            const float* g = dy.data() + r * d;
            for (std::size_t j = 0; j < d; ++j) row[j] += g[j];
        }
        if (dx) *dx = dy;
    }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

private:
    std::array<Parameter, 1> params_;
    std::size_t length_ = 0;
};

}  // namespace ist
