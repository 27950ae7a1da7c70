// libFuzzer harness for ist::load_npy. Byte 0: bit 0 picks which file is fuzzed (features, with
// valid labels of 3 rows; or labels, with valid 3 x 2 float32 features), bit 1 gzips the fuzzed
// file, bits 2-3 the class count. The rest of the input is the fuzzed .npy.
#include <ist/data/numpy.hpp>

#include "fuzz_common.hpp"

namespace {

/// A version-1 .npy image of `payload` with the given dtype and shape.
ist_fuzz::Bytes npy(const std::string& descr, const std::string& shape, const ist_fuzz::Bytes& payload) {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    dict += std::string((64 - (10 + dict.size() + 1) % 64) % 64, ' ') + '\n';
    ist_fuzz::Bytes out{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(dict.size() & 0xFF),
                        static_cast<unsigned char>(dict.size() >> 8)};
    out.insert(out.end(), dict.begin(), dict.end());
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 1) return 0;
    static const Bytes labels = npy("<i8", "(3,)", Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                                        2, 0, 0, 0, 0, 0, 0, 0});
    static const Bytes features = [] {
        Bytes payload;
        for (float v : {0.5f, -1.0f, 2.0f, 0.0f, 3.25f, -7.5f}) {
            unsigned char raw[4];
            std::memcpy(raw, &v, 4);  // little-endian hosts only (x86-64, aarch64)
            payload.insert(payload.end(), raw, raw + 4);
        }
        return npy("<f4", "(3, 2)", payload);
    }();
    static constexpr std::size_t class_counts[] = {0, 3, 10, 1};
    const bool fuzz_labels = data[0] & 1;
    const bool gzip = data[0] & 2;
    const std::size_t classes = class_counts[(data[0] >> 2) & 3];
    const std::string fuzzed = write_file(gzip ? "fuzzed.npy.gz" : "fuzzed.npy", data + 1, size - 1, gzip);
    const std::string valid = write_file(fuzz_labels ? "x.npy" : "y.npy", fuzz_labels ? features : labels);
    const std::string& x = fuzz_labels ? valid : fuzzed;
    const std::string& y = fuzz_labels ? fuzzed : valid;
    ist::Dataset loaded;
    if (clean_or_rejected({fuzzed}, [&] { loaded = ist::load_npy(x, y, classes); })) {
        if (!clean_or_rejected({x, y}, [&] { loaded.validate(); }))
            fail("load_npy returned a data set that Dataset::validate() refuses");
    }
    return 0;
}
