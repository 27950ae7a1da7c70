// WordNet's reverse-dictionary task: synsets per part of speech against the package's own files,
// and the written files read back through the repository loader. Skips without wordnet-base.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include <ist/data/reverse_dictionary.hpp>
#include <ist/data/xml_repository.hpp>

namespace {

/// Synset lines of a data file counted without the reader: every line but the licence header.
std::size_t data_lines(const std::string& file) {
    std::ifstream in(file);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += !line.empty() && line.rfind("  ", 0) != 0;
    return n;
}

}  // namespace

TEST_CASE("xml: the WordNet reverse dictionary has every synset and reads back through the loader") {
    const std::string dir{ist::wordnet::kDefaultDirectory};
    if (!std::filesystem::exists(dir + "/data.noun")) {
        MESSAGE("skipped: wordnet-base is not installed");
        return;
    }
    const auto task = ist::wordnet::build_reverse_dictionary(ist::wordnet::read_synsets(dir));
    const char* files[] = {"noun", "verb", "adj", "adv"};
    const std::size_t wordnet30[] = {82115, 13767, 18156, 3621};  // WordNet 3.0's published counts
    for (std::size_t p = 0; p < 4; ++p) {
        CHECK(task.synsets_per_part[p] == data_lines(dir + "/data." + files[p]));
        CHECK(task.synsets_per_part[p] == wordnet30[p]);
    }
    CHECK(task.train.size() + task.test.size() == 117659);
    CHECK(task.test.size() > 117659 / 6);
    CHECK(task.test.size() < 117659 / 4);
    CHECK(task.lemmas.size() > 140000);
    CHECK_NOTHROW(task.train.validate());
    CHECK_NOTHROW(task.test.validate());
    for (const ist::SparseDataset* part : {&task.train, &task.test}) {
        const ist::SparseDataset back = ist::parse_xml_repository(ist::format_xml_repository(*part), part->name);
        CHECK(back.features.indptr == part->features.indptr);
        CHECK(back.features.indices == part->features.indices);
        CHECK(back.features.values == part->features.values);
        CHECK(back.labels.indices == part->labels.indices);
        CHECK(back.classes == part->classes);
    }
    ist::check_test_fits_train(task.train, task.test);
}

TEST_CASE("xml: max_labels keeps the lemmas of the most synsets and drops synsets left without one") {
    const std::string dir{ist::wordnet::kDefaultDirectory};
    if (!std::filesystem::exists(dir + "/data.noun")) {
        MESSAGE("skipped: wordnet-base is not installed");
        return;
    }
    ist::wordnet::ReverseDictionaryOptions options;
    options.max_labels = 500;
    const auto task = ist::wordnet::build_reverse_dictionary(ist::wordnet::read_synsets(dir), options);
    CHECK(task.lemmas.size() == 500);
    CHECK(std::find(task.lemmas.begin(), task.lemmas.end(), "break") != task.lemmas.end());  // 75 synsets
    CHECK(task.train.classes == 500);
    CHECK(task.train.size() + task.test.size() < 117659 / 2);
    for (std::size_t r = 0; r < task.train.size(); ++r) REQUIRE_FALSE(task.train.labels.of(r).empty());
    CHECK_NOTHROW(task.train.validate());
}
