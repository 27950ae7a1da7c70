#pragma once
// Token embedding: each sequence of token ids becomes one row per position.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/token_id.hpp"
#include "ist/model/layer.hpp"
#include "ist/model/transformer/embedding_table.hpp"

namespace ist {

/// Looks up weight (vocabulary x width, N(0, 1) like PyTorch's nn.Embedding) for every token: a
/// (B x T) matrix of token ids (floats holding whole numbers, as the data set stores them)
/// becomes (B * T) x width, sequence b's position t at row b * T + t. Padding positions get
/// their id's row too; attention and pooling ignore them through the SequenceMask.
/// A subnet of the vocabulary cut holds only some rows (hold_rows) and looks ids up among them.
class TokenEmbedding {
public:
    static constexpr bool opens_dimension = true;

    TokenEmbedding(std::size_t vocabulary, std::size_t width, std::uint64_t seed = 0)
        : params_{detail::gaussian_table("TokenEmbedding", "vocabulary", "embedding", vocabulary, width, 1.0, seed)} {}

    /// Token ids 0 .. vocabulary() - 1; a subnet holding some rows keeps the full id range.
    std::size_t vocabulary() const { return row_of_ ? row_of_->size() : rows(); }
    /// Rows of the table this layer holds.
    std::size_t rows() const { return params_[0].value.shape()[0]; }
    std::size_t width() const { return params_[0].value.shape()[1]; }

    /// The vocabulary cut (a worker holds the rows its round's batches use): the table, already
    /// sliced from a table of `vocabulary` rows, holds the rows of `ids` (sorted, distinct) in
    /// that order; other ids are refused.
    void hold_rows(const std::vector<std::uint32_t>& ids, std::size_t vocabulary) {
        detail::require(ids.size() == rows() && (ids.empty() || ids.back() < vocabulary),
                        "TokenEmbedding::hold_rows: " + std::to_string(ids.size()) + " ids (below " +
                            std::to_string(vocabulary) + ") for a table of " + std::to_string(rows()) + " rows");
        auto row_of = std::make_shared<std::vector<std::int32_t>>(vocabulary, -1);
        for (std::size_t k = 0; k < ids.size(); ++k) row_of->at(ids[k]) = static_cast<std::int32_t>(k);
        row_of_ = std::move(row_of);
    }

    void forward(const Matrix& ids, Matrix& y, Mode) {
        const std::size_t d = width();
        check_ids(ids);
        y.resize({ids.size(), d});
        const float* table = params_[0].value.data();
        for (std::size_t i = 0; i < ids.size(); ++i) std::copy_n(table + row(ids.data()[i]) * d, d, y.data() + i * d);
    }

    /// Adds each row of dy to its token's row of the gradient; token ids have no gradient (dx = 0).
    void backward(const Matrix& ids, const Matrix&, const Matrix& dy, Matrix* dx) {
        const std::size_t d = width();
        Tensor& grad = params_[0].grad;
        grad = Tensor::from_shape({rows(), d});
        grad.fill(0.0f);
        for (std::size_t i = 0; i < ids.size(); ++i) {
            float* out = grad.data() + row(ids.data()[i]) * d;
            const float* g = dy.data() + i * d;
            for (std::size_t j = 0; j < d; ++j) out[j] += g[j];
        }
        if (dx) {
            dx->resize(ids.shape());
            dx->fill(0.0f);
        }
    }

    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

    /// Throws DataError for an id that is not a whole number in [0, vocabulary), or (a subnet
    /// of the vocabulary cut) whose row it does not hold.
    void check_ids(const Matrix& ids) const {
        for (std::size_t i = 0; i < ids.size(); ++i) {
            const float id = ids.data()[i];
            const bool valid = detail::is_token_id(id, vocabulary());
            if (valid && (!row_of_ || (*row_of_)[static_cast<std::size_t>(id)] >= 0)) continue;
            throw DataError("TokenEmbedding: token id " + std::to_string(id) + " at sequence " +
                            std::to_string(i / ids.shape()[1]) + ", position " + std::to_string(i % ids.shape()[1]) +
                            (valid ? " is not among the " + std::to_string(rows()) + " rows this subnet holds"
                                   : " is outside the vocabulary of " + std::to_string(vocabulary()) + " ids"));
        }
    }

private:
    /// The table row of a checked id.
    std::size_t row(float id) const {
        const auto i = static_cast<std::size_t>(id);
        return row_of_ ? static_cast<std::size_t>((*row_of_)[i]) : i;
    }

    std::array<Parameter, 1> params_;
    std::shared_ptr<const std::vector<std::int32_t>> row_of_;  ///< id -> held row (-1: not held); null: all
};

}  // namespace ist
