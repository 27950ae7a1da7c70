// libFuzzer harness for ist::load_csv. Byte 0 picks the options (header, delimiter, gzip), byte 1
// the label column and class count; the rest is the file. Checks: only DataError / ConfigError
// naming the file (or the bad option), and every data set it does return passes Dataset::validate().
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
    options.delimiter = delimiters[(data[0] >> 1) & 3];
    const bool gzip = data[0] & 8;
    options.label_column = label_columns[data[1] & 7];
    options.classes = class_counts[(data[1] >> 3) & 3];
    const std::string path = write_file(gzip ? "input.csv.gz" : "input.csv", data + 2, size - 2, gzip);
    ist::Dataset loaded;
    // A bad label_column is an option error, named as such rather than by the file.
    if (clean_or_rejected({path, "label_column"}, [&] { loaded = ist::load_csv(path, options); })) {
        if (!clean_or_rejected({path}, [&] { loaded.validate(); }))
            fail("load_csv returned a data set that Dataset::validate() refuses");
        if (options.classes != 0 && loaded.classes != options.classes) fail("load_csv changed the class count");
    }
    return 0;
}
