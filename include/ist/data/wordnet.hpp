#pragma once
// WordNet 3.0's synsets, read from the database files of Debian's wordnet-base
// (/usr/share/wordnet/data.{noun,verb,adj,adv}; Princeton's permissive licence). Two real text tasks
// are built on them: a gloss's lexicographer file (45 classes) and a reverse dictionary (gloss ->
// lemmas). The library does not depend on the package; programs that use it install it.
//
// A data line (wndb(5WN)): offset lex_filenum ss_type w_cnt(hex) {word lex_id(hex)}... p_cnt {ptr}...
// [frames] | gloss. Lines that start with two spaces are the licence header.
#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ist/core/error.hpp"

namespace ist::wordnet {

enum class PartOfSpeech { Noun, Verb, Adjective, Adverb };

struct Synset {
    PartOfSpeech pos = PartOfSpeech::Noun;
    char ss_type = 'n';            ///< n, v, a, s (adjective satellite) or r
    std::uint32_t offset = 0;      ///< byte offset in its data file: the synset's id within its part of speech
    int lexicographer_file = 0;    ///< 0..44, see lexicographer_file_name
    std::vector<std::string> lemmas;  ///< as written (case kept, '_' between words), syntactic markers removed
    std::string gloss;             ///< definition and quoted examples, as written
};

inline constexpr std::string_view kDefaultDirectory = "/usr/share/wordnet";
inline constexpr std::size_t kLexicographerFiles = 45;

/// The name of lexicographer file `number` (lexnames(5WN)), e.g. 5 -> "noun.animal".
inline std::string_view lexicographer_file_name(int number) {
    static constexpr std::array<std::string_view, kLexicographerFiles> names{
        "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
        "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
        "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
        "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
        "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
        "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation",
        "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
        "verb.weather", "adj.ppl"};
    if (number < 0 || number >= static_cast<int>(kLexicographerFiles))
        throw ConfigError("wordnet: lexicographer file " + std::to_string(number) + " is not in 0..44");
    return names[static_cast<std::size_t>(number)];
}

/// The fixed train/test split of both WordNet tasks: a synset is a test synset when a hash of its part
/// of speech and offset falls in the lowest fifth. It depends on nothing but the synset, so the split is
/// the same in every program, at every seed, for any subset of the files.
inline bool is_test_synset(const Synset& synset) {
    std::uint64_t x = (static_cast<std::uint64_t>(synset.offset) << 3) | static_cast<std::uint64_t>(synset.pos);
    // splitmix64's finaliser: consecutive offsets land far apart.
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x % 5 == 0;
}

namespace detail {

inline std::string_view part_of_speech_file(PartOfSpeech pos) {
    switch (pos) {
        case PartOfSpeech::Noun: return "data.noun";
        case PartOfSpeech::Verb: return "data.verb";
        case PartOfSpeech::Adjective: return "data.adj";
        case PartOfSpeech::Adverb: return "data.adv";
    }
    return "";
}

inline bool ss_type_belongs(char ss_type, PartOfSpeech pos) {
    switch (pos) {
        case PartOfSpeech::Noun: return ss_type == 'n';
        case PartOfSpeech::Verb: return ss_type == 'v';
        case PartOfSpeech::Adjective: return ss_type == 'a' || ss_type == 's';
        case PartOfSpeech::Adverb: return ss_type == 'r';
    }
    return false;
}

/// Adjectives may carry a syntactic marker glued to the word: "galore(ip)", "elect(p)", "former(a)".
inline std::string without_marker(std::string word) {
    if (!word.empty() && word.back() == ')') {
        const auto open = word.rfind('(');
        if (open != std::string::npos && open > 0) word.erase(open);
    }
    return word;
}

/// Parses one data line; `where` ("data.noun:42") prefixes every error.
inline Synset parse_synset_line(const std::string& line, PartOfSpeech pos, const std::string& where) {
    const auto bar = line.find(" | ");
    if (bar == std::string::npos) throw DataError(where + ": no ' | ' before the gloss");
    std::istringstream head(line.substr(0, bar));
    std::string offset, lex_file, ss_type, word_count;
    if (!(head >> offset >> lex_file >> ss_type >> word_count))
        throw DataError(where + ": fewer than four fields before the words");
    Synset s;
    s.pos = pos;
    try {
        std::size_t used = 0;
        s.offset = static_cast<std::uint32_t>(std::stoul(offset, &used, 10));
        if (used != offset.size()) throw std::invalid_argument("offset");
        s.lexicographer_file = std::stoi(lex_file, &used, 10);
        if (used != lex_file.size()) throw std::invalid_argument("lex_filenum");
    } catch (const std::logic_error&) {
        throw DataError(where + ": offset '" + offset + "' or lexicographer file '" + lex_file + "' is not a number");
    }
    if (s.lexicographer_file < 0 || s.lexicographer_file >= static_cast<int>(kLexicographerFiles))
        throw DataError(where + ": lexicographer file " + lex_file + " is not in 0..44");
    if (ss_type.size() != 1 || !ss_type_belongs(ss_type[0], pos))
        throw DataError(where + ": synset type '" + ss_type + "' does not belong in " +
                        std::string(part_of_speech_file(pos)));
    s.ss_type = ss_type[0];
    unsigned long words = 0;
    try {
        std::size_t used = 0;
        words = std::stoul(word_count, &used, 16);
        if (used != word_count.size() || words == 0) throw std::invalid_argument("w_cnt");
    } catch (const std::logic_error&) {
        throw DataError(where + ": word count '" + word_count + "' is not a positive hexadecimal number");
    }
    for (unsigned long w = 0; w < words; ++w) {
        std::string word, lex_id;
        if (!(head >> word >> lex_id))
            throw DataError(where + ": " + std::to_string(words) + " words announced, " + std::to_string(w) + " found");
        s.lemmas.push_back(without_marker(std::move(word)));
    }
    s.gloss = line.substr(bar + 3);
    while (!s.gloss.empty() && (s.gloss.back() == ' ' || s.gloss.back() == '\r')) s.gloss.pop_back();
    return s;
}

}  // namespace detail

/// Every synset of one data file, in file order. DataError names the file and line of a malformed line.
inline std::vector<Synset> read_synset_file(const std::filesystem::path& file, PartOfSpeech pos) {
    std::ifstream in(file);
    if (!in) throw DataError("wordnet: cannot open " + file.string() + " (install Debian's wordnet-base)");
    std::vector<Synset> synsets;
    std::string line;
    for (std::size_t number = 1; std::getline(in, line); ++number) {
        if (line.rfind("  ", 0) == 0 || line.empty()) continue;  // licence header
        synsets.push_back(detail::parse_synset_line(line, pos, file.string() + ":" + std::to_string(number)));
    }
    if (synsets.empty()) throw DataError("wordnet: " + file.string() + " holds no synsets");
    return synsets;
}

/// All synsets of the four data files: nouns, verbs, adjectives, adverbs (117,659 in WordNet 3.0).
inline std::vector<Synset> read_synsets(const std::filesystem::path& directory = kDefaultDirectory) {
    std::vector<Synset> all;
    for (const PartOfSpeech pos :
         {PartOfSpeech::Noun, PartOfSpeech::Verb, PartOfSpeech::Adjective, PartOfSpeech::Adverb}) {
        auto part = read_synset_file(directory / detail::part_of_speech_file(pos), pos);
        all.insert(all.end(), std::make_move_iterator(part.begin()), std::make_move_iterator(part.end()));
    }
    return all;
}

}  // namespace ist::wordnet
