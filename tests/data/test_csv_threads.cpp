// The CSV parser split over threads by blocks of lines (LoadOptions::threads) gives the
// single-threaded result bit for bit, and the same first error in file order.
#include <doctest/doctest.h>

#include <cstring>
#include <string>

#include <ist/data/csv.hpp>

namespace {

/// About 6 MB of CSV (a block needs 1 MB to get a thread): a header, blank lines here and there,
/// integer and decimal cells, the label in column 2.
std::string big_csv() {
    std::string text = "a,b,label,c,d,e,f,g\n";
    for (std::size_t i = 0; i < 120000; ++i) {
        if (i % 9973 == 5) text += "\n  \n";
        text += std::to_string(i % 251) + "," + std::to_string(static_cast<double>(i) * 0.37) + "," +
                std::to_string(i % 7) + ",-" + std::to_string(i % 1000) + ",1e-3,+2.5," +
                std::to_string(i * 977 % 65536) + ",0.125\n";
    }
    return text;
}

ist::Dataset parse(const std::string& text, std::size_t threads) {
    ist::CsvOptions options;
    options.label_column = 2;
    options.detect_header = true;
    ist::LoadOptions load;
    load.threads = threads;
    return ist::parse_csv(text, "big.csv", options, load);
}

std::string error_of(const std::string& text, std::size_t threads) {
    try {
        parse(text, threads);
    } catch (const ist::DataError& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("data: csv parsed by 2, 3, 4 and all hardware threads is bit-identical to 1 thread") {
    const std::string text = big_csv();
    const ist::Dataset one = parse(text, 1);
    REQUIRE(one.size() == 120000);
    REQUIRE(one.feature_count() == 7);
    for (std::size_t threads : {2, 3, 4, 0}) {
        CAPTURE(threads);
        const ist::Dataset many = parse(text, threads);
        REQUIRE(many.features.shape() == one.features.shape());
        CHECK(std::memcmp(many.features.data(), one.features.data(), one.features.size() * sizeof(float)) == 0);
        CHECK(many.labels == one.labels);
        CHECK(many.classes == one.classes);
    }
}

TEST_CASE("data: csv parsed by threads reports the first bad line in file order, with its line number") {
    std::string text = big_csv();
    // Two bad cells: one near the end (the last block), one in the middle (an earlier block).
    const std::size_t late = text.rfind(",0.125\n", text.size() - 5000);
    text.replace(late + 1, 5, "0.1x5");
    const std::string late_error = error_of(text, 1);
    CHECK(late_error.find("big.csv: line ") == 0);
    CHECK(late_error.find("'0.1x5' is not a number") != std::string::npos);
    for (std::size_t threads : {2, 4}) CHECK(error_of(text, threads) == late_error);

    const std::size_t middle = text.find(",1e-3,", text.size() / 2);
    text.replace(middle + 1, 4, "1,2,");  // a ragged line: two fields too many
    const std::string first_error = error_of(text, 1);
    CHECK(first_error.find("expected 8 fields, found 10") != std::string::npos);
    for (std::size_t threads : {2, 3, 4}) CHECK(error_of(text, threads) == first_error);
}

TEST_CASE("data: csv with threads handles files smaller than a block, a header alone and no final newline") {
    for (std::size_t threads : {1, 4}) {
        CAPTURE(threads);
        CHECK(parse("x,y,label\n1,2,0\n3,4,1", threads).size() == 2);
        CHECK(error_of("x,y,label\n\n", threads) == "big.csv: empty file (no data rows)");
    }
}
