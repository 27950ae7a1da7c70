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
//  - `max_labels` keeps only the lemmas of the most synsets (ties in byte order) and drops the
//    synsets left without a label: a smaller task of the frequent ("head") labels, for quick runs.
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
    std::size_t max_labels = 0; ///< 0 = every lemma; else the lemmas of the most synsets
};

struct ReverseDictionary {
    SparseDataset train, test;
    Vocabulary words;                 ///< feature j is words.word(j + 2)
    std::vector<std::string> lemmas;  ///< label l is lemmas[l]
    std::array<std::size_t, 4> synsets_per_part{};  ///< nouns, verbs, adjectives, adverbs read (both sets)
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

/// Label ids of the kept lemmas (byte order), given how many synsets each lemma names.
inline std::map<std::string, std::uint32_t> kept_lemmas(const std::map<std::string, std::size_t>& synset_counts,
                                                        std::size_t max_labels) {
    std::vector<std::pair<std::string, std::size_t>> by_count(synset_counts.begin(), synset_counts.end());
    std::stable_sort(by_count.begin(), by_count.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    if (max_labels != 0 && by_count.size() > max_labels) by_count.resize(max_labels);
    std::map<std::string, std::uint32_t> ids;
    for (const auto& kept : by_count) ids.emplace(kept.first, 0);
    std::uint32_t next = 0;
    for (auto& [lemma, id] : ids) id = next++;
    return ids;
}

/// The sorted, distinct label ids of a synset's kept lemmas ("Bank" and "bank" are one label).
inline void synset_labels(const Synset& s, const std::map<std::string, std::uint32_t>& ids,
                          std::vector<std::uint32_t>& out) {
    out.clear();
    for (const std::string& lemma : s.lemmas)
        if (const auto found = ids.find(lowercase(lemma)); found != ids.end()) out.push_back(found->second);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
}

}  // namespace detail

/// The task from `synsets` (wordnet::read_synsets()); train and test are named "<name>.train" / ".test".
inline ReverseDictionary build_reverse_dictionary(const std::vector<Synset>& synsets,
                                                  const ReverseDictionaryOptions& options = {},
                                                  const std::string& name = "wordnet-reverse-dictionary") {
    ReverseDictionary task;
    std::map<std::string, std::size_t> synset_counts;
    for (const Synset& s : synsets) {
        std::vector<std::string> lower;
        for (const std::string& lemma : s.lemmas) lower.push_back(detail::lowercase(lemma));
        std::sort(lower.begin(), lower.end());
        lower.erase(std::unique(lower.begin(), lower.end()), lower.end());
        for (const std::string& lemma : lower) ++synset_counts[lemma];
        ++task.synsets_per_part[static_cast<std::size_t>(s.pos)];
    }
    const std::map<std::string, std::uint32_t> lemma_ids = detail::kept_lemmas(synset_counts, options.max_labels);
    for (const auto& kept : lemma_ids) task.lemmas.push_back(kept.first);
    std::vector<std::vector<std::string>> tokens(synsets.size()), train_tokens;
    std::vector<std::uint32_t> labels;
    for (std::size_t i = 0; i < synsets.size(); ++i) {
        detail::synset_labels(synsets[i], lemma_ids, labels);
        if (labels.empty()) continue;  // none of its lemmas kept (max_labels)
        tokens[i] = tokenize_words(synsets[i].gloss);
        if (!is_test_synset(synsets[i])) train_tokens.push_back(tokens[i]);
    }
    task.words = Vocabulary::build(train_tokens, {options.min_count, options.max_words});
    for (SparseDataset* part : {&task.train, &task.test}) {
        part->features.cols = task.words.size() - 2;
        part->classes = task.lemmas.size();
    }
    task.train.name = name + ".train";
    task.test.name = name + ".test";
    for (std::size_t i = 0; i < synsets.size(); ++i) {
        detail::synset_labels(synsets[i], lemma_ids, labels);
        if (labels.empty()) continue;
        detail::append_synset(is_test_synset(synsets[i]) ? task.test : task.train, tokens[i], task.words, labels,
                              options.binary);
    }
    return task;
}

}  // namespace ist::wordnet
