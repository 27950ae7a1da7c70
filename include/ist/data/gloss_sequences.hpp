#pragma once
// WordNet's lexicographer-file task as token sequences: a synset's gloss, tokenized and padded to a
// fixed length, labelled with its lexicographer file (45 classes: noun.animal, verb.motion, ...).
#include <algorithm>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/tokenizer.hpp"
#include "ist/data/wordnet.hpp"

namespace ist::wordnet {

struct GlossTaskOptions {
    std::size_t sequence_length = 32;  ///< tokens kept per gloss (its first ones), the rest padded
    std::size_t max_words = 8000;      ///< vocabulary size besides padding and unknown (0: all)
    std::size_t min_count = 2;         ///< rarer words of the training glosses become unknown
};

/// The task's train and test sets (wordnet::is_test_synset's fixed split) and the vocabulary, built
/// from the training glosses only. Each row holds token ids as floats, padding (Vocabulary::kPad)
/// after the gloss; every row has at least one token (an empty gloss would be all padding).
struct GlossTask {
    Dataset train, test;
    Vocabulary vocabulary;
};

namespace detail {
inline Dataset gloss_rows(const std::vector<const Synset*>& synsets, const std::vector<std::vector<std::string>>& words,
                          const Vocabulary& vocabulary, std::size_t length, std::string name) {
    Dataset data{Matrix::from_shape({synsets.size(), length}), {}, kLexicographerFiles, std::move(name), {}};
    data.features.fill(static_cast<float>(Vocabulary::kPad));
    for (std::size_t r = 0; r < synsets.size(); ++r) {
        const std::vector<std::uint32_t> ids = vocabulary.encode(words[r]);
        for (std::size_t t = 0; t < std::min(length, ids.size()); ++t) data.features(r, t) = static_cast<float>(ids[t]);
        if (ids.empty()) data.features(r, 0) = static_cast<float>(Vocabulary::kUnknown);
        data.labels.push_back(static_cast<std::uint32_t>(synsets[r]->lexicographer_file));
    }
    return data;
}
}  // namespace detail

inline GlossTask gloss_task(const std::vector<Synset>& synsets, const GlossTaskOptions& options) {
    ist::detail::require(options.sequence_length > 0, "gloss_task: sequence_length must be positive");
    std::vector<const Synset*> train, test;
    std::vector<std::vector<std::string>> train_words, test_words;
    for (const Synset& s : synsets) {
        const bool is_test = is_test_synset(s);
        (is_test ? test : train).push_back(&s);
        (is_test ? test_words : train_words).push_back(tokenize_words(s.gloss));
    }
    ist::detail::require<DataError>(!train.empty() && !test.empty(), "gloss_task: no synsets in the train or test split");
    GlossTask task;
    task.vocabulary = Vocabulary::build(train_words, {.min_count = options.min_count, .max_words = options.max_words});
    task.train = detail::gloss_rows(train, train_words, task.vocabulary, options.sequence_length, "wordnet-glosses/train");
    task.test = detail::gloss_rows(test, test_words, task.vocabulary, options.sequence_length, "wordnet-glosses/test");
    return task;
}

}  // namespace ist::wordnet
