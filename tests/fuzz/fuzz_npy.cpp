// libFuzzer harness for ist::parse_npy (the parser behind load_npy). Byte 0: bit 0 picks which
// file is fuzzed (features, with valid labels of 3 rows; or labels, with valid 3 x 2 float32
// features), bit 1 gzips the fuzzed file (read back as load_npy reads a gzip file), bits 2-3 the
// class count. The rest of the input is the fuzzed .npy.
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
    Bytes fuzzed(data + 1, data + size);
    if (gzip) fuzzed = gzip_bytes(fuzzed);
    const std::string fuzzed_name = fuzz_labels ? "y.npy" : "x.npy";  // for content()'s messages
    Bytes holder;
    ist::Dataset loaded;
    // The fixed file is valid, but its labels (up to 2) may be out of range for `classes`, and
    // that error rightly names it.
    if (clean_or_rejected({"x.npy", "y.npy"}, [&] {
            const auto bytes = content(fuzzed, holder, fuzzed_name);
            loaded = fuzz_labels ? ist::parse_npy(features, "x.npy", bytes, "y.npy", classes)
                                 : ist::parse_npy(bytes, "x.npy", labels, "y.npy", classes);
        })) {
        if (!clean_or_rejected({"x.npy", "y.npy"}, [&] { loaded.validate(); }))
            fail("parse_npy returned a data set that Dataset::validate() refuses");
    }
    return 0;
}
