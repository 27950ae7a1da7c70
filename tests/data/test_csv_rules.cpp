// CSV edge cases against hand-written expectations (issue 36): CRLF line ends, blank lines, a '+'
// sign, -0, the integer fast path's 15-digit boundary, a label column in the middle, and the exact
// line and column of every refusal (quoted fields, a byte-order mark, trailing separators, ragged
// rows), also when the text is parsed in several blocks on several threads.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include <ist/data/csv.hpp>

using namespace ist;

namespace {

std::string csv_error(const std::string& text, const CsvOptions& options = {}, std::size_t threads = 1) {
    LoadOptions load;
    load.threads = threads;
    try {
        parse_csv(text, "t.csv", options, load);
    } catch (const DataError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST_CASE("csv rules: CRLF, blank lines, signs, -0 and the 15-digit integer boundary parse to the right values") {
    const std::string text = "1.5,+2,-0,0\r\n\r\n  \r\n123456789012345,99999999999999,-7,1\r\n-1e-3 ,\t4 ,8,2\r\n";
    const Dataset d = parse_csv(text, "t.csv");
    REQUIRE(d.size() == 3);
    REQUIRE(d.feature_count() == 3);
    CHECK(d.features(0, 0) == 1.5f);
    CHECK(d.features(0, 1) == 2.0f);
    CHECK(d.features(0, 2) == 0.0f);
    CHECK(std::signbit(d.features(0, 2)));
    CHECK(d.features(1, 0) == static_cast<float>(123456789012345.0));
    CHECK(d.features(1, 1) == static_cast<float>(99999999999999.0));
    CHECK(d.features(1, 2) == -7.0f);
    CHECK(d.features(2, 0) == -1e-3f);
    CHECK(d.features(2, 1) == 4.0f);
    CHECK(d.labels == Labels{0, 1, 2});
    CHECK(d.classes == 3);
}

TEST_CASE("csv rules: a label column in the middle, and a header") {
    CsvOptions o;
    o.label_column = 1;
    o.header = true;
    const Dataset d = parse_csv("a,label,b\n10,3,20\n30,0,40\n", "t.csv", o);
    REQUIRE(d.size() == 2);
    CHECK(d.features(0, 0) == 10.0f);
    CHECK(d.features(0, 1) == 20.0f);
    CHECK(d.features(1, 1) == 40.0f);
    CHECK(d.labels == Labels{3, 0});
}

TEST_CASE("csv rules: rows without a label (labelled = false) are all features; csv_shape reads the header and width") {
    CsvOptions o;
    o.labelled = false;
    o.classes = 4;
    o.detect_header = true;
    const std::string text = "\n x , y ,z\n1,2,3\n4.5,-5,6\n";
    const Dataset d = parse_csv(text, "t.csv", o);
    REQUIRE(d.size() == 2);
    REQUIRE(d.feature_count() == 3);
    CHECK(d.features(0, 2) == 3.0f);
    CHECK(d.features(1, 0) == 4.5f);
    CHECK(d.features(1, 1) == -5.0f);
    CHECK(d.labels == Labels{kUnlabeled, kUnlabeled});
    CHECK(d.classes == 4);
    const CsvShape shape = csv_shape(text, o);
    CHECK(shape.header == std::vector<std::string>{"x", "y", "z"});
    CHECK(shape.columns == 3);
    const CsvShape plain = csv_shape("1,2\n3,4\n", o);
    CHECK(plain.header.empty());
    CHECK(plain.columns == 2);
    CHECK(csv_error("1,2\n3\n", o) == "t.csv: line 2: expected 2 fields, found 1");
}

TEST_CASE("csv rules: refusals name the line and column: quotes, a byte-order mark, trailing separators, ragged rows") {
    CHECK(csv_error("1,2,0\n\"3\",4,1\n") == "t.csv: line 2, column 1: '\"3\"' is not a number");
    CHECK(csv_error("\xEF\xBB\xBF" "1,2,0\n") == "t.csv: line 1, column 1: '\xEF\xBB\xBF" "1' is not a number");
    CHECK(csv_error("1,2,0\n3,4,1,\n") == "t.csv: line 2: expected 3 fields, found 4");
    CHECK(csv_error("1,2,0\r\n\r\n3,4\r\n") == "t.csv: line 3: expected 3 fields, found 2");
    CHECK(csv_error("1,2,0\n3,x,1\n") == "t.csv: line 2, column 2: 'x' is not a number");
    CHECK(csv_error("1,2,0\n3,4,1.5\n") == "t.csv: line 2, column 3: label '1.5' is not a non-negative integer");
    CHECK(csv_error("1,2,0\n3,4,-1\n") == "t.csv: line 2, column 3: label '-1' is not a non-negative integer");
    CHECK(csv_error("1,2,0\n3,1e39,1\n") == "t.csv: line 2, column 2: feature '1e39' is not a finite float");
    CsvOptions two;
    two.classes = 2;
    CHECK(csv_error("1,2,0\n3,4,2\n", two) == "t.csv: line 2, column 3: label 2 is out of range for 2 classes");
}

TEST_CASE("csv rules: several blocks on several threads keep every row in place and every line number exact") {
    // ~3.4 MB: three blocks of at least 1 MB; every 1000th line blank, so line != row + 1.
    std::string text;
    std::size_t line = 0, bad_line = 0;
    for (std::size_t row = 0; row < 300000; ++row) {
        if (row % 1000 == 999) text += "\n", ++line;
        text += std::to_string(row) + "," + std::to_string(row % 7) + "\n";
        ++line;
        if (row == 280000) bad_line = line;
    }
    LoadOptions three;
    three.threads = 3;
    const Dataset d = parse_csv(text, "t.csv", {}, three);
    REQUIRE(d.size() == 300000);
    for (std::size_t row : {0ul, 999ul, 1000ul, 123456ul, 200001ul, 299999ul}) {
        CHECK(d.features(row, 0) == static_cast<float>(row));
        CHECK(d.labels[row] == row % 7);
    }
    const std::size_t at = text.find("\n280000,") + 1;
    std::string spoiled = text;
    spoiled.replace(at, 6, "28000x");
    CHECK(csv_error(spoiled, {}, 3) == "t.csv: line " + std::to_string(bad_line) + ", column 1: '28000x' is not a number");
}
