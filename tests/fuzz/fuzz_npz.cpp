// libFuzzer harness for ist::parse_npz (zip container, stored and deflated members streamed into
// the matrix, the .npy inside). Byte 0: bit 0 recomputes the members' CRC-32 before loading so
// mutations inside a member get past the CRC check, bit 1 gzips the archive (read back as
// load_npz reads a gzip file), bits 2-3 the class count. The rest is the archive. Members are
// limited to 64 MB (LoadOptions::max_bytes) so a forged size is refused, not allocated. Checks as
// for parse_npy.
#include <ist/data/numpy.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 1) return 0;
    static constexpr std::size_t class_counts[] = {0, 3, 10, 1};
    Bytes archive(data + 1, data + size);
    if (data[0] & 1) fix_zip_crcs(archive);
    if (data[0] & 2) archive = gzip_bytes(archive);
    const std::size_t classes = class_counts[(data[0] >> 2) & 3];
    const std::string name = "input.npz";
    ist::LoadOptions limits;
    limits.max_bytes = std::size_t{64} << 20;
    Bytes holder;
    ist::Dataset loaded;
    if (clean_or_rejected({name}, [&] {
            loaded = ist::parse_npz(content(archive, holder, name), name, "x", "y", classes, limits);
        })) {
        if (!clean_or_rejected({name}, [&] { loaded.validate(); }))
            fail("parse_npz returned a data set that Dataset::validate() refuses");
    }
    return 0;
}
