// The file formats of io/: an .npz written by NpzWriter checked byte by byte against the zip and
// .npy specifications (and zlib's CRC-32), read back by NpzArchive, and the atomic file write.
#include <doctest/doctest.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

#include <ist/core/tensor.hpp>
#include <ist/io/atomic_file.hpp>
#include <ist/io/npz.hpp>
#include "../scratch.hpp"

namespace {

namespace fs = std::filesystem;

fs::path io_scratch(const std::string& name) {
    return ist::test::scratch_path("io", name);
}

std::string whole_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

/// The little-endian unsigned integer of `width` bytes at `at`.
std::uint64_t le(const std::string& bytes, std::size_t at, std::size_t width) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < width; ++i) v |= std::uint64_t(static_cast<unsigned char>(bytes[at + i])) << (8 * i);
    return v;
}

}  // namespace

TEST_CASE("io: an npz member is a stored zip entry holding an .npy v1.0 image, as the specifications lay them out") {
    const fs::path path = io_scratch("layout.npz");
    ist::Tensor w = ist::Tensor::from_shape({2, 3});
    for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] = 0.5f * static_cast<float>(i) - 1.0f;
    ist::NpzWriter npz;
    npz.add("w", w);
    npz.write_atomically(path.string());
    const std::string file = whole_file(path);

    // Zip local file header (APPNOTE 4.3.7): signature, method 0 (stored), sizes, then the name.
    REQUIRE(file.size() > 30);
    CHECK(le(file, 0, 4) == 0x04034b50u);
    CHECK(le(file, 8, 2) == 0);
    const std::size_t size = le(file, 18, 4), name_length = le(file, 26, 2), extra = le(file, 28, 2);
    CHECK(le(file, 22, 4) == size);  // stored: compressed size = uncompressed size
    CHECK(file.substr(30, name_length) == "w.npy");
    const std::string member = file.substr(30 + name_length + extra, size);
    CHECK(le(file, 14, 4) == ::crc32(0L, reinterpret_cast<const Bytef*>(member.data()), static_cast<uInt>(member.size())));

    // .npy v1.0 (numpy's format.py): magic, version, header length, a dict padded so the data
    // starts on a 64-byte boundary, then the C-order little-endian float32 values.
    REQUIRE(member.size() > 10);
    CHECK(member.substr(0, 6) == "\x93NUMPY");
    CHECK(member[6] == 1);
    CHECK(member[7] == 0);
    const std::size_t header = le(member, 8, 2);
    CHECK((10 + header) % 64 == 0);
    const std::string dict = member.substr(10, header);
    CHECK(dict.find("'descr': '<f4'") != std::string::npos);
    CHECK(dict.find("'fortran_order': False") != std::string::npos);
    CHECK(dict.find("'shape': (2, 3)") != std::string::npos);
    CHECK(dict.back() == '\n');
    REQUIRE(member.size() == 10 + header + 6 * sizeof(float));
    for (std::size_t i = 0; i < 6; ++i) {
        float v = 0.0f;
        std::memcpy(&v, member.data() + 10 + header + 4 * i, 4);
        CHECK(v == 0.5f * static_cast<float>(i) - 1.0f);
    }
    fs::remove(path);
}

TEST_CASE("io: NpzArchive reads back tensors, integers and text; wrong shapes and names are refused, naming the file") {
    const fs::path path = io_scratch("round_trip.npz");
    ist::Tensor w = ist::Tensor::from_shape({3, 2});
    for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] = static_cast<float>(i * i) / 7.0f;
    ist::NpzWriter npz;
    npz.add("w", w);
    npz.add("counters", std::vector<std::uint64_t>{7, 1ull << 40});
    npz.add("label", std::string("ist-checkpoint-1"));
    npz.write_atomically(path.string());

    const ist::NpzArchive archive(path.string());
    CHECK(archive.names() == std::vector<std::string>{"counters", "label", "w"});
    ist::Tensor back = ist::Tensor::from_shape({3, 2});
    archive.read_into("w", back);
    for (std::size_t i = 0; i < w.size(); ++i) CHECK(back.data()[i] == w.data()[i]);
    CHECK(archive.values<std::uint64_t>("counters") == std::vector<std::uint64_t>{7, 1ull << 40});
    CHECK(archive.text("label") == "ist-checkpoint-1");

    ist::Tensor wrong = ist::Tensor::from_shape({2, 3});
    CHECK_THROWS_WITH_AS(archive.read_into("w", wrong), doctest::Contains("[w]: shape (3, 2), expected (2, 3)"), ist::DataError);
    CHECK_THROWS_WITH_AS(archive.text("missing"), doctest::Contains("missing array 'missing'"), ist::DataError);
    CHECK_THROWS_WITH_AS(archive.scalar("counters"), doctest::Contains("expected one value, found 2"), ist::DataError);
    fs::remove(path);
}

TEST_CASE("io: an atomic write replaces the whole file and leaves no temporary file; an unwritable path is refused first") {
    const fs::path path = io_scratch("atomic.bin");
    ist::detail::write_file_atomically(path.string(), "a longer first version");
    ist::detail::write_file_atomically(path.string(), "second");
    CHECK(whole_file(path) == "second");
    CHECK_FALSE(fs::exists(path.string() + ".tmp"));

    CHECK_THROWS_WITH_AS(ist::detail::require_writable(path.parent_path().string(), "save"),
                         doctest::Contains("is a directory, not a file to write"), ist::DataError);
    const std::string nowhere = (path.parent_path() / "no_such_folder" / "x.bin").string();
    CHECK_THROWS_WITH_AS(ist::detail::require_writable(nowhere, "save"),
                         doctest::Contains(("cannot write " + nowhere).c_str()), ist::DataError);
    CHECK_THROWS_AS(ist::detail::write_file_atomically(nowhere, "x"), ist::DataError);
    CHECK_FALSE(fs::exists(nowhere + ".tmp"));
    fs::remove(path);
}
