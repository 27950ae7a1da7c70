#pragma once
// Ready-made data sets: the small digits set (compiled in), and Fashion-MNIST as installed by
// Debian's dataset-fashion-mnist package. Examples and tests use these so they need no download.
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "ist/core/error.hpp"
#include "ist/data/csv.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/digits_bytes.hpp"
#include "ist/data/idx.hpp"

namespace ist {

/// Where the bundled data files live: IST_DATA_DIR when the build defines it (the repository's
/// data/ folder, or the installed share/ist), else "data" relative to the working directory.
inline std::string default_data_dir() {
#ifdef IST_DATA_DIR
    return IST_DATA_DIR;
#else
    return "data";
#endif
}

namespace detail {
/// The digits from CSV text: 64 pixel counts scaled to [0, 1], 10 classes.
inline Dataset digits_from_csv(std::string_view text, const std::string& path) {
    CsvOptions options;
    options.classes = 10;
    Dataset data = parse_csv(text, path, options);
    // A wrong file under the right name would otherwise train silently on the wrong inputs.
    if (data.feature_count() != 64)
        throw DataError(path + ": expected 64 features per row, found " + std::to_string(data.feature_count()));
    data.features /= 16.0f;
    data.name = "digits";
    return data;
}
}  // namespace detail

/// The UCI optical-recognition digits: 1,797 rows of 8x8 pixel counts (0..16), 10 classes.
/// Features are divided by 16 so they lie in [0, 1]. See data/README.md for the source. The data
/// is compiled into the library (data/digits.csv.gz as bytes), so this works from any folder.
inline Dataset load_digits() {
    const std::string name = "digits.csv.gz (built in)";
    return detail::digits_from_csv(detail::gunzip(detail::kDigitsCsvGz, name), name);
}

/// The digits from `dir`/digits.csv.gz (a copy of the file shipped in data/).
inline Dataset load_digits(const std::string& dir) {
    const std::string path = dir + "/digits.csv.gz";
    return detail::digits_from_csv(detail::read_file_text(path), path);
}

/// Fashion-MNIST as {train (60,000 rows), test (10,000 rows)}, 784 pixels in [0, 1], 10 classes.
inline std::pair<Dataset, Dataset> load_fashion_mnist(const std::string& dir = "/usr/share/datasets/fashion-mnist") {
    const std::string files[] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    // Checked up front so the usual cause (package not installed) gets an actionable message
    // instead of "cannot open" on the first file.
    for (const std::string& f : files) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(dir + "/" + f, ec))
            throw DataError("Fashion-MNIST not found in " + dir +
                            ": install it with `sudo apt-get install dataset-fashion-mnist` (missing " + f + ")");
    }
    Dataset train = load_idx(dir + "/" + files[0], dir + "/" + files[1], 10);
    Dataset test = load_idx(dir + "/" + files[2], dir + "/" + files[3], 10);
    train.name = "fashion-mnist/train";
    test.name = "fashion-mnist/test";
    return {std::move(train), std::move(test)};
}

}  // namespace ist
