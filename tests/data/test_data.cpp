// Data loaders: the bundled digits, exact round trips through every format, and one small
// malformed file per documented error, checked for its exception type and message.
#include <doctest/doctest.h>
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>

namespace {

namespace fs = std::filesystem;

/// Matches an exception message containing `fragment` (doctest::Contains wants a C string).
doctest::Contains has(const std::string& fragment) { return doctest::Contains(fragment.c_str()); }

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        std::random_device entropy;
        path_ = fs::temp_directory_path() /
                ("ist_test_data_" + std::to_string(entropy()) + "_" + std::to_string(counter++));
        fs::create_directories(path_);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }

    std::string path() const { return path_.string(); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

    /// Writes `bytes` to `name` as is and returns the full path.
    std::string write(const std::string& name, const std::string& bytes) const {
        std::ofstream out(file(name), std::ios::binary);
        out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
        REQUIRE(out.good());
        return file(name);
    }

    /// Writes `bytes` gzip-compressed to `name` and returns the full path.
    std::string write_gz(const std::string& name, const std::string& bytes) const {
        gzFile gz = gzopen(file(name).c_str(), "wb");
        REQUIRE(gz != nullptr);
        REQUIRE(gzwrite(gz, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
        REQUIRE(gzclose(gz) == Z_OK);
        return file(name);
    }

private:
    fs::path path_;
};

std::string read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Appends `v` as `n` little-endian bytes.
void put_le(std::string& out, std::uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
}

void put_be32(std::string& out, std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((v >> shift) & 0xFF);
}

/// Little-endian bytes of `values`, whatever the host's byte order.
template <class T>
std::string le_bytes(std::initializer_list<T> values) {
    std::string out;
    for (T v : values) {
        if constexpr (sizeof(T) == 1) out += static_cast<char>(v);
        else if constexpr (sizeof(T) == 4) put_le(out, std::bit_cast<std::uint32_t>(v), 4);
        else put_le(out, std::bit_cast<std::uint64_t>(v), 8);
    }
    return out;
}

/// A .npy image laid out as numpy writes it: magic, version, header length, a dict padded with
/// spaces and '\n' so the payload starts on a 64-byte boundary, then `payload`.
std::string npy(const std::string& descr, const std::string& shape, const std::string& payload, int major = 1,
                const std::string& fortran = "False") {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
    const std::size_t prefix = major == 1 ? 10 : 12;
    dict += std::string((64 - (prefix + dict.size() + 1) % 64) % 64, ' ') + '\n';
    std::string out = "\x93NUMPY";
    out += static_cast<char>(major);
    out += '\0';
    put_le(out, dict.size(), major == 1 ? 2 : 4);
    return out + dict + payload;
}

/// Raw deflate (no zlib/gzip wrapper), as zip stores method 8.
std::string raw_deflate(const std::string& data) {
    z_stream s{};
    REQUIRE(deflateInit2(&s, Z_BEST_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    std::string out(deflateBound(&s, data.size()), '\0');
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    s.avail_in = static_cast<uInt>(data.size());
    s.next_out = reinterpret_cast<Bytef*>(out.data());
    s.avail_out = static_cast<uInt>(out.size());
    REQUIRE(deflate(&s, Z_FINISH) == Z_STREAM_END);
    out.resize(s.total_out);
    deflateEnd(&s);
    return out;
}

struct ZipMember {
    std::string name;
    std::string data;
    unsigned method = 0;  ///< 0 stored, 8 deflate; anything else is written stored but labelled so
};

/// A minimal zip archive: local headers and data, central directory, end record.
std::string zip(const std::vector<ZipMember>& members) {
    std::string out, central;
    for (const ZipMember& m : members) {
        const auto crc = crc32(0L, reinterpret_cast<const Bytef*>(m.data.data()), static_cast<uInt>(m.data.size()));
        const std::string body = m.method == 8 ? raw_deflate(m.data) : m.data;
        const std::size_t offset = out.size();
        put_le(out, 0x04034b50, 4);
        put_le(out, 20, 2);  // version needed
        put_le(out, 0, 2);   // flags
        put_le(out, m.method, 2);
        put_le(out, 0, 2);     // time
        put_le(out, 0x21, 2);  // date 1980-01-01
        put_le(out, crc, 4);
        put_le(out, body.size(), 4);
        put_le(out, m.data.size(), 4);
        put_le(out, m.name.size(), 2);
        put_le(out, 0, 2);  // extra length
        out += m.name + body;

        put_le(central, 0x02014b50, 4);
        put_le(central, 20, 2);  // version made by
        put_le(central, 20, 2);  // version needed
        put_le(central, 0, 2);
        put_le(central, m.method, 2);
        put_le(central, 0, 2);
        put_le(central, 0x21, 2);
        put_le(central, crc, 4);
        put_le(central, body.size(), 4);
        put_le(central, m.data.size(), 4);
        put_le(central, m.name.size(), 2);
        put_le(central, 0, 2);  // extra
        put_le(central, 0, 2);  // comment
        put_le(central, 0, 2);  // disk
        put_le(central, 0, 2);  // internal attributes
        put_le(central, 0, 4);  // external attributes
        put_le(central, offset, 4);
        central += m.name;
    }
    const std::size_t cd_offset = out.size();
    out += central;
    put_le(out, 0x06054b50, 4);
    put_le(out, 0, 2);
    put_le(out, 0, 2);
    put_le(out, members.size(), 2);
    put_le(out, members.size(), 2);
    put_le(out, central.size(), 4);
    put_le(out, cd_offset, 4);
    put_le(out, 0, 2);
    return out;
}

/// An IDX image file of n images of rows x cols bytes.
std::string idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols, const std::string& pixels) {
    std::string out;
    put_be32(out, 0x00000803);
    put_be32(out, n);
    put_be32(out, rows);
    put_be32(out, cols);
    return out + pixels;
}

std::string idx_labels(const std::string& labels) {
    std::string out;
    put_be32(out, 0x00000801);
    put_be32(out, static_cast<std::uint32_t>(labels.size()));
    return out + labels;
}

// Three rows of two features and their labels, shared by the npy/npz round trips.
const std::string x32 = le_bytes<float>({1.5f, -2.0f, 0.25f, 3e-8f, 100.0f, -0.0f});
const std::string y64 = le_bytes<std::int64_t>({2, 0, 1});

void check_small(const ist::Dataset& d) {
    REQUIRE(d.size() == 3);
    REQUIRE(d.feature_count() == 2);
    const float want[] = {1.5f, -2.0f, 0.25f, 3e-8f, 100.0f, -0.0f};
    for (std::size_t k = 0; k < 6; ++k) CHECK(d.features(k / 2, k % 2) == want[k]);
    CHECK(d.labels == ist::Labels{2, 0, 1});
    CHECK(d.classes == 3);
}

}  // namespace

// ---- file bytes --------------------------------------------------------------------------------

TEST_CASE("data: read_file_bytes reads plain and gzip files to the same bytes") {
    TempDir dir;
    std::string text;
    for (int i = 0; i < 5000; ++i) text += std::to_string(i * 7919 % 1000) + (i % 10 ? "," : "\n");
    CHECK(ist::detail::read_file_text(dir.write("a.txt", text)) == text);
    CHECK(ist::detail::read_file_text(dir.write_gz("a.txt.gz", text)) == text);
    const auto bytes = ist::detail::read_file_bytes(dir.write_gz("b.gz", text));
    CHECK(std::string(bytes.begin(), bytes.end()) == text);
    CHECK(ist::detail::read_file_bytes(dir.write("empty", "")).empty());
}

TEST_CASE("data: read_file_bytes names the file when it is missing, corrupt or truncated") {
    TempDir dir;
    const std::string missing = dir.file("nope.csv");
    CHECK_THROWS_WITH_AS(ist::detail::read_file_bytes(missing), has(missing + ": cannot open"), ist::DataError);

    std::string text;
    for (int i = 0; i < 20000; ++i) text += std::to_string(i) + ",";
    const std::string gz = read_all(dir.write_gz("good.gz", text));
    REQUIRE(gz.size() > 100);

    std::string flipped = gz;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x55);
    const std::string corrupt = dir.write("corrupt.gz", flipped);
    CHECK_THROWS_WITH_AS(ist::detail::read_file_bytes(corrupt),
                         has(corrupt + ": corrupt or truncated gzip data"), ist::DataError);

    const std::string truncated = dir.write("truncated.gz", gz.substr(0, gz.size() - 40));
    CHECK_THROWS_WITH_AS(ist::detail::read_file_text(truncated),
                         has(truncated + ": corrupt or truncated gzip data"), ist::DataError);
}

// ---- digits ------------------------------------------------------------------------------------

TEST_CASE("data: load_digits gives the 1797 x 64 UCI digits scaled to [0, 1]") {
    const ist::Dataset d = ist::load_digits();
    REQUIRE(d.size() == 1797);
    REQUIRE(d.feature_count() == 64);
    CHECK(d.classes == 10);
    CHECK(d.name == "digits");
    CHECK(d.labels.size() == 1797);
    CHECK_NOTHROW(d.validate());

    // Per-class counts of the UCI test set (see data/README.md).
    std::vector<std::size_t> counts(10, 0);
    for (std::uint32_t l : d.labels) ++counts.at(l);
    CHECK(counts == std::vector<std::size_t>{178, 182, 177, 183, 181, 182, 181, 179, 174, 180});
    std::size_t total = 0;
    for (std::size_t c : counts) total += c;
    CHECK(total == 1797);

    // Row 0 is a zero whose third pixel count is 5; the last row is an 8.
    CHECK(d.labels[0] == 0);
    CHECK(d.features(0, 0) == 0.0f);
    CHECK(d.features(0, 2) == 5.0f / 16.0f);
    CHECK(d.features(0, 3) == 13.0f / 16.0f);
    CHECK(d.labels[1796] == 8);
    CHECK(xt::amin(d.features)() == 0.0f);
    CHECK(xt::amax(d.features)() == 1.0f);
}

TEST_CASE("data: load_digits names the missing file") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(ist::load_digits(dir.path()), has(dir.file("digits.csv.gz") + ": cannot open"),
                         ist::DataError);
    CHECK(ist::default_data_dir().ends_with("data"));
}

// ---- fashion-mnist -----------------------------------------------------------------------------

/// Where `apt-get install dataset-fashion-mnist` puts the data set.
constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

// Without the data set this case is skipped, not passed: the test program's summary counts it
// under "skipped" (and ctest, which lists only the cases that would run, does not show it).
TEST_CASE("data: load_fashion_mnist gives 60000 / 10000 rows of 784 pixels" *
          doctest::description("needs /usr/share/datasets/fashion-mnist (apt-get install dataset-fashion-mnist)") *
          doctest::skip(!fs::exists(kFashionMnistDir))) {
    const auto [train, test] = ist::load_fashion_mnist(kFashionMnistDir);
    CHECK(train.size() == 60000);
    CHECK(test.size() == 10000);
    CHECK(train.feature_count() == 784);
    CHECK(test.feature_count() == 784);
    CHECK(train.classes == 10);
    CHECK(train.name == "fashion-mnist/train");
    CHECK(xt::amin(train.features)() >= 0.0f);
    CHECK(xt::amax(train.features)() == 1.0f);
    std::vector<std::size_t> counts(10, 0);
    for (std::uint32_t l : test.labels) ++counts.at(l);
    CHECK(counts == std::vector<std::size_t>(10, 1000));  // the test set is balanced
}

TEST_CASE("data: load_fashion_mnist explains how to install a missing data set") {
    TempDir dir;
    CHECK_THROWS_WITH_AS(ist::load_fashion_mnist(dir.path()),
                         has("Fashion-MNIST not found in " + dir.path() +
                                  ": install it with `sudo apt-get install dataset-fashion-mnist`"),
                         ist::DataError);
}

// ---- csv ---------------------------------------------------------------------------------------

TEST_CASE("data: csv round trip, plain and gzip, with header, label column and delimiter") {
    TempDir dir;
    const std::string text = "label;a;b\r\n2; 1.5;-2\r\n0;0.25;3e-8\r\n\r\n1;+100;-0.0\r\n\r\n";
    ist::CsvOptions options;
    options.header = true;
    options.delimiter = ';';
    options.label_column = 0;
    check_small(ist::load_csv(dir.write("a.csv", text), options));
    const ist::Dataset gz = ist::load_csv(dir.write_gz("a.csv.gz", text), options);
    check_small(gz);
    CHECK(gz.name == dir.file("a.csv.gz"));

    // Label last by default; classes inferred as max + 1 unless given.
    const std::string path = dir.write("b.csv", "1,2,3\n4,5,0\n");
    const ist::Dataset inferred = ist::load_csv(path);
    CHECK(inferred.classes == 4);
    CHECK(inferred.labels == ist::Labels{3, 0});
    CHECK(inferred.features(1, 0) == 4.0f);
    ist::CsvOptions ten;
    ten.classes = 10;
    CHECK(ist::load_csv(path, ten).classes == 10);
}

TEST_CASE("data: csv errors name file, line and column") {
    TempDir dir;
    const auto load = [](const std::string& path, ist::CsvOptions options = {}) { return ist::load_csv(path, options); };

    const std::string text_cell = dir.write("text.csv", "1,2,0\n3,abc,1\n");
    CHECK_THROWS_WITH_AS(load(text_cell), has(text_cell + ": line 2, column 2: 'abc' is not a number"),
                         ist::DataError);
    const std::string empty_cell = dir.write("empty_cell.csv", "1,,0\n");
    CHECK_THROWS_WITH_AS(load(empty_cell), has(empty_cell + ": line 1, column 2: '' is not a number"),
                         ist::DataError);

    const std::string ragged = dir.write("ragged.csv", "1,2,0\n\n3,1\n");
    CHECK_THROWS_WITH_AS(load(ragged), has(ragged + ": line 3: expected 3 fields, found 2"), ist::DataError);

    const std::string empty = dir.write("empty.csv", "");
    CHECK_THROWS_WITH_AS(load(empty), has(empty + ": empty file"), ist::DataError);
    const std::string header_only = dir.write("header_only.csv", "a,b,label\n\n");
    ist::CsvOptions header;
    header.header = true;
    CHECK_THROWS_WITH_AS(load(header_only, header), has(header_only + ": empty file"), ist::DataError);

    const std::string nan = dir.write("nan.csv", "1,2,0\nnan,2,1\n");
    CHECK_THROWS_WITH_AS(load(nan), has(nan + ": line 2, column 1: feature 'nan' is not a finite float"),
                         ist::DataError);
    const std::string inf = dir.write("inf.csv", "1,-inf,0\n");
    CHECK_THROWS_WITH_AS(load(inf), has(inf + ": line 1, column 2: feature '-inf' is not a finite float"),
                         ist::DataError);
    const std::string huge = dir.write("huge.csv", "1e300,1,0\n");
    CHECK_THROWS_WITH_AS(load(huge), has(huge + ": line 1, column 1: feature '1e300' is not a finite float"),
                         ist::DataError);

    const std::string negative = dir.write("negative.csv", "1,2,0\n1,2,-1\n");
    CHECK_THROWS_WITH_AS(load(negative),
                         has(negative + ": line 2, column 3: label '-1' is not a non-negative integer"),
                         ist::DataError);
    const std::string fraction = dir.write("fraction.csv", "1,2,1.5\n");
    CHECK_THROWS_WITH_AS(load(fraction),
                         has(fraction + ": line 1, column 3: label '1.5' is not a non-negative integer"),
                         ist::DataError);
    const std::string text_label = dir.write("text_label.csv", "1,2,cat\n");
    CHECK_THROWS_WITH_AS(load(text_label), has(text_label + ": line 1, column 3: label 'cat' is not a number"),
                         ist::DataError);

    const std::string range = dir.write("range.csv", "1,2,0\n1,2,2.0\n1,2,3\n");
    ist::CsvOptions three;
    three.classes = 3;
    CHECK_THROWS_WITH_AS(load(range, three),
                         has(range + ": line 3, column 3: label 3 is out of range for 3 classes"), ist::DataError);
    CHECK(load(range).classes == 4);

    const std::string single = dir.write("single.csv", "1\n2\n");
    CHECK_THROWS_WITH_AS(load(single), has(single + ": line 1: found 1 field"), ist::DataError);
    ist::CsvOptions far;
    far.label_column = 3;
    CHECK_THROWS_WITH_AS(load(range, far), has("label_column 3 is outside the 3 columns of " + range),
                         ist::ConfigError);
    ist::CsvOptions bad;
    bad.label_column = -2;
    CHECK_THROWS_AS(load(range, bad), ist::ConfigError);
}

// ---- npy ---------------------------------------------------------------------------------------

TEST_CASE("data: npy round trip of float32 features and int64 labels") {
    TempDir dir;
    const ist::Dataset d = ist::load_npy(dir.write("x.npy", npy("<f4", "(3, 2)", x32)),
                                         dir.write("y.npy", npy("<i8", "(3,)", y64)));
    check_small(d);
    CHECK(d.name == dir.file("x.npy"));
    // gzip-compressed .npy files load the same way.
    check_small(ist::load_npy(dir.write_gz("x.npy.gz", npy("<f4", "(3, 2)", x32)),
                              dir.write_gz("y.npy.gz", npy("<i8", "(3,)", y64))));
}

TEST_CASE("data: npy converts every supported dtype, byte order, version and shape") {
    TempDir dir;
    const std::string y8 = dir.write("y8.npy", npy("|u1", "(3,)", std::string("\x02\x00\x01", 3)));
    const std::string x64 = le_bytes<double>({1.5, -2.0, 0.25, 3e-8, 100.0, -0.0});
    check_small(ist::load_npy(dir.write("f8.npy", npy("<f8", "(3, 2)", x64)), y8));
    check_small(ist::load_npy(dir.write("v2.npy", npy("<f4", "(3, 2)", x32, 2)), y8));
    check_small(ist::load_npy(dir.write("v3.npy", npy("<f4", "(3, 2)", x32, 3)), y8));

    // Big-endian float32: each element's bytes reversed.
    std::string be = x32;
    for (std::size_t k = 0; k < be.size(); k += 4) std::reverse(be.begin() + static_cast<long>(k), be.begin() + static_cast<long>(k) + 4);
    check_small(ist::load_npy(dir.write("be.npy", npy(">f4", "(3, 2)", be)), y8));

    // Integer features, labels as int32 column vector (N, 1).
    const std::string xi = dir.write("xi.npy", npy("<i4", "(3, 2)", le_bytes<std::int32_t>({-1, 2, 3, 4, 5, 255})));
    const std::string yi = dir.write("yi.npy", npy("<i4", "(3, 1)", le_bytes<std::int32_t>({4, 0, 1})));
    const ist::Dataset ints = ist::load_npy(xi, yi);
    CHECK(ints.features(0, 0) == -1.0f);
    CHECK(ints.features(2, 1) == 255.0f);
    CHECK(ints.labels == ist::Labels{4, 0, 1});
    CHECK(ints.classes == 5);
    CHECK(ist::load_npy(xi, yi, 7).classes == 7);

    // uint8 images of shape (2, 2, 3) flatten to 2 x 6.
    const std::string images = dir.write("img.npy", npy("|u1", "(2, 2, 3)", std::string("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\xff", 12)));
    const std::string y2 = dir.write("y2.npy", npy("<u4", "(2,)", le_bytes<std::uint32_t>({1, 1})));
    const ist::Dataset flat = ist::load_npy(images, y2);
    REQUIRE(flat.size() == 2);
    REQUIRE(flat.feature_count() == 6);
    CHECK(flat.features(1, 0) == 6.0f);
    CHECK(flat.features(1, 5) == 255.0f);
    CHECK(flat.classes == 2);
}

TEST_CASE("data: npy errors name file, offset and problem") {
    TempDir dir;
    const std::string x = dir.write("x.npy", npy("<f4", "(3, 2)", x32));
    const std::string y = dir.write("y.npy", npy("<i8", "(3,)", y64));

    const std::string text = dir.write("text.npy", "hello, world");
    CHECK_THROWS_WITH_AS(ist::load_npy(text, y), has(text + ": bad magic at offset 0"), ist::DataError);

    std::string v4 = npy("<f4", "(3, 2)", x32);
    v4[6] = 4;
    const std::string version = dir.write("v4.npy", v4);
    CHECK_THROWS_WITH_AS(ist::load_npy(version, y), has(version + ": unsupported .npy format version 4.0 at offset 6"),
                         ist::DataError);

    const std::string complex = dir.write("c8.npy", npy("<c8", "(3, 1)", x32));
    CHECK_THROWS_WITH_AS(ist::load_npy(complex, y), has(complex + ": unsupported dtype '<c8'"), ist::DataError);
    const std::string half = dir.write("f2.npy", npy("<f2", "(3, 2)", x32));
    CHECK_THROWS_WITH_AS(ist::load_npy(half, y), has(half + ": unsupported dtype '<f2'"), ist::DataError);
    const std::string float_labels = dir.write("yf.npy", npy("<f4", "(3,)", le_bytes<float>({0.f, 1.f, 2.f})));
    CHECK_THROWS_WITH_AS(ist::load_npy(x, float_labels),
                         has(float_labels + ": unsupported label dtype '<f4' (labels need an integer dtype)"),
                         ist::DataError);

    const std::string fortran = dir.write("fortran.npy", npy("<f4", "(3, 2)", x32, 1, "True"));
    CHECK_THROWS_WITH_AS(ist::load_npy(fortran, y), has(fortran + ": fortran_order arrays are not supported"),
                         ist::DataError);

    // (3, 2) float32 needs 24 payload bytes; the header pads the payload to offset 128.
    const std::string truncated = dir.write("short.npy", npy("<f4", "(3, 2)", x32.substr(0, 20)));
    CHECK_THROWS_WITH_AS(ist::load_npy(truncated, y),
                         has(truncated + ": truncated data: shape (3, 2) of '<f4' needs 6 x 4 bytes at offset 128, only 20 present"),
                         ist::DataError);
    const std::string short_header = dir.write("short_header.npy", npy("<f4", "(3, 2)", "").substr(0, 40));
    CHECK_THROWS_WITH_AS(ist::load_npy(short_header, y), has(short_header + ": truncated header"), ist::DataError);

    std::string no_shape = "\x93NUMPY\x01";
    no_shape += '\0';
    const std::string dict = "{'descr': '<f4', 'fortran_order': False}\n";
    put_le(no_shape, dict.size(), 2);
    const std::string missing_key = dir.write("no_shape.npy", no_shape + dict);
    CHECK_THROWS_WITH_AS(ist::load_npy(missing_key, y), has(missing_key + ": malformed .npy header: no 'shape' key"),
                         ist::DataError);
    const std::string garbled = dir.write("garbled.npy", npy("<f4", "(3; 2)", x32));
    CHECK_THROWS_WITH_AS(ist::load_npy(garbled, y), has(garbled + ": malformed .npy header at offset 62: expected ',' or ')' in the shape"),
                         ist::DataError);

    const std::string flat = dir.write("flat.npy", npy("<f4", "(6,)", x32));
    CHECK_THROWS_WITH_AS(ist::load_npy(flat, y), has(flat + ": features must have at least 2 dimensions"),
                         ist::DataError);
    const std::string wide_labels = dir.write("y32.npy", npy("<i8", "(3, 2)", y64 + y64));
    CHECK_THROWS_WITH_AS(ist::load_npy(x, wide_labels), has(wide_labels + ": labels must be 1-D, got shape (3, 2)"),
                         ist::DataError);

    const std::string two = dir.write("two.npy", npy("<i8", "(2,)", le_bytes<std::int64_t>({0, 1})));
    CHECK_THROWS_WITH_AS(ist::load_npy(x, two), has("rows mismatch: " + x + " has 3 rows but " + two + " has 2 labels"),
                         ist::DataError);

    CHECK_THROWS_WITH_AS(ist::load_npy(x, y, 2), has(y + ": label 2 at index 0 is out of range for 2 classes"),
                         ist::DataError);
    const std::string minus = dir.write("minus.npy", npy("<i8", "(3,)", le_bytes<std::int64_t>({0, -1, 1})));
    CHECK_THROWS_WITH_AS(ist::load_npy(x, minus), has(minus + ": label -1 at index 1 is out of range"),
                         ist::DataError);

    const std::string nan = dir.write("nan.npy", npy("<f4", "(3, 2)", le_bytes<float>({1.f, NAN, 0.f, 0.f, 0.f, 0.f})));
    CHECK_THROWS_WITH_AS(ist::load_npy(nan, y), has(nan + ": feature 1 of row 0 is not a finite float"),
                         ist::DataError);

    CHECK_THROWS_WITH_AS(ist::load_npy(dir.file("none.npy"), y), has(dir.file("none.npy") + ": cannot open"),
                         ist::DataError);
}

// ---- npz ---------------------------------------------------------------------------------------

TEST_CASE("data: npz round trip, stored and deflated") {
    TempDir dir;
    const std::string xs = npy("<f4", "(3, 2)", x32), ys = npy("<i8", "(3,)", y64);
    const ist::Dataset stored = ist::load_npz(dir.write("stored.npz", zip({{"x.npy", xs, 0}, {"y.npy", ys, 0}})));
    check_small(stored);
    CHECK(stored.name == dir.file("stored.npz"));
    check_small(ist::load_npz(dir.write("deflated.npz", zip({{"y.npy", ys, 8}, {"x.npy", xs, 8}}))));
    // Custom keys, mixed methods, extra members ignored.
    const std::string custom = dir.write("custom.npz", zip({{"meta.npy", ys, 0}, {"images.npy", xs, 8}, {"targets.npy", ys, 0}}));
    const ist::Dataset d = ist::load_npz(custom, "images", "targets", 5);
    CHECK(d.classes == 5);
    CHECK(d.features(0, 0) == 1.5f);
    CHECK(d.labels == ist::Labels{2, 0, 1});
}

TEST_CASE("data: npz errors name file, member and problem") {
    TempDir dir;
    const std::string xs = npy("<f4", "(3, 2)", x32), ys = npy("<i8", "(3,)", y64);
    const std::string good = dir.write("good.npz", zip({{"x.npy", xs, 0}, {"y.npy", ys, 0}}));

    CHECK_THROWS_WITH_AS(ist::load_npz(good, "x", "labels"),
                         has(good + ": missing key 'labels' (no member 'labels.npy'; members: x.npy, y.npy)"),
                         ist::DataError);

    const std::string not_zip = dir.write("x.npz", xs);
    CHECK_THROWS_WITH_AS(ist::load_npz(not_zip), has(not_zip + ": bad magic: not a zip archive"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::load_npz(not_zip), has("use load_npy"), ist::DataError);
    const std::string cut = dir.write("cut.npz", read_all(good).substr(0, 100));
    CHECK_THROWS_WITH_AS(ist::load_npz(cut), has(cut + ": bad magic: not a zip archive"), ist::DataError);

    // A deflate stream starting with an invalid block type (0xFF: final block, type 3).
    std::string archive = zip({{"x.npy", xs, 8}, {"y.npy", ys, 0}});
    archive[30 + 5] = static_cast<char>(0xFF);  // first byte of x.npy's data, after its 30 + 5 byte header
    const std::string bad_deflate = dir.write("bad_deflate.npz", archive);
    CHECK_THROWS_WITH_AS(ist::load_npz(bad_deflate),
                         has(bad_deflate + "[x.npy]: corrupt or truncated deflate data at offset 35"), ist::DataError);

    archive = zip({{"x.npy", xs, 0}, {"y.npy", ys, 0}});
    const std::size_t payload_at = 35 + xs.size() - x32.size();  // first float of x.npy
    archive[payload_at] = static_cast<char>(archive[payload_at] ^ 1);
    const std::string bad_crc = dir.write("bad_crc.npz", archive);
    CHECK_THROWS_WITH_AS(ist::load_npz(bad_crc), has(bad_crc + "[x.npy]: CRC mismatch"), ist::DataError);

    const std::string bzip = dir.write("bzip.npz", zip({{"x.npy", xs, 12}, {"y.npy", ys, 0}}));
    CHECK_THROWS_WITH_AS(ist::load_npz(bzip), has(bzip + "[x.npy]: unsupported compression method 12"),
                         ist::DataError);

    const std::string short_x = dir.write("short_x.npz", zip({{"x.npy", npy("<f4", "(3, 2)", x32.substr(0, 8)), 8}, {"y.npy", ys, 0}}));
    CHECK_THROWS_WITH_AS(ist::load_npz(short_x),
                         has(short_x + "[x.npy]: truncated data: shape (3, 2) of '<f4' needs 6 x 4 bytes at offset 128, only 8 present"),
                         ist::DataError);

    const std::string two = dir.write("two.npz", zip({{"x.npy", xs, 0}, {"y.npy", npy("<i8", "(2,)", y64.substr(0, 16)), 0}}));
    CHECK_THROWS_WITH_AS(ist::load_npz(two),
                         has("rows mismatch: " + two + "[x.npy] has 3 rows but " + two + "[y.npy] has 2 labels"),
                         ist::DataError);
    CHECK_THROWS_WITH_AS(ist::load_npz(good, "x", "y", 2),
                         has(good + "[y.npy]: label 2 at index 0 is out of range for 2 classes"), ist::DataError);
}

// ---- idx ---------------------------------------------------------------------------------------

TEST_CASE("data: idx round trip, gzip and plain, pixels scaled by 255") {
    TempDir dir;
    const std::string pixels("\x00\x33\x66\xff\x01\x02\x03\x04\xfe\x80\x7f\x10", 12);
    const std::string labels("\x09\x00\x03", 3);
    for (bool gz : {true, false}) {
        const std::string images_path = gz ? dir.write_gz("img.gz", idx_images(3, 2, 2, pixels))
                                           : dir.write("img", idx_images(3, 2, 2, pixels));
        const std::string labels_path = gz ? dir.write_gz("lbl.gz", idx_labels(labels)) : dir.write("lbl", idx_labels(labels));
        const ist::Dataset d = ist::load_idx(images_path, labels_path);
        REQUIRE(d.size() == 3);
        REQUIRE(d.feature_count() == 4);
        for (std::size_t k = 0; k < 12; ++k)
            CHECK(d.features(k / 4, k % 4) == static_cast<float>(static_cast<unsigned char>(pixels[k])) / 255.0f);
        CHECK(d.features(0, 3) == 1.0f);
        CHECK(d.labels == ist::Labels{9, 0, 3});
        CHECK(d.classes == 10);
        CHECK(ist::load_idx(images_path, labels_path, 0).classes == 10);
    }
}

TEST_CASE("data: idx errors name file and problem") {
    TempDir dir;
    const std::string pixels(12, '\x10');
    const std::string images = dir.write("img", idx_images(3, 2, 2, pixels));
    const std::string labels = dir.write("lbl", idx_labels(std::string("\x01\x02\x03", 3)));

    CHECK_THROWS_WITH_AS(ist::load_idx(labels, labels),
                         has(labels + ": bad magic 0x00000801 at offset 0, expected 0x00000803"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::load_idx(images, images),
                         has(images + ": bad magic 0x00000803 at offset 0, expected 0x00000801"), ist::DataError);

    const std::string short_images = dir.write("short_img", idx_images(3, 2, 2, pixels.substr(0, 11)));
    CHECK_THROWS_WITH_AS(ist::load_idx(short_images, labels),
                         has(short_images + ": truncated payload: expected 12 bytes after the 16-byte header, found 11"),
                         ist::DataError);
    const std::string short_labels = dir.write("short_lbl", idx_labels("\x01\x02\x03").substr(0, 10));
    CHECK_THROWS_WITH_AS(ist::load_idx(images, short_labels),
                         has(short_labels + ": truncated payload: expected 3 bytes after the 8-byte header, found 2"),
                         ist::DataError);
    const std::string stub = dir.write("stub", idx_images(3, 2, 2, "").substr(0, 10));
    CHECK_THROWS_WITH_AS(ist::load_idx(stub, labels), has(stub + ": truncated header: expected 16 bytes, found 10"),
                         ist::DataError);

    const std::string two = dir.write("two", idx_labels(std::string("\x01\x02", 2)));
    CHECK_THROWS_WITH_AS(ist::load_idx(images, two),
                         has("count mismatch: " + images + " has 3 images but " + two + " has 2 labels"),
                         ist::DataError);
    // More labels than images is the same mismatch (a check written as "fewer" would let it through).
    const std::string four = dir.write("four", idx_labels(std::string("\x01\x02\x03\x04", 4)));
    CHECK_THROWS_WITH_AS(ist::load_idx(images, four),
                         has("count mismatch: " + images + " has 3 images but " + four + " has 4 labels"),
                         ist::DataError);

    const std::string ten = dir.write("ten", idx_labels(std::string("\x01\x02\x0a", 3)));
    CHECK_THROWS_WITH_AS(ist::load_idx(images, ten),
                         has(ten + ": label 10 at index 2 (offset 10) is out of range for 10 classes"),
                         ist::DataError);
    CHECK(ist::load_idx(images, ten, 11).classes == 11);

    CHECK_THROWS_WITH_AS(ist::load_idx(dir.file("none"), labels), has(dir.file("none") + ": cannot open"),
                         ist::DataError);
}
