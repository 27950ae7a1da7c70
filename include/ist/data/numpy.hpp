#pragma once
// Load NumPy arrays into a Dataset: a pair of .npy files (features, labels) or one .npz archive
// holding both, as written by np.save / np.savez / np.savez_compressed. The formats are parsed by
// io/npy.hpp and io/zip.hpp; this file turns arrays into features and labels.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/io/npy.hpp"
#include "ist/io/zip.hpp"

namespace ist {

namespace detail::npy {

/// The features of `a` as a rows x (product of the other axes) float matrix.
inline Matrix to_features(const Array& a) {
    if (a.shape.size() < 2)
        throw DataError(a.name + ": features must have at least 2 dimensions (rows x features), got shape " +
                        shape_text(a.shape));
    const std::size_t rows = a.shape[0];
    if (a.count == 0) throw DataError(a.name + ": features are empty, shape " + shape_text(a.shape));
    const std::size_t cols = a.count / rows;
    Matrix m = Matrix::from_shape({rows, cols});
    float* out = m.data();
    for_each_element(a, [&](std::size_t i, auto v) {
        out[i] = static_cast<float>(v);
        // Reject NaN/Inf here, with its position, rather than as a NaN loss many epochs later.
        if (!std::isfinite(out[i]))
            throw DataError(a.name + ": feature " + std::to_string(i % cols) + " of row " + std::to_string(i / cols) +
                            " is not a finite float (" + std::to_string(static_cast<double>(v)) + ")");
    });
    return m;
}

/// The labels of `a`: integers in [0, classes); `classes` 0 means "max label + 1".
inline Labels to_labels(const Array& a, std::size_t classes) {
    // (N, 1) is what a column vector of labels looks like; accept it as well as (N,).
    const bool column = a.shape.size() == 2 && a.shape[1] == 1;
    if (a.shape.size() != 1 && !column)
        throw DataError(a.name + ": labels must be 1-D, got shape " + shape_text(a.shape));
    if (a.dtype.kind == 'f')
        throw DataError(a.name + ": unsupported label dtype '" + a.dtype.descr + "' (labels need an integer dtype)");
    Labels labels(a.count);
    const std::uint64_t limit = classes != 0 ? classes : std::uint64_t{std::numeric_limits<std::uint32_t>::max()} + 1;
    for_each_element(a, [&](std::size_t i, auto v) {
        if constexpr (std::is_integral_v<decltype(v)>) {  // float dtypes were rejected above
            // Compare in the element's own signedness, so -1 is never mistaken for a huge unsigned.
            if (std::cmp_less(v, 0) || std::cmp_greater_equal(v, limit))
                throw DataError(a.name + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                                " is out of range" +
                                (classes != 0 ? " for " + std::to_string(classes) + " classes" : std::string{}));
            labels[i] = static_cast<std::uint32_t>(v);
        }
    });
    return labels;
}

/// Joins parsed feature and label arrays into a Dataset, checking that their row counts agree.
inline Dataset make_dataset(const Array& x, const Array& y, std::size_t classes, const std::string& name) {
    Dataset data;
    data.name = name;
    data.features = to_features(x);
    data.labels = to_labels(y, classes);
    if (data.labels.size() != data.features.shape()[0])
        throw DataError(name + ": rows mismatch: " + x.name + " has " + std::to_string(data.features.shape()[0]) +
                        " rows but " + y.name + " has " + std::to_string(data.labels.size()) + " labels");
    std::uint32_t max_label = 0;
    for (std::uint32_t l : data.labels) max_label = std::max(max_label, l);
    data.classes = classes != 0 ? classes : std::size_t{max_label} + 1;
    return data;
}

}  // namespace detail::npy

/// Loads features and labels from two .npy files (each optionally gzip-compressed). Features
/// must be at least 2-D (N-D arrays become N x product-of-the-rest); labels are 1-D integers with
/// one per row. `classes` 0 infers max label + 1. Throws ist::DataError naming file, offset and problem.
inline Dataset load_npy(const std::string& features_path, const std::string& labels_path, std::size_t classes = 0) {
    const std::vector<unsigned char> xb = detail::read_file_bytes(features_path);
    const std::vector<unsigned char> yb = detail::read_file_bytes(labels_path);
    const auto x = detail::npy::parse_npy(xb.data(), xb.size(), features_path);
    const auto y = detail::npy::parse_npy(yb.data(), yb.size(), labels_path);
    return detail::npy::make_dataset(x, y, classes, features_path);
}

/// Loads features and labels from the arrays `features_key` and `labels_key` of a .npz archive
/// (np.savez or np.savez_compressed). Same rules and errors as load_npy, with the member named.
inline Dataset load_npz(const std::string& path, const std::string& features_key = "x",
                        const std::string& labels_key = "y", std::size_t classes = 0) {
    const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
    const detail::ZipReader zip{bytes, path};
    const auto entries = detail::zip_directory(zip);
    const auto& xe = detail::find_npy_member(entries, features_key, path);
    const auto& ye = detail::find_npy_member(entries, labels_key, path);
    const auto xm = detail::zip_extract(zip, xe);
    const auto ym = detail::zip_extract(zip, ye);
    const auto x = detail::npy::parse_npy(xm.data, xm.size, path + "[" + xe.name + "]");
    const auto y = detail::npy::parse_npy(ym.data, ym.size, path + "[" + ye.name + "]");
    return detail::npy::make_dataset(x, y, classes, path);
}

}  // namespace ist
