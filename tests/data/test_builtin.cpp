// The digits compiled into the library: the same bytes as data/digits.csv.gz, the same data set
// as loading the file, and in-memory gunzip's errors for damaged input.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <span>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/detail/file_bytes.hpp>

TEST_CASE("data: the built-in digits are the bytes of data/digits.csv.gz") {
    // Fails when the data file changes without `cmake -P cmake/embed_digits.cmake`.
    const std::string path = std::string(IST_DATA_DIR) + "/digits.csv.gz";
    std::vector<unsigned char> file;
    {
        std::FILE* f = std::fopen(path.c_str(), "rb");
        REQUIRE(f != nullptr);
        for (int c; (c = std::fgetc(f)) != EOF;) file.push_back(static_cast<unsigned char>(c));
        std::fclose(f);
    }
    REQUIRE(file.size() == sizeof ist::detail::kDigitsCsvGz);
    CHECK(std::equal(file.begin(), file.end(), std::begin(ist::detail::kDigitsCsvGz)));
}

TEST_CASE("data: load_digits() needs no file and equals load_digits(dir)") {
    const ist::Dataset built_in = ist::load_digits();
    const ist::Dataset from_file = ist::load_digits(IST_DATA_DIR);
    CHECK(built_in.size() == 1797);
    CHECK(built_in.feature_count() == 64);
    CHECK(built_in.classes == 10);
    CHECK(built_in.name == "digits");
    CHECK(built_in.labels == from_file.labels);
    CHECK(built_in.features == from_file.features);
}

TEST_CASE("data: gunzip from memory refuses truncated and non-gzip bytes, naming the source") {
    const std::span<const unsigned char> all(ist::detail::kDigitsCsvGz);
    CHECK(ist::detail::gunzip(all, "x").size() > all.size());
    CHECK_THROWS_WITH_AS(ist::detail::gunzip(all.first(all.size() / 2), "half.gz"),
                         "half.gz: corrupt or truncated gzip data", ist::DataError);
    const unsigned char text[] = {'1', ',', '2', '\n'};
    CHECK_THROWS_WITH_AS(ist::detail::gunzip(text, "plain.csv"), "plain.csv: corrupt or truncated gzip data",
                         ist::DataError);
    CHECK_THROWS_WITH_AS(ist::detail::gunzip({}, "empty.gz"), "empty.gz: corrupt or truncated gzip data",
                         ist::DataError);
}
