#pragma once
// Which positions of a batch of padded token sequences hold tokens: what attention and pooling
// need beyond their input rows.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"

namespace ist {

/// The padding token id (the tokenizer's kPad): sequences are stored left-aligned, padded with it.
inline constexpr std::uint32_t kPadToken = 0;

/// Inside a transformer every token is a row: a batch of B sequences of `length` positions is a
/// (B x length) x width matrix, sequence b's position t at row b * length + t.
struct SequenceMask {
    std::size_t length = 0;           ///< positions per sequence (the data's columns)
    std::vector<std::uint8_t> real;   ///< one per row: 1 for a token, 0 for padding

    std::size_t sequences() const { return length ? real.size() / length : 0; }

    /// The mask of a batch of token ids (one sequence per row, padding = kPadToken).
    static SequenceMask of_tokens(const Matrix& ids) {
        SequenceMask mask;
        mask.length = ids.shape()[1];
        mask.real.resize(ids.size());
        for (std::size_t i = 0; i < ids.size(); ++i) mask.real[i] = ids.data()[i] != static_cast<float>(kPadToken);
        return mask;
    }

    /// Every position a token (no padding): B sequences of `length`.
    static SequenceMask dense(std::size_t sequences, std::size_t length) {
        return {length, std::vector<std::uint8_t>(sequences * length, 1)};
    }

    /// Throws DataError, naming `who`, unless `rows` token rows match this mask.
    void check_rows(const std::string& who, std::size_t rows) const {
        detail::require<DataError>(length > 0 && rows == real.size(),
                                   who + ": the input has " + std::to_string(rows) + " token rows, the sequence mask " +
                                       std::to_string(real.size()) + " (set_sequences must describe this batch)");
    }
};

/// Layers over token rows that need to know where each sequence starts and which rows are padding.
template <class L>
concept SequenceAware = requires(L& layer, const SequenceMask& mask) { layer.set_sequences(mask); };

}  // namespace ist
