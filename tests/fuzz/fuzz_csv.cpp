// libFuzzer harness for ist::parse_csv (the parser behind load_csv). Byte 0 picks the options
// (header, delimiter, gzip, header detection), byte 1 the label column and class count; the rest is the file, gzipped
// in memory first when asked and then read as load_csv reads a file (gunzipped if gzip). Checks: only
// DataError / ConfigError naming the input (or the bad option), and every data set it does return
// passes Dataset::validate().
#include <ist/data/csv.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace ist_fuzz;
    if (size < 2) return 0;
    static constexpr char delimiters[] = {',', ';', '\t', ' '};
    static constexpr int label_columns[] = {-1, -1, 0, 1, 2, 7, -1, -2};
    static constexpr std::size_t class_counts[] = {0, 0, 2, 10};
    ist::CsvOptions options;
    options.header = data[0] & 1;
    options.detect_header = data[0] & 16;
    options.delimiter = delimiters[(data[0] >> 1) & 3];
    options.label_column = label_columns[data[1] & 7];
    options.classes = class_counts[(data[1] >> 3) & 3];
    const std::span<const unsigned char> body(data + 2, size - 2);
    const std::string name = "input.csv";
    const Bytes packed = data[0] & 8 ? gzip_bytes(body) : Bytes{};
    Bytes holder;
    ist::Dataset loaded;
    // A bad label_column is an option error, named as such rather than by the file.
    if (clean_or_rejected({name, "label_column"}, [&] {
            const auto bytes = content(data[0] & 8 ? std::span<const unsigned char>(packed) : body, holder, name);
            loaded = ist::parse_csv({reinterpret_cast<const char*>(bytes.data()), bytes.size()}, name, options);
        })) {
        if (!clean_or_rejected({name}, [&] { loaded.validate(); }))
            fail("parse_csv returned a data set that Dataset::validate() refuses");
        if (options.classes != 0 && loaded.classes != options.classes) fail("parse_csv changed the class count");
    }
    return 0;
}
