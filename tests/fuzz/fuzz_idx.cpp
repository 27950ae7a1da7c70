// libFuzzer harness for ist::parse_idx (the parser behind load_idx). Byte 0: bit 0 gzips the
// image file, bit 1 the label file (each read back as load_idx reads a gzip file), bit 2 the class
// count (10 or inferred). Bytes 1-2 (little-endian, taken modulo the remaining length + 1) say
// where the image file ends and the label file begins.
#include <ist/data/idx.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 3) return 0;
    const std::size_t rest = size - 3;
    const std::size_t cut = (std::size_t{data[1]} | std::size_t{data[2]} << 8) % (rest + 1);
    const std::size_t classes = data[0] & 4 ? 0 : 10;
    Bytes images(data + 3, data + 3 + cut), labels(data + 3 + cut, data + size);
    if (data[0] & 1) images = gzip_bytes(images);
    if (data[0] & 2) labels = gzip_bytes(labels);
    Bytes image_holder, label_holder;
    ist::Dataset loaded;
    if (clean_or_rejected({"images", "labels"}, [&] {
            loaded = ist::parse_idx(content(images, image_holder, "images"), "images",
                                    content(labels, label_holder, "labels"), "labels", classes);
        })) {
        if (!clean_or_rejected({"images", "labels"}, [&] { loaded.validate(); }))
            fail("parse_idx returned a data set that Dataset::validate() refuses");
    }
    return 0;
}
