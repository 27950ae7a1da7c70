// WordNet 3.0's synsets (Debian's wordnet-base) and the tokenizer / vocabulary of the text tasks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <ist/data/tokenizer.hpp>
#include <ist/data/wordnet.hpp>

namespace wn = ist::wordnet;

TEST_CASE("wordnet: synsets per part of speech are WordNet 3.0's published counts") {
    // wnstats(7WN): 82,115 noun, 13,767 verb, 18,156 adjective and 3,621 adverb synsets.
    const auto synsets = wn::read_synsets();
    std::map<wn::PartOfSpeech, std::size_t> counts;
    for (const auto& s : synsets) ++counts[s.pos];
    CHECK(counts[wn::PartOfSpeech::Noun] == 82115);
    CHECK(counts[wn::PartOfSpeech::Verb] == 13767);
    CHECK(counts[wn::PartOfSpeech::Adjective] == 18156);
    CHECK(counts[wn::PartOfSpeech::Adverb] == 3621);
    CHECK(synsets.size() == 117659);
}

TEST_CASE("wordnet: the first noun synset, a satellite's marker and the split") {
    const auto nouns = wn::read_synset_file("/usr/share/wordnet/data.noun", wn::PartOfSpeech::Noun);
    REQUIRE(nouns.size() > 2);
    CHECK(nouns[0].offset == 1740);
    CHECK(nouns[0].lexicographer_file == 3);
    CHECK(wn::lexicographer_file_name(nouns[0].lexicographer_file) == "noun.Tops");
    CHECK(nouns[0].lemmas == std::vector<std::string>{"entity"});
    CHECK(nouns[0].gloss.rfind("that which is perceived or known", 0) == 0);
    CHECK(nouns[1].lemmas == std::vector<std::string>{"physical_entity"});

    const auto adjectives = wn::read_synset_file("/usr/share/wordnet/data.adj", wn::PartOfSpeech::Adjective);
    const auto galore = std::find_if(adjectives.begin(), adjectives.end(), [](const auto& s) { return s.offset == 14358; });
    REQUIRE(galore != adjectives.end());
    CHECK(galore->ss_type == 's');
    CHECK(galore->lemmas == std::vector<std::string>{"abounding", "galore"});  // "galore(ip)" loses its marker

    // The split is a fifth of the synsets, give or take sampling noise (sd ~ 0.0014 at this size).
    const auto test = std::count_if(nouns.begin(), nouns.end(), wn::is_test_synset);
    CHECK(static_cast<double>(test) / static_cast<double>(nouns.size()) == doctest::Approx(0.2).epsilon(0.03));
}

TEST_CASE("wordnet: malformed lines name the file and line") {
    const auto dir = std::filesystem::temp_directory_path() / "ist_wordnet_bad";
    std::filesystem::create_directories(dir);
    const auto write = [&](const std::string& text) {
        std::ofstream(dir / "data.verb") << "  1 licence header line  \n" << text;
        return (dir / "data.verb").string();
    };
    const auto error_of = [&](const std::string& text) {
        const auto file = write(text);
        try {
            wn::read_synset_file(file, wn::PartOfSpeech::Verb);
        } catch (const ist::DataError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    const std::string file = (dir / "data.verb").string();
    CHECK(error_of("00001740 29 v 01 breathe 0 000 | no bar missing\n00001741 29 v 01 x 0 000 no bar\n") ==
          file + ":3: no ' | ' before the gloss");
    CHECK(error_of("00001740 29 n 01 breathe 0 000 | a noun in the verb file\n") ==
          file + ":2: synset type 'n' does not belong in data.verb");
    CHECK(error_of("00001740 45 v 01 breathe 0 000 | gloss\n") == file + ":2: lexicographer file 45 is not in 0..44");
    CHECK(error_of("00001740 29 v 03 breathe 0 000 | gloss\n") == file + ":2: 3 words announced, 1 found");
    CHECK(error_of("0000x740 29 v 01 breathe 0 000 | gloss\n") ==
          file + ":2: offset '0000x740' or lexicographer file '29' is not a number");
    CHECK(error_of("00001740 29 v zz breathe 0 000 | gloss\n") ==
          file + ":2: word count 'zz' is not a positive hexadecimal number");
    CHECK(error_of("") == "wordnet: " + file + " holds no synsets");
    CHECK_THROWS_WITH_AS(wn::read_synsets(dir / "absent"),
                         ("wordnet: cannot open " + (dir / "absent" / "data.noun").string() +
                          " (install Debian's wordnet-base)").c_str(),
                         ist::DataError);
    std::filesystem::remove_all(dir);
}

TEST_CASE("tokenizer: lowercase alphanumeric words, a vocabulary ordered by count, then bytes") {
    CHECK(ist::tokenize_words("(usually followed by `to') Able-bodied, 2 cats") ==
          std::vector<std::string>{"usually", "followed", "by", "to", "able", "bodied", "2", "cats"});
    CHECK(ist::tokenize_words("  ").empty());

    const std::vector<std::vector<std::string>> docs{{"b", "a", "c", "a"}, {"c", "d", "b", "a"}};
    const auto all = ist::Vocabulary::build(docs, {});
    REQUIRE(all.size() == 6);
    CHECK(all.word(0) == "<pad>");
    CHECK(all.word(1) == "<unk>");
    CHECK(all.word(2) == "a");  // 3 times
    CHECK(all.word(3) == "b");  // 2 times, before "c" by bytes
    CHECK(all.word(4) == "c");
    CHECK(all.word(5) == "d");
    CHECK(all.encode({"d", "zebra", "a"}) == std::vector<std::uint32_t>{5, ist::Vocabulary::kUnknown, 2});

    const auto cut = ist::Vocabulary::build(docs, {.min_count = 2, .max_words = 2});
    CHECK(cut.size() == 4);
    CHECK(cut.id("c") == ist::Vocabulary::kUnknown);
    CHECK(cut.id("b") == 3);
    CHECK_THROWS_WITH_AS(cut.word(4), "Vocabulary: id 4 is past the vocabulary's 4 ids", ist::ConfigError);
    CHECK_THROWS_WITH_AS(ist::Vocabulary::build(docs, {.min_count = 0}), "Vocabulary: min_count must be at least 1",
                         ist::ConfigError);
}
