#pragma once
// A small transformer and token data whose batches use only part of the vocabulary: what the
// vocabulary cut's tests train, in-process (test_vocabulary_cut.cpp) and under mpiexec
// (tests/transport/mpi/test_vocabulary_cut_mpi.cpp).
#include <algorithm>
#include <cstdint>
#include <random>

#include <ist/ist.hpp>

namespace ist::test {

inline constexpr std::size_t kVocabulary = 60, kLength = 6, kWidth = 8;

inline TransformerShape vocabulary_shape(std::uint64_t seed) {
    return {.vocabulary = kVocabulary, .sequence_length = kLength, .width = kWidth, .heads = 4, .ffn = 6, .blocks = 2,
            .classes = 3, .seed = seed};
}

/// Glosses of 2..6 tokens whose ids lean to the small ones (as words do), so a worker's batches
/// use only some of the vocabulary; label = the first token mod 3.
inline Dataset skewed_tokens(std::size_t rows, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Dataset data{Matrix::from_shape({rows, kLength}), {}, 3, "skewed tokens", {}};
    for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t length = 2 + rng() % 5;
        for (std::size_t t = 0; t < kLength; ++t) {
            const std::uint64_t id = 1 + std::min(rng() % (kVocabulary - 1), rng() % (kVocabulary - 1));
            data.features(r, t) = t < length ? static_cast<float>(id) : static_cast<float>(kPadToken);
        }
        data.labels.push_back(static_cast<std::uint32_t>(data.features(r, 0)) % 3);
    }
    return data;
}

}  // namespace ist::test
