#pragma once
// Words and their ids for text tasks: a lowercase alphanumeric tokenizer and a vocabulary cut by
// frequency. Deliberately simple (no stemming, no subwords): enough for WordNet glosses, and the same
// ids on every machine, since ties in frequency are broken by the word itself.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"

namespace ist {

/// The words of `text`: maximal runs of ASCII letters and digits (and of bytes >= 0x80, so UTF-8
/// letters stay inside words), lowercased. Everything else separates words.
inline std::vector<std::string> tokenize_words(std::string_view text) {
    std::vector<std::string> words;
    std::string word;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        const bool inside = (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
                            (byte >= 'A' && byte <= 'Z') || byte >= 0x80;
        if (inside) {
            word.push_back(byte >= 'A' && byte <= 'Z' ? static_cast<char>(byte - 'A' + 'a') : c);
        } else if (!word.empty()) {
            words.push_back(std::move(word));
            word.clear();
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    return words;
}

/// Word <-> id. Id 0 is padding, id 1 stands for every word not kept; kept words follow by
/// decreasing count, equal counts in byte order of the word.
class Vocabulary {
public:
    static constexpr std::uint32_t kPad = 0;
    static constexpr std::uint32_t kUnknown = 1;

    struct Options {
        std::size_t min_count = 1;  ///< words seen fewer times map to kUnknown
        std::size_t max_words = 0;  ///< keep at most this many words besides pad and unknown; 0 = all
    };

    /// The vocabulary of `documents` (each a list of tokens).
    static Vocabulary build(const std::vector<std::vector<std::string>>& documents, Options options) {
        detail::require(options.min_count >= 1, "Vocabulary: min_count must be at least 1");
        std::map<std::string, std::size_t, std::less<>> counts;
        for (const auto& document : documents)
            for (const auto& word : document) ++counts[word];
        std::vector<std::pair<std::string, std::size_t>> kept;
        for (auto& [word, count] : counts)
            if (count >= options.min_count) kept.emplace_back(word, count);
        // stable_sort keeps the map's byte order among equal counts.
        std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        if (options.max_words != 0 && kept.size() > options.max_words) kept.resize(options.max_words);
        Vocabulary v;
        for (auto& [word, count] : kept) v.add(word);
        return v;
    }

    Vocabulary() {
        add("<pad>");
        add("<unk>");
    }

    /// The id of `word`, kUnknown when it was not kept.
    std::uint32_t id(std::string_view word) const {
        const auto found = ids_.find(std::string(word));
        return found == ids_.end() ? kUnknown : found->second;
    }

    const std::string& word(std::uint32_t id) const {
        if (id >= words_.size())
            throw ConfigError("Vocabulary: id " + std::to_string(id) + " is past the vocabulary's " +
                              std::to_string(words_.size()) + " ids");
        return words_[id];
    }

    /// Ids including pad and unknown.
    std::size_t size() const { return words_.size(); }

    std::vector<std::uint32_t> encode(const std::vector<std::string>& tokens) const {
        std::vector<std::uint32_t> out;
        out.reserve(tokens.size());
        for (const auto& t : tokens) out.push_back(id(t));
        return out;
    }

private:
    void add(std::string word) {
        if (!ids_.emplace(word, static_cast<std::uint32_t>(words_.size())).second) return;  // "<pad>" in a text
        words_.push_back(std::move(word));
    }

    std::vector<std::string> words_;
    std::unordered_map<std::string, std::uint32_t> ids_;
};

}  // namespace ist
