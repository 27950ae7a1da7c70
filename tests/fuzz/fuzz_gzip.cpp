// libFuzzer harness for the gzip layer every loader reads through (ist::detail::gunzip_into, what
// detail::FileContent applies to a file starting with 1f 8b).
// 1. The input as gzip data: DataError naming it, or bytes.
// 2. The input gzip-compressed by zlib: read back exactly, as bytes and as text.
#include <ist/detail/file_bytes.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    const std::span<const unsigned char> raw(data, size);
    Bytes got;
    clean_or_rejected({"raw.gz"}, [&] { ist::detail::gunzip_into(raw, "raw.gz", got); });
    const Bytes packed = gzip_bytes(raw);
    Bytes unpacked;
    std::string text;
    if (!clean_or_rejected({"packed.gz"}, [&] {
            ist::detail::gunzip_into(packed, "packed.gz", unpacked);
            text = ist::detail::gunzip(packed, "packed.gz");
        }))
        fail("a valid gzip stream was refused");
    if (unpacked.size() != size || !std::equal(unpacked.begin(), unpacked.end(), data) || text.size() != size ||
        (size > 0 && std::memcmp(text.data(), data, size) != 0))
        fail("gzip round trip changed the bytes");
    return 0;
}
