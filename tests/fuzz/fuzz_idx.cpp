// libFuzzer harness for ist::load_idx. Byte 0: bit 0 gzips the image file, bit 1 the label file,
// bit 2 the class count (10 or inferred). Bytes 1-2 (little-endian, taken modulo the remaining
// length + 1) say where the image file ends and the label file begins.
#include <ist/data/idx.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 3) return 0;
    const std::size_t rest = size - 3;
    const std::size_t cut = (std::size_t{data[1]} | std::size_t{data[2]} << 8) % (rest + 1);
    const bool gz_images = data[0] & 1, gz_labels = data[0] & 2;
    const std::size_t classes = data[0] & 4 ? 0 : 10;
    const std::string images = write_file(gz_images ? "images.gz" : "images", data + 3, cut, gz_images);
    const std::string labels = write_file(gz_labels ? "labels.gz" : "labels", data + 3 + cut, rest - cut, gz_labels);
    ist::Dataset loaded;
    if (clean_or_rejected({images, labels}, [&] { loaded = ist::load_idx(images, labels, classes); })) {
        if (!clean_or_rejected({images, labels}, [&] { loaded.validate(); }))
            fail("load_idx returned a data set that Dataset::validate() refuses");
    }
    return 0;
}
