#pragma once
// What counts as a token id: data sets store token ids as floats, so an id must be a whole number
// in [0, vocabulary). One rule for the embedding's lookup and the vocabulary cut's plan.
#include <cmath>
#include <cstddef>

namespace ist::detail {

inline bool is_token_id(float value, std::size_t vocabulary) {
    return value >= 0.0f && value < static_cast<float>(vocabulary) && value == std::floor(value);
}

}  // namespace ist::detail
