// The Extreme Classification Repository and libsvm loaders: exact parses, a round trip, and one
// malformed input per documented error, checked for DataError and its line and column.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <ist/data/libsvm.hpp>
#include <ist/data/xml_repository.hpp>

namespace {

doctest::Contains has(const std::string& fragment) { return doctest::Contains(fragment.c_str()); }

ist::SparseDataset xml(const std::string& text, ist::XmlOptions options = {}) {
    return ist::parse_xml_repository(text, "t.txt", options);
}

std::vector<std::uint32_t> as_vector(std::span<const std::uint32_t> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("xml: the repository format parses into sorted CSR rows and label sets") {
    const ist::SparseDataset d = xml("3 6 4\n2,0 5:0.5 1:2\n3 0:1e-3\n\n1,2,3 4:-1.5 2:+3\n");
    CHECK(d.size() == 3);
    CHECK(d.feature_count() == 6);
    CHECK(d.classes == 4);
    CHECK(d.features.nnz() == 5);
    CHECK(as_vector(d.features.row_indices(0)) == std::vector<std::uint32_t>{1, 5});
    CHECK(d.features.row_values(0)[0] == 2.0f);
    CHECK(d.features.row_values(0)[1] == 0.5f);
    CHECK(as_vector(d.labels.of(0)) == std::vector<std::uint32_t>{0, 2});
    CHECK(as_vector(d.labels.of(2)) == std::vector<std::uint32_t>{1, 2, 3});
    CHECK(d.features.row_values(2)[1] == -1.5f);
    CHECK_NOTHROW(d.validate());
}

TEST_CASE("xml: format_xml_repository reads back to the same data set") {
    const ist::SparseDataset d = xml("2 1000 7\n6 999:0.1 3:0.333333343\n0,1 7:1\n");
    const ist::SparseDataset back = xml(ist::format_xml_repository(d));
    CHECK(back.features.indices == d.features.indices);
    CHECK(back.features.values == d.features.values);
    CHECK(back.features.indptr == d.features.indptr);
    CHECK(back.labels.indices == d.labels.indices);
    CHECK(back.labels.indptr == d.labels.indptr);
}

TEST_CASE("xml: a row without labels is refused unless allowed, and then kept empty") {
    CHECK_THROWS_WITH_AS(xml("1 4 2\n 1:1\n"), has("t.txt: line 2, column 1: empty label set"), ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2\n1:1\n"), has("t.txt: line 2, column 1: empty label set"), ist::DataError);
    const ist::SparseDataset d = xml("2 4 2\n 1:1\n1 2:1\n", {.allow_empty_label_sets = true});
    CHECK(d.labels.of(0).empty());
    CHECK(d.labels.of(1).size() == 1);
}

TEST_CASE("xml: a missing or malformed header is named") {
    CHECK_THROWS_WITH_AS(xml(""), has("t.txt: line 1: missing header"), ist::DataError);
    CHECK_THROWS_WITH_AS(xml("0,1 3:1\n"), has("t.txt: line 1, column 1: '0,1' is not a count (the first line must be"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4\n0 1:1\n"), has("t.txt: line 1, column 4: '' is not a count"), ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2 9\n0 1:1\n"), has("line 1, column 7: more than three counts"), ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 0 2\n0 1:1\n"), has("zero features or labels"), ist::DataError);
}

TEST_CASE("xml: the point count must match the header") {
    CHECK_THROWS_WITH_AS(xml("3 4 2\n0 1:1\n1 2:1\n"), has("t.txt: the header declares 3 points, the file has 2"),
                         ist::DataError);
}

TEST_CASE("xml: indices past the header's widths are refused at their column") {
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0 1:1 4:1\n"),
                         has("t.txt: line 2, column 7: feature index 4 is past the header's width of 4 features"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0,2 1:1\n"),
                         has("t.txt: line 2, column 3: label 2 is out of range for the 2 declared labels"), ist::DataError);
}

TEST_CASE("xml: duplicates in a row are refused, not summed") {
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0 3:1 1:1 3:2\n"),
                         has("t.txt: line 2, column 11: feature index 3 appears twice in the row (duplicates are refused"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 3\n1,0,1 3:1\n"), has("t.txt: line 2, column 5: label 1 appears twice in the row"),
                         ist::DataError);
}

TEST_CASE("xml: bad numbers name the token") {
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0 1:x\n"), has("t.txt: line 2, column 5: 'x' is not a number"), ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0 1:1e99\n"), has("line 2, column 5: feature '1e99' is not a finite float"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0 -1:1\n"), has("line 2, column 3: feature index '-1' is not a non-negative integer"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0 1\n"), has("line 2, column 3: '1' is not index:value"), ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2\n0,,1 1:1\n"), has("line 2, column 3: label '' is not a non-negative integer"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(xml("1 4 2\nx 1:1\n"), has("line 2, column 1: label 'x' is not a non-negative integer"),
                         ist::DataError);
}

TEST_CASE("xml: a test set must have its training set's widths") {
    const ist::SparseDataset train = xml("1 4 3\n0 1:1\n");
    CHECK_NOTHROW(ist::check_test_fits_train(train, xml("1 4 2\n1 1:1\n")));
    CHECK_THROWS_WITH_AS(ist::check_test_fits_train(train, xml("1 5 3\n0 1:1\n")),
                         has("t.txt: 5 features, the training set t.txt has 4"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::check_test_fits_train(train, xml("1 4 4\n0 1:1\n")),
                         has("t.txt: 4 labels, the training set t.txt has 3"), ist::DataError);
}

TEST_CASE("xml: libsvm single-label files use 1-based indices and infer widths") {
    const ist::SparseDataset d = ist::parse_libsvm("2 1:0.5 7:1 # a comment\n0 3:2\n", "s.svm");
    CHECK(d.size() == 2);
    CHECK(d.feature_count() == 7);
    CHECK(d.classes == 3);
    CHECK(as_vector(d.features.row_indices(0)) == std::vector<std::uint32_t>{0, 6});
    CHECK(as_vector(d.labels.of(1)) == std::vector<std::uint32_t>{0});
    CHECK_NOTHROW(d.validate());
}

TEST_CASE("xml: libsvm multi-label files and their errors") {
    const ist::LibsvmOptions multi{.multi_label = true};
    const ist::SparseDataset d = ist::parse_libsvm("3,1 2:1\n0 1:1\n", "m.svm", multi);
    CHECK(as_vector(d.labels.of(0)) == std::vector<std::uint32_t>{1, 3});
    CHECK(d.classes == 4);
    CHECK_THROWS_WITH_AS(ist::parse_libsvm("1 0:1\n", "s.svm"),
                         has("s.svm: line 1, column 3: feature index 0 is below the first index 1"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::parse_libsvm("-1 1:1\n", "s.svm"),
                         has("s.svm: line 1, column 1: label '-1' is not a non-negative integer"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::parse_libsvm("1,2 1:1\n", "s.svm"), has("s.svm: line 1, column 1: label '1,2' is not a number"),
                         ist::DataError);
    const ist::LibsvmOptions narrow{.features = 3, .classes = 2};
    CHECK_THROWS_WITH_AS(ist::parse_libsvm("1 4:1\n", "s.svm", narrow),
                         has("s.svm: line 1, column 3: feature index 4 is past LibsvmOptions::features of 3 features"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(ist::parse_libsvm("2 1:1\n", "s.svm", narrow),
                         has("s.svm: line 1, column 1: label 2 is out of range for the 2 declared labels"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::parse_libsvm("\n\n", "s.svm"), has("s.svm: no rows"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::parse_libsvm(" 1:1\n", "s.svm"), has("s.svm: line 1, column 1: no label"), ist::DataError);
}

TEST_CASE("xml: validate refuses unsorted rows and bad offsets built by hand") {
    ist::SparseDataset d = xml("1 4 2\n0 1:1 2:1\n");
    d.features.indices = {2, 1};
    CHECK_THROWS_WITH_AS(d.validate(), has("t.txt: row 0: feature indices are not sorted and distinct"), ist::DataError);
    d.features.indices = {1, 9};
    CHECK_THROWS_WITH_AS(d.validate(), has("t.txt: row 0: feature 9 is out of range for 4"), ist::DataError);
    d.features.indices = {1, 2};
    d.labels.indptr = {0, 2};
    CHECK_THROWS_WITH_AS(d.validate(), has("label row offsets do not cover"), ist::DataError);
}

TEST_CASE("xml: subset keeps the chosen rows in order") {
    const ist::SparseDataset d = xml("3 4 3\n0 0:1\n1 1:2\n2 2:3\n");
    const std::vector<std::uint32_t> rows{2, 0};
    const ist::SparseDataset s = ist::subset(d, rows);
    CHECK(s.size() == 2);
    CHECK(as_vector(s.labels.of(0)) == std::vector<std::uint32_t>{2});
    CHECK(s.features.row_values(1)[0] == 1.0f);
    CHECK_THROWS_AS(ist::subset(d, std::vector<std::uint32_t>{3}), ist::DataError);
}
