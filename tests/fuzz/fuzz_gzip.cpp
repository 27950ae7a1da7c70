// libFuzzer harness for the gzip layer every loader reads through (ist::detail::read_file_bytes).
// 1. The input as a file: DataError naming the file or its bytes; a file that does not start
//    with the gzip magic byte 0x1f is returned unchanged (zlib's transparent mode).
// 2. The input gzip-compressed by zlib: read back exactly, by read_file_bytes and read_file_text.
#include <ist/detail/file_bytes.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    const std::string raw = write_file("raw", data, size);
    Bytes got;
    if (clean_or_rejected({raw}, [&] { got = ist::detail::read_file_bytes(raw); })) {
        if ((size == 0 || data[0] != 0x1f) && (got.size() != size || !std::equal(got.begin(), got.end(), data)))
            fail("a plain (non-gzip) file did not read back unchanged");
    }
    const std::string packed = write_file("packed.gz", data, size, true);
    Bytes unpacked;
    std::string text;
    if (!clean_or_rejected({packed}, [&] {
            unpacked = ist::detail::read_file_bytes(packed);
            text = ist::detail::read_file_text(packed);
        }))
        fail("a valid gzip file was refused");
    if (unpacked.size() != size || !std::equal(unpacked.begin(), unpacked.end(), data) ||
        text.size() != size || std::memcmp(text.data(), data, size) != 0)
        fail("gzip round trip changed the bytes");
    return 0;
}
