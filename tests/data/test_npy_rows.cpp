// Mapped .npy rows against files written by hand here (issue 36): load_npy_rows and load_npy_shard
// put file row r's values (a formula of r and the column) where they belong, for float32 and
// float64 files of more rows than one page-release span, and name the row and column of a NaN.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <ist/data/mapped_npy.hpp>
#include "../scratch.hpp"

using namespace ist;

namespace {

std::string npy_scratch(const std::string& name) {
    return ist::test::scratch_path("npy_rows", name).string();
}

/// A version 1.0 .npy: magic, header length, the dict padded with spaces to a multiple of 64, data.
template <class T>
void write_npy(const std::string& path, const std::string& descr, const std::string& shape, const std::vector<T>& values) {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    while ((10 + dict.size() + 1) % 64 != 0) dict += ' ';
    dict += '\n';
    std::ofstream out(path, std::ios::binary);
    out.write("\x93NUMPY\x01\x00", 8);
    const auto length = static_cast<std::uint16_t>(dict.size());
    out.put(static_cast<char>(length & 0xFF)).put(static_cast<char>(length >> 8));
    out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
    out.write(reinterpret_cast<const char*>(values.data()), static_cast<std::streamsize>(values.size() * sizeof(T)));
}

constexpr std::size_t kRows = 5000, kCols = 3;  // more rows than one release span (2,048)

double value_at(std::size_t r, std::size_t c) { return static_cast<double>(r) * 4.0 + static_cast<double>(c) + 0.5; }

struct NpyPair {
    std::string features, labels;
    explicit NpyPair(const std::string& descr) : features(npy_scratch(descr.substr(1) + "_x.npy")), labels(npy_scratch(descr.substr(1) + "_y.npy")) {
        std::vector<std::int64_t> y(kRows);
        for (std::size_t r = 0; r < kRows; ++r) y[r] = static_cast<std::int64_t>(r % 5);
        write_npy(labels, "<i8", "(" + std::to_string(kRows) + ",)", y);
        const std::string shape = "(" + std::to_string(kRows) + ", " + std::to_string(kCols) + ")";
        if (descr == "<f4") {
            std::vector<float> x(kRows * kCols);
            for (std::size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(value_at(k / kCols, k % kCols));
            write_npy(features, descr, shape, x);
        } else {
            std::vector<double> x(kRows * kCols);
            for (std::size_t k = 0; k < x.size(); ++k) x[k] = value_at(k / kCols, k % kCols);
            write_npy(features, descr, shape, x);
        }
    }
    ~NpyPair() {
        std::filesystem::remove(features);
        std::filesystem::remove(labels);
    }
};

}  // namespace

TEST_CASE("npy rows: load_npy_rows reads the asked file rows, in order, repeats allowed (float32 and float64)") {
    for (const char* descr : {"<f4", "<f8"}) {
        const NpyPair files(descr);
        const std::vector<std::size_t> wanted{4999, 0, 7, 7, 2048, 2047, 4096, 1};
        const Dataset d = load_npy_rows(files.features, files.labels, wanted);
        REQUIRE(d.size() == wanted.size());
        REQUIRE(d.feature_count() == kCols);
        CHECK(d.classes == 5);
        for (std::size_t i = 0; i < wanted.size(); ++i) {
            for (std::size_t c = 0; c < kCols; ++c)
                CHECK_MESSAGE(d.features(i, c) == static_cast<float>(value_at(wanted[i], c)), descr << " row " << i);
            CHECK(d.labels[i] == wanted[i] % 5);
        }
    }
}

TEST_CASE("npy rows: load_npy_shard fills only the shard's rows, each at its place, labels for all") {
    const NpyPair files("<f4");
    std::vector<std::uint32_t> file_rows;
    for (std::uint32_t r = 0; r < kRows; r += 2) file_rows.push_back(kRows - 1 - r);  // 4999, 4997, ..., 1
    std::vector<std::uint32_t> filled;
    for (std::uint32_t i = 3; i < file_rows.size(); i += 3) filled.push_back(i);
    const Dataset d = load_npy_shard(files.features, files.labels, file_rows, filled);
    REQUIRE(d.size() == file_rows.size());
    std::vector<bool> is_filled(file_rows.size(), false);
    for (std::uint32_t i : filled) is_filled[i] = true;
    for (std::size_t i = 0; i < file_rows.size(); ++i) {
        CHECK(d.labels[i] == file_rows[i] % 5);
        for (std::size_t c = 0; c < kCols; ++c) {
            const float want = is_filled[i] ? static_cast<float>(value_at(file_rows[i], c)) : 0.0f;
            if (d.features(i, c) != want) FAIL_CHECK("row " << i << " (file row " << file_rows[i] << "), column " << c);
        }
    }
}

TEST_CASE("npy rows: a NaN is refused naming its file row and column, however the rows are read") {
    const std::string x = npy_scratch("nan_x.npy"), y = npy_scratch("nan_y.npy");
    std::vector<float> values(kRows * kCols, 1.0f);
    values[3001 * kCols + 2] = std::nanf("");
    write_npy(x, "<f4", "(" + std::to_string(kRows) + ", 3)", values);
    write_npy(y, "<i8", "(" + std::to_string(kRows) + ",)", std::vector<std::int64_t>(kRows, 0));
    const std::vector<std::size_t> rows{5, 3001};
    try {
        load_npy_rows(x, y, rows);
        FAIL("a NaN was read");
    } catch (const DataError& e) {
        CHECK(std::string(e.what()).find("feature 2 of row 3001 is not a finite float") != std::string::npos);
    }
    std::filesystem::remove(x);
    std::filesystem::remove(y);
}
