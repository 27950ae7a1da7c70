#pragma once
// Token embedding: each sequence of token ids becomes one row per position.
#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include "ist/core/error.hpp"
#include "ist/model/layer.hpp"
#include "ist/model/transformer/embedding_table.hpp"

namespace ist {

/// Looks up weight (vocabulary x width, N(0, 1) like PyTorch's nn.Embedding) for every token: a
/// (B x T) matrix of token ids (floats holding whole numbers, as the data set stores them)
/// becomes (B * T) x width, sequence b's position t at row b * T + t. Padding positions get
/// their id's row too; attention and pooling ignore them through the SequenceMask.
class TokenEmbedding {
public:
    static constexpr bool opens_dimension = true;

    TokenEmbedding(std::size_t vocabulary, std::size_t width, std::uint64_t seed = 0)
        : params_{detail::gaussian_table("TokenEmbedding", "vocabulary", "embedding", vocabulary, width, 1.0, seed)} {}

    std::size_t vocabulary() const { return params_[0].value.shape()[0]; }
    std::size_t width() const { return params_[0].value.shape()[1]; }

    void forward(const Matrix& ids, Matrix& y, Mode) {
        const std::size_t d = width();
        check_ids(ids);
        y.resize({ids.size(), d});
        const float* table = params_[0].value.data();
        for (std::size_t i = 0; i < ids.size(); ++i)
            std::copy_n(table + static_cast<std::size_t>(ids.data()[i]) * d, d, y.data() + i * d);
    }

    /// Adds each row of dy to its token's row of the gradient; token ids have no gradient (dx = 0).
    void backward(const Matrix& ids, const Matrix&, const Matrix& dy, Matrix* dx) {
        const std::size_t d = width();
        Tensor& grad = params_[0].grad;
        grad = Tensor::from_shape({vocabulary(), d});
        grad.fill(0.0f);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            float* row = grad.data() + static_cast<std::size_t>(ids.data()[i]) * d;
            const float* g = dy.data() + i * d;
            for (std::size_t j = 0; j < d; ++j) row[j] += g[j];
        }
        if (dx) {
            dx->resize(ids.shape());
            dx->fill(0.0f);
        }
    }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

    /// Throws DataError for an id that is not a whole number in [0, vocabulary).
    void check_ids(const Matrix& ids) const {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const float id = ids.data()[i];
            if (id >= 0.0f && id < static_cast<float>(vocabulary()) && id == std::floor(id)) continue;
            throw DataError("TokenEmbedding: token id " + std::to_string(id) + " at sequence " +
                            std::to_string(i / ids.shape()[1]) + ", position " + std::to_string(i % ids.shape()[1]) +
                            " is outside the vocabulary of " + std::to_string(vocabulary()) + " ids");
        }
    }

private:
    std::array<Parameter, 1> params_;
};

}  // namespace ist
