#pragma once
// Load NumPy arrays into a Dataset: a pair of .npy files (features, labels) or one .npz archive
// holding both, as written by np.save / np.savez / np.savez_compressed. The formats are parsed by
// io/npy.hpp and io/zip.hpp; this file turns arrays into features and labels. parse_npy /
// parse_npz read from memory; load_npy / load_npz map (or gunzip) the files and call the same code.
// An .npz member is read straight into the feature matrix (float32) or one buffer (other dtypes),
// after its declared sizes are checked against each other and LoadOptions::max_bytes.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/load_options.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/detail/mapped_file.hpp"
#include "ist/io/npy.hpp"
#include "ist/io/zip.hpp"

namespace ist {

namespace detail::npy {

/// Rows and columns of the features in `a`: rows x (product of the other axes).
inline std::pair<std::size_t, std::size_t> feature_shape(const Array& a) {
    if (a.shape.size() < 2)
        throw DataError(a.name + ": features must have at least 2 dimensions (rows x features), got shape " +
                        shape_text(a.shape));
    if (a.count == 0) throw DataError(a.name + ": features are empty, shape " + shape_text(a.shape));
    return {a.shape[0], a.count / a.shape[0]};
}

[[noreturn]] inline void throw_not_finite(const std::string& name, std::size_t i, std::size_t cols, double v) {
    throw DataError(name + ": feature " + std::to_string(i % cols) + " of row " + std::to_string(i / cols) +
                    " is not a finite float (" + std::to_string(v) + ")");
}

inline bool is_plain_float32(const Dtype& d) { return d.kind == 'f' && d.size == 4 && !d.swap; }

/// Throws for the first NaN/Inf in out[begin, end). The scan without an early exit vectorizes;
/// the exact position is looked for only once one is known to be there.
inline void check_finite(const float* out, std::size_t begin, std::size_t end, std::size_t first, std::size_t cols,
                         const std::string& name) {
    std::uint32_t all_ones_exponent = 0;
    for (std::size_t i = begin; i < end; ++i) {
        std::uint32_t bits;
        std::memcpy(&bits, out + i, 4);
        all_ones_exponent |= static_cast<std::uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (!all_ones_exponent) return;
    for (std::size_t i = begin; i < end; ++i)
        if (!std::isfinite(out[i])) throw_not_finite(name, first + i, cols, out[i]);
}

/// Converts the elements of `a` to floats in `out`; `first` is the index of a.data's first element
/// in the whole array (for messages). NaN/Inf are refused here, with their position, rather than
/// met as a NaN loss many epochs later. Mapped pages are given back as they are read.
inline void convert_features(const Array& a, float* out, std::size_t cols, std::size_t first = 0,
                             const InputBytes* in = nullptr) {
    if (!is_plain_float32(a.dtype)) {
        for_each_element(a, [&](std::size_t i, auto v) {
            out[i] = static_cast<float>(v);
            if (!std::isfinite(out[i])) throw_not_finite(a.name, first + i, cols, static_cast<double>(v));
        });
        return;
    }
    constexpr std::size_t step = std::size_t{1} << 16;  // floats per chunk: 256 KB, still in cache to check
    for (std::size_t done = 0; done < a.count;) {
        const std::size_t end = std::min(a.count, done + step);
        std::memcpy(out + done, a.data + done * 4, (end - done) * 4);
        if (in) in->done_with(a.data + done * 4, a.data + end * 4);
        check_finite(out, done, end, first, cols, a.name);
        done = end;
    }
}

/// The features of `a` as a rows x (product of the other axes) float matrix.
inline Matrix to_features(const Array& a, const InputBytes* in = nullptr) {
    const auto [rows, cols] = feature_shape(a);
    Matrix m = Matrix::from_shape({rows, cols});
    convert_features(a, m.data(), cols, 0, in);
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

/// Checks that features and labels have the same rows and sets the class count.
inline void finish_dataset(Dataset& data, const std::string& x_name, const std::string& y_name, std::size_t classes) {
    if (data.labels.size() != data.features.shape()[0])
        throw DataError(data.name + ": rows mismatch: " + x_name + " has " + std::to_string(data.features.shape()[0]) +
                        " rows but " + y_name + " has " + std::to_string(data.labels.size()) + " labels");
    std::uint32_t max_label = 0;
    for (std::uint32_t l : data.labels) max_label = std::max(max_label, l);
    data.classes = classes != 0 ? classes : std::size_t{max_label} + 1;
}

/// Features and labels from two parsed .npy images.
inline Dataset npy_dataset(const Array& x, const InputBytes* x_in, const Array& y, std::size_t classes,
                           const std::string& name) {
    Dataset data;
    data.name = name;
    data.features = to_features(x, x_in);
    data.labels = to_labels(y, classes);
    finish_dataset(data, x.name, y.name, classes);
    return data;
}

/// Reads the .npy header at the front of member `r` (exactly up to the payload) and checks the
/// sizes it declares against the member's and `options.max_bytes`, before anything is allocated.
inline Array read_member_header(MemberReader& r, std::vector<unsigned char>& head, const LoadOptions& options) {
    const std::uint64_t size = r.size();
    if (size > options.max_bytes)
        throw DataError(r.name() + ": declared size of " + std::to_string(size) + " bytes is over the limit of " +
                        std::to_string(options.max_bytes) + " bytes (LoadOptions::max_bytes)");
    const auto take = [&](std::uint64_t n) {
        const std::size_t old = head.size();
        head.resize(old + static_cast<std::size_t>(std::min(n, r.remaining())));
        r.read(head.data() + old, head.size() - old);
    };
    take(8);  // magic and version
    if (head.size() == 8 && head[6] >= 1 && head[6] <= 3) {
        const std::size_t len_bytes = head[6] == 1 ? 2 : 4;
        take(len_bytes);
        if (head.size() == 8 + len_bytes) take(read_le(head.data() + 8, len_bytes));
    }
    // parse_npy refuses a shape needing more bytes than the member declares, so the member's
    // size, checked above, also bounds the array.
    return parse_npy(head.data(), static_cast<std::size_t>(size), r.name());
}

/// The payload of `r` (after read_member_header) in one buffer, pointed to by `a`.
inline void read_payload(MemberReader& r, Array& a, std::vector<unsigned char>& payload) {
    payload.resize(a.count * a.dtype.size);
    r.read(payload.data(), payload.size());
    r.finish();
    a.data = payload.data();
}

/// The features in member `r`: float32 is inflated (or copied) straight into the matrix.
inline Matrix member_features(MemberReader& r, const LoadOptions& options) {
    std::vector<unsigned char> bytes;
    Array a = read_member_header(r, bytes, options);
    const auto [rows, cols] = feature_shape(a);
    if (!is_plain_float32(a.dtype)) {
        read_payload(r, a, bytes);
        return to_features(a);
    }
    Matrix m = Matrix::from_shape({rows, cols});
    float* out = m.data();
    constexpr std::size_t step = std::size_t{1} << 16;  // as in convert_features
    for (std::size_t done = 0; done < a.count;) {
        const std::size_t end = std::min(a.count, done + step);
        r.read(reinterpret_cast<unsigned char*>(out + done), (end - done) * 4);
        check_finite(out, done, end, 0, cols, a.name);
        done = end;
    }
    r.finish();
    return m;
}

inline Labels member_labels(MemberReader& r, std::size_t classes, const LoadOptions& options) {
    std::vector<unsigned char> bytes;
    Array a = read_member_header(r, bytes, options);
    read_payload(r, a, bytes);
    return to_labels(a, classes);
}

inline Dataset npz_dataset(const InputBytes& in, const std::string& path, const std::string& features_key,
                           const std::string& labels_key, std::size_t classes, const LoadOptions& options) {
    const ZipReader zip{in.bytes, path};
    const auto entries = zip_directory(zip);
    const auto& xe = find_npy_member(entries, features_key, path);
    const auto& ye = find_npy_member(entries, labels_key, path);
    MemberReader x(zip, xe, &in), y(zip, ye, &in);
    Dataset data;
    data.name = path;
    data.features = member_features(x, options);
    data.labels = member_labels(y, classes, options);
    finish_dataset(data, x.name(), y.name(), classes);
    return data;
}

}  // namespace detail::npy

/// Parses features and labels from two .npy images in memory (not gzipped); the names are for
/// messages. Same rules and errors as load_npy.
inline Dataset parse_npy(std::span<const unsigned char> features, const std::string& features_name,
                         std::span<const unsigned char> labels, const std::string& labels_name, std::size_t classes = 0) {
    const auto x = detail::npy::parse_npy(features.data(), features.size(), features_name);
    const auto y = detail::npy::parse_npy(labels.data(), labels.size(), labels_name);
    return detail::npy::npy_dataset(x, nullptr, y, classes, features_name);
}

/// Loads features and labels from two .npy files (each optionally gzip-compressed). Features
/// must be at least 2-D (N-D arrays become N x product-of-the-rest); labels are 1-D integers with
/// one per row. `classes` 0 infers max label + 1. Throws ist::DataError naming file, offset and problem.
inline Dataset load_npy(const std::string& features_path, const std::string& labels_path, std::size_t classes = 0) {
    const detail::FileContent xf(features_path), yf(labels_path);
    const detail::InputBytes xin = xf.input();
    const auto x = detail::npy::parse_npy(xin.bytes.data(), xin.bytes.size(), features_path);
    const auto y = detail::npy::parse_npy(yf.input().bytes.data(), yf.input().bytes.size(), labels_path);
    return detail::npy::npy_dataset(x, &xin, y, classes, features_path);
}

/// Whether the .npz archive at `path` holds an array named `key` (a member "<key>.npy").
inline bool npz_contains(const std::string& path, const std::string& key) {
    const detail::FileContent content(path);
    const detail::ZipReader zip{content.input().bytes, path};
    const auto entries = detail::zip_directory(zip);
    return std::any_of(entries.begin(), entries.end(), [&](const auto& e) { return e.name == key + ".npy"; });
}

/// Rows without labels (new rows to predict): the features of a .npy file (optionally gzipped),
/// or of member `features_key` of a .npz archive (the file name ends in .npz), every label
/// kUnlabeled and the class count `classes`. Same rules and errors as load_npy / load_npz.
inline Dataset load_unlabelled_numpy(const std::string& path, const std::string& features_key = "x",
                                     std::size_t classes = 0, const LoadOptions& options = {}) {
    const detail::FileContent content(path);
    const detail::InputBytes in = content.input();
    Dataset data;
    data.name = path;
    if (path.size() >= 4 && path.compare(path.size() - 4, 4, ".npz") == 0) {
        const detail::ZipReader zip{in.bytes, path};
        const auto entries = detail::zip_directory(zip);
        detail::MemberReader x(zip, detail::find_npy_member(entries, features_key, path), &in);
        data.features = detail::npy::member_features(x, options);
    } else {
        data.features = detail::npy::to_features(detail::npy::parse_npy(in.bytes.data(), in.bytes.size(), path), &in);
    }
    data.labels.assign(data.size(), kUnlabeled);
    data.classes = classes;
    return data;
}

/// Parses an .npz archive held in memory (not gzipped; `name` is for messages); see load_npz.
inline Dataset parse_npz(std::span<const unsigned char> archive, const std::string& name,
                         const std::string& features_key = "x", const std::string& labels_key = "y",
                         std::size_t classes = 0, const LoadOptions& options = {}) {
    return detail::npy::npz_dataset({archive, nullptr}, name, features_key, labels_key, classes, options);
}

/// Loads features and labels from the arrays `features_key` and `labels_key` of a .npz archive
/// (np.savez or np.savez_compressed). Same rules and errors as load_npy, with the member named;
/// a member larger than `options.max_bytes` is refused before it is read.
inline Dataset load_npz(const std::string& path, const std::string& features_key = "x",
                        const std::string& labels_key = "y", std::size_t classes = 0,
                        const LoadOptions& options = {}) {
    const detail::FileContent content(path);
    return detail::npy::npz_dataset(content.input(), path, features_key, labels_key, classes, options);
}

}  // namespace ist
