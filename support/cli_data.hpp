#pragma once
// The data sets ist-train and ist-predict accept (--data), split and standardised the same way
// in both, so ist-predict scores a saved model on exactly the test rows ist-train reported.
// Not part of the library and never installed, like cli.hpp.
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

namespace ist::cli {

/// What --data names and how the programs split it.
struct DataChoice {
    std::string data = "digits";  ///< digits | fashion-mnist | csv:PATH
    double test_fraction = 0.25;  ///< of digits and csv (Fashion-MNIST has its own test set)
    std::uint64_t seed = 42;      ///< of the split
    std::size_t train_rows = 0;   ///< keep only the first N training rows (0: all)
};

inline constexpr const char* kDataHelp = "digits (embedded, default) | fashion-mnist | csv:PATH (label in last column)";

/// The training and test sets of `c`, both standardised with the training set's statistics.
inline std::pair<Dataset, Dataset> load_data(const DataChoice& c, const std::string& program) {
    std::pair<Dataset, Dataset> sets;
    if (c.data == "digits") {
        sets = train_test_split(load_digits(), c.test_fraction, c.seed);
    } else if (c.data == "fashion-mnist") {
        sets = load_fashion_mnist();
    } else if (c.data.rfind("csv:", 0) == 0) {
        sets = train_test_split(load_csv(c.data.substr(4)), c.test_fraction, c.seed);
    } else {
        throw ConfigError(program + ": unknown --data " + c.data + " (digits | fashion-mnist | csv:PATH)");
    }
    if (c.train_rows && c.train_rows < sets.first.size()) {
        std::vector<std::uint32_t> rows(c.train_rows);
        std::iota(rows.begin(), rows.end(), 0u);
        sets.first = subset(sets.first, rows);
    }
    standardize(sets.first, sets.second);
    return sets;
}

}  // namespace ist::cli
