// Loaders at scale: the span entry points give what the path ones give, .npz members are refused
// over LoadOptions::max_bytes before allocation, and a mapped .npy serves chosen rows only.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/data/graph_loaders.hpp>
#include <ist/io/npz.hpp>

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

doctest::Contains says(const std::string& fragment) { return doctest::Contains(fragment.c_str()); }

/// A scratch folder removed on destruction.
struct Scratch {
    fs::path dir = fs::temp_directory_path() / ("ist_test_mem_" + std::to_string(std::random_device{}()));
    Scratch() { fs::create_directories(dir); }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string write(const std::string& name, const Bytes& b) const {
        std::ofstream out(dir / name, std::ios::binary);
        out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
        return (dir / name).string();
    }
};

Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes read_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}

const std::vector<float> x6{0.5f, -1.0f, 2.0f, 0.0f, 3.25f, -7.5f};
const std::vector<std::uint32_t> y3{2, 0, 1};

Bytes small_npz(const Scratch& s) {
    ist::NpzWriter w;
    w.add("x", x6.data(), {3, 2});
    w.add("y", y3);
    const std::string path = (s.dir / "small.npz").string();
    w.write_atomically(path);
    return read_bytes(path);
}

void check_same(const ist::Dataset& a, const ist::Dataset& b) {
    CHECK(a.features == b.features);
    CHECK(a.labels == b.labels);
    CHECK(a.classes == b.classes);
    CHECK(a.name == b.name);
}

}  // namespace

TEST_CASE("data: span entry points load what the path ones load, naming the given name") {
    Scratch s;
    const std::string csv = "1,2,0\n3.5,-4,1\n\n";
    const std::string csv_path = s.write("a.csv", bytes_of(csv));
    check_same(ist::parse_csv(csv, csv_path), ist::load_csv(csv_path));

    const Bytes xb = ist::detail::npy::npy_image(x6.data(), {3, 2});
    const Bytes yb = ist::detail::npy::npy_image(y3.data(), {3});
    const std::string xp = s.write("x.npy", xb), yp = s.write("y.npy", yb);
    check_same(ist::parse_npy(xb, xp, yb, yp), ist::load_npy(xp, yp));

    const Bytes npz = small_npz(s);
    const std::string npz_path = s.write("b.npz", npz);
    check_same(ist::parse_npz(npz, npz_path), ist::load_npz(npz_path));
    CHECK_THROWS_WITH_AS(ist::parse_npz(npz, "memory.npz", "x", "nope"), says("memory.npz: missing key 'nope'"),
                         ist::DataError);

    const ist::Graph g = ist::parse_edge_list("0 1\n1 2\n", "edges.txt");
    CHECK(g.nodes() == 3);
    CHECK_THROWS_WITH_AS(ist::parse_edge_list("0 x\n", "edges.txt"), says("edges.txt: line 1: 'x' is not a node id"),
                         ist::DataError);

    const ist::NpzArchive archive(std::span<const unsigned char>(npz), "in-memory.npz");
    CHECK(archive.values<std::uint32_t>("y") == y3);
    CHECK_THROWS_WITH_AS(archive.values<std::uint32_t>("z"), says("in-memory.npz: missing array 'z'"), ist::DataError);
}

TEST_CASE("data: an IDX pair parses from memory with the names in messages") {
    Bytes images{0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 255, 51, 102};
    Bytes labels{0, 0, 8, 1, 0, 0, 0, 2, 3, 1};
    const ist::Dataset d = ist::parse_idx(images, "img", labels, "lab");
    CHECK(d.features(0, 1) == 1.0f);
    CHECK(d.labels == ist::Labels{3, 1});
    labels[9] = 11;
    CHECK_THROWS_WITH_AS(ist::parse_idx(images, "img", labels, "lab"),
                         says("lab: label 11 at index 1 (offset 9) is out of range for 10 classes"), ist::DataError);
}

TEST_CASE("data: CSV parsed straight into the matrix keeps every row, and a ragged line wins over a bad cell") {
    std::string text = "a,b,label\n";
    for (int i = 0; i < 5000; ++i) text += std::to_string(i) + "," + std::to_string(-i) + ".5," + std::to_string(i % 7) + "\r\n";
    ist::CsvOptions header;
    header.header = true;
    const ist::Dataset d = ist::parse_csv(text, "big.csv", header);
    REQUIRE(d.size() == 5000);
    CHECK(d.features(4999, 0) == 4999.0f);
    CHECK(d.features(4999, 1) == -4999.5f);
    CHECK(d.labels[4999] == 4999 % 7);
    CHECK(d.classes == 7);
    CHECK_THROWS_WITH_AS(ist::parse_csv("1,2,0\nx,2\n", "r.csv"), says("r.csv: line 2: expected 3 fields, found 2"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(ist::parse_csv("1,2,0\n1,x,0,4\n", "r.csv"), says("r.csv: line 2: expected 3 fields, found 4"),
                         ist::DataError);
}

TEST_CASE("data: gunzip joins concatenated gzip members and ignores trailing bytes, as gzread does") {
    const auto gz = [](const std::string& text) {
        Bytes out(compressBound(static_cast<uLong>(text.size())) + 32);
        z_stream z{};
        deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
        z.avail_in = static_cast<uInt>(text.size());
        z.next_out = out.data();
        z.avail_out = static_cast<uInt>(out.size());
        deflate(&z, Z_FINISH);
        out.resize(z.total_out);
        deflateEnd(&z);
        return out;
    };
    Bytes both = gz("1,2,0\n");
    const Bytes second = gz("3,4,1\n");
    both.insert(both.end(), second.begin(), second.end());
    CHECK(ist::detail::gunzip(both, "two.gz") == "1,2,0\n3,4,1\n");
    both.push_back('x');
    CHECK(ist::detail::gunzip(both, "two.gz") == "1,2,0\n3,4,1\n");
    Scratch s;
    CHECK(ist::load_csv(s.write("two.csv.gz", both)).size() == 2);
}

TEST_CASE("data: an npz member over LoadOptions::max_bytes is refused before it is read, naming both sizes") {
    Scratch s;
    const Bytes npz = small_npz(s);
    const std::string path = s.write("limit.npz", npz);
    ist::LoadOptions tight;
    tight.max_bytes = 100;
    const std::size_t x_size = ist::detail::npy::npy_image(x6.data(), {3, 2}).size();
    CHECK_THROWS_WITH_AS(ist::load_npz(path, "x", "y", 0, tight),
                         says(path + "[x.npy]: declared size of " + std::to_string(x_size) +
                             " bytes is over the limit of 100 bytes (LoadOptions::max_bytes)"),
                         ist::DataError);
    tight.max_bytes = x_size;
    CHECK(ist::load_npz(path, "x", "y", 0, tight).size() == 3);
}

TEST_CASE("data: a mapped .npy serves chosen rows, and a short file is refused when opened") {
    Scratch s;
    std::vector<float> x(5 * 3);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i) * 0.25f;
    const std::vector<std::uint8_t> y{0, 1, 2, 3, 4};
    const std::string xp = s.write("x.npy", ist::detail::npy::npy_image(x.data(), {5, 3}));
    const std::string yp = s.write("y.npy", ist::detail::npy::npy_image(y.data(), {5}));

    const std::vector<std::size_t> rows{4, 1, 1};
    const ist::Dataset d = ist::load_npy_rows(xp, yp, rows);
    const ist::Dataset all = ist::load_npy(xp, yp);
    REQUIRE(d.size() == 3);
    CHECK(d.classes == 5);  // from all labels, so every shard agrees
    CHECK(d.labels == ist::Labels{4, 1, 1});
    for (std::size_t k = 0; k < rows.size(); ++k)
        for (std::size_t j = 0; j < 3; ++j) CHECK(d.features(k, j) == all.features(rows[k], j));

    ist::MappedNpy mapped(xp);
    CHECK(mapped.rows() == 5);
    CHECK(mapped.cols() == 3);
    std::vector<float> row(3);
    CHECK_THROWS_WITH_AS(mapped.read_row(5, row.data()), says(xp + ": row 5 is out of range for 5 rows"),
                         ist::ConfigError);

    Bytes cut = read_bytes(xp);
    cut.resize(cut.size() - 4);
    const std::string short_path = s.write("short.npy", cut);
    CHECK_THROWS_WITH_AS(ist::MappedNpy{short_path}, says(short_path + ": truncated data: shape (5, 3)"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(ist::load_npy_rows(xp, s.write("y4.npy", ist::detail::npy::npy_image(y.data(), {4})), rows),
                         says("rows mismatch"), ist::DataError);
}

TEST_CASE("data: the digits-only fast path of the CSV parser gives what from_chars gives") {
    // -0 stays negative zero, leading zeros and 14-digit integers are exact, 15 digits and more
    // (and a digit as the delimiter) go through from_chars.
    const ist::Dataset d = ist::parse_csv("-0,007,12345678901234,123456789012345678,0\n", "fast.csv");
    CHECK(std::signbit(d.features(0, 0)));
    CHECK(d.features(0, 1) == 7.0f);
    CHECK(d.features(0, 2) == static_cast<float>(12345678901234.0));
    CHECK(d.features(0, 3) == static_cast<float>(123456789012345678.0));
    ist::CsvOptions digit;
    digit.delimiter = '9';
    const ist::Dataset odd = ist::parse_csv("1929390\n", "digit.csv", digit);
    CHECK(odd.features(0, 0) == 1.0f);
    CHECK(odd.features(0, 1) == 2.0f);
    CHECK(odd.features(0, 2) == 3.0f);
    CHECK(odd.labels[0] == 0);
}
