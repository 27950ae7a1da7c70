#pragma once
// A reverse-dictionary extreme-classification task built from WordNet 3.0 (data/wordnet.hpp):
// input = the bag of words of a synset's gloss (definition and quoted examples), labels = the
// synset's lemmas, over every distinct lemma of the database. The split is wordnet::is_test_synset.
//  - Features: the words of the training glosses (tokenize_words, Vocabulary with min_count),
//    feature index = vocabulary id - 2 (padding and "unknown" are not features; a test word not
//    in the vocabulary is dropped). Values are term frequencies, or 1 with `binary`.
//  - Labels: lemmas lowercased ("Aachen" and "aachen" are one label; '_' joins words), ids in byte
//    order of the lemma, over train and test alike, so both files share one label space. A test
//    lemma that no training synset has stays in the test set: it can never be predicted and counts
//    as a miss in P@k, as unseen labels do in the XML literature.
// Deterministic: the same files give the same bytes on every machine.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ist/data/sparse_dataset.hpp"
#include "ist/data/tokenizer.hpp"
#include "ist/data/wordnet.hpp"

namespace ist::wordnet {

struct ReverseDictionaryOptions {
    std::size_t min_count = 2;  ///< gloss words seen fewer times in training are dropped
    std::size_t max_words = 0;  ///< 0 = every word that passes min_count
    bool binary = false;        ///< 1 per word present instead of its count
};

struct ReverseDictionary {
    SparseDataset train, test;
    Vocabulary words;                 ///< feature j is words.word(j + 2)
    std::vector<std::string> lemmas;  ///< label l is lemmas[l]
    std::array<std::size_t, 4> synsets_per_part{};  ///< nouns, verbs, adjectives, adverbs (both sets)
};

namespace detail {

inline std::string lowercase(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return s;
}

/// Appends one synset as a row: its gloss words' counts and its lemmas' label ids.
inline void append_synset(SparseDataset& out, const std::vector<std::string>& tokens, const Vocabulary& words,
                          const std::vector<std::uint32_t>& labels, bool binary) {
    std::map<std::uint32_t, float> counts;
    for (const std::string& t : tokens) {
        const std::uint32_t id = words.id(t);
        if (id >= 2) counts[id - 2] += 1.0f;
    }
    std::vector<std::uint32_t> idx;
    std::vector<float> val;
    for (const auto& [j, c] : counts) idx.push_back(j), val.push_back(binary ? 1.0f : c);
    out.features.append_row(idx, val);
    out.labels.append_row(labels);
}

}  // namespace detail

/// The task from `synsets` (wordnet::read_synsets()); train and test are named "<name>.train" / ".test".
inline ReverseDictionary build_reverse_dictionary(const std::vector<Synset>& synsets,
                                                  const ReverseDictionaryOptions& options = {},
                                                  const std::string& name = "wordnet-reverse-dictionary") {
    ReverseDictionary task;
    std::vector<std::vector<std::string>> tokens, train_tokens;
    std::map<std::string, std::uint32_t> lemma_ids;
    for (const Synset& s : synsets) {
        tokens.push_back(tokenize_words(s.gloss));
        if (!is_test_synset(s)) train_tokens.push_back(tokens.back());
        for (const std::string& lemma : s.lemmas) lemma_ids.emplace(detail::lowercase(lemma), 0);
        ++task.synsets_per_part[static_cast<std::size_t>(s.pos)];
    }
    for (auto& [lemma, id] : lemma_ids) {
        id = static_cast<std::uint32_t>(task.lemmas.size());
        task.lemmas.push_back(lemma);
    }
    task.words = Vocabulary::build(train_tokens, {options.min_count, options.max_words});
    for (SparseDataset* part : {&task.train, &task.test}) {
        part->features.cols = task.words.size() - 2;
        part->classes = task.lemmas.size();
    }
    task.train.name = name + ".train";
    task.test.name = name + ".test";
    std::vector<std::uint32_t> labels;
    for (std::size_t i = 0; i < synsets.size(); ++i) {
        labels.clear();
        for (const std::string& lemma : synsets[i].lemmas) labels.push_back(lemma_ids.at(detail::lowercase(lemma)));
        std::sort(labels.begin(), labels.end());  // "Bank" and "bank" in one synset are one label
        labels.erase(std::unique(labels.begin(), labels.end()), labels.end());
        detail::append_synset(is_test_synset(synsets[i]) ? task.test : task.train, tokens[i], task.words, labels,
                              options.binary);
    }
    return task;
}

}  // namespace ist::wordnet
