// libFuzzer harness for ist::load_npz (zip container, stored and deflated members, the .npy
// inside). Byte 0: bit 0 recomputes the members' CRC-32 before loading so mutations inside a
// member get past the CRC check, bit 1 gzips the file, bits 2-3 the class count. The rest is the
// archive. Checks as for load_npy.
#include <ist/data/numpy.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 1) return 0;
    static constexpr std::size_t class_counts[] = {0, 3, 10, 1};
    Bytes archive(data + 1, data + size);
    if (data[0] & 1) fix_zip_crcs(archive);
    const bool gzip = data[0] & 2;
    const std::size_t classes = class_counts[(data[0] >> 2) & 3];
    const std::string path = write_file(gzip ? "input.npz.gz" : "input.npz", archive, gzip);
    ist::Dataset loaded;
    if (clean_or_rejected({path}, [&] { loaded = ist::load_npz(path, "x", "y", classes); })) {
        if (!clean_or_rejected({path}, [&] { loaded.validate(); }))
            fail("load_npz returned a data set that Dataset::validate() refuses");
    }
    return 0;
}
