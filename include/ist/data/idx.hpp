#pragma once
// Load MNIST-style IDX files (the format of MNIST and Fashion-MNIST), gzipped or not: an image
// file of N x rows x cols unsigned bytes and a label file of N unsigned bytes, both big-endian.
// parse_idx reads both from memory; load_idx maps (or gunzips) the files and calls it.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/detail/mapped_file.hpp"

namespace ist {

namespace detail::idx {

/// The big-endian 32-bit word at `offset` (IDX stores every header field this way).
inline std::uint32_t read_be32(std::span<const unsigned char> b, std::size_t offset) {
    return std::uint32_t{b[offset]} << 24 | std::uint32_t{b[offset + 1]} << 16 | std::uint32_t{b[offset + 2]} << 8 |
           std::uint32_t{b[offset + 3]};
}

inline std::string hex32(std::uint32_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s = "0x";
    for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 0xF];
    return s;
}

/// Checks the magic number of an IDX file (its low byte is the number of dimensions) and returns
/// the dimensions, after checking the payload holds every byte they promise.
inline std::vector<std::size_t> read_header(std::span<const unsigned char> b, const std::string& path,
                                            std::uint32_t magic, const char* what) {
    const std::size_t dims = magic & 0xFF;
    const std::size_t header = 4 + 4 * dims;
    if (b.size() < 4 || read_be32(b, 0) != magic) {
        const std::string found = b.size() < 4 ? "(file shorter than 4 bytes)" : hex32(read_be32(b, 0));
        throw DataError(path + ": bad magic " + found + " at offset 0, expected " + hex32(magic) + " (IDX " + what +
                        ")");
    }
    if (b.size() < header)
        throw DataError(path + ": truncated header: expected " + std::to_string(header) + " bytes, found " +
                        std::to_string(b.size()));
    std::vector<std::size_t> shape(dims);
    std::size_t payload = 1;
    for (std::size_t d = 0; d < dims; ++d) {
        shape[d] = read_be32(b, 4 + 4 * d);
        if (shape[d] != 0 && payload > std::numeric_limits<std::size_t>::max() / shape[d])
            throw DataError(path + ": dimensions in the header are too large");
        payload *= shape[d];
    }
    if (b.size() - header < payload)
        throw DataError(path + ": truncated payload: expected " + std::to_string(payload) + " bytes after the " +
                        std::to_string(header) + "-byte header, found " + std::to_string(b.size() - header));
    return shape;
}

}  // namespace detail::idx

namespace detail::idx {

/// The pixels of `n` images scaled to [0, 1] into `dst`, giving mapped pages back as it goes.
inline void scale_pixels(const InputBytes& images, std::size_t offset, std::size_t count, float* dst) {
    constexpr std::size_t step = std::size_t{8} << 20;
    const unsigned char* src = images.bytes.data() + offset;
    for (std::size_t done = 0; done < count;) {
        const std::size_t end = std::min(count, done + step);
        for (std::size_t k = done; k < end; ++k) dst[k] = static_cast<float>(src[k]) / 255.0f;
        images.done_with(src + done, src + end);
        done = end;
    }
}

inline Dataset parse(const InputBytes& images, const std::string& images_name, std::span<const unsigned char> label_bytes,
                     const std::string& labels_name, std::size_t classes) {
    const auto ishape = read_header(images.bytes, images_name, 0x00000803, "uint8 images, 3 dimensions");
    const auto lshape = read_header(label_bytes, labels_name, 0x00000801, "uint8 labels, 1 dimension");
    const std::size_t n = ishape[0], pixels = ishape[1] * ishape[2];
    if (lshape[0] != n)
        throw DataError("count mismatch: " + images_name + " has " + std::to_string(n) + " images but " + labels_name +
                        " has " + std::to_string(lshape[0]) + " labels");
    if (n == 0 || pixels == 0) throw DataError(images_name + ": no images");

    Dataset data;
    data.name = images_name;
    data.labels.resize(n);
    std::uint32_t max_label = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint32_t label = label_bytes[8 + i];
        if (classes != 0 && label >= classes)
            throw DataError(labels_name + ": label " + std::to_string(label) + " at index " + std::to_string(i) +
                            " (offset " + std::to_string(8 + i) + ") is out of range for " + std::to_string(classes) +
                            " classes");
        data.labels[i] = label;
        max_label = std::max(max_label, label);
    }
    // Labels first: a bad label is found before the large pixel matrix is allocated.
    data.features = Matrix::from_shape({n, pixels});
    scale_pixels(images, 16, n * pixels, data.features.data());
    data.classes = classes != 0 ? classes : std::size_t{max_label} + 1;
    return data;
}

}  // namespace detail::idx

/// Parses an IDX image file (magic 0x00000803: N x rows x cols uint8) and its label file (magic
/// 0x00000801: N uint8), both already in memory (not gzipped), into an N x (rows*cols) Dataset
/// with pixels scaled to [0, 1]. The names are for messages. `classes` 0 infers max label + 1.
/// Throws ist::DataError naming file and problem.
inline Dataset parse_idx(std::span<const unsigned char> images, const std::string& images_name,
                         std::span<const unsigned char> labels, const std::string& labels_name,
                         std::size_t classes = 10) {
    return detail::idx::parse({images, nullptr}, images_name, labels, labels_name, classes);
}

/// Loads an IDX image file and its label file (each optionally gzipped); see parse_idx.
inline Dataset load_idx(const std::string& images_path, const std::string& labels_path, std::size_t classes = 10) {
    const detail::FileContent images(images_path);
    const detail::FileContent labels(labels_path);
    return detail::idx::parse(images.input(), images_path, labels.input().bytes, labels_path, classes);
}

/// Loads an IDX image file (optionally gzipped) without labels (new images to predict): pixels as
/// load_idx gives them, every label kUnlabeled, the class count `classes`.
inline Dataset load_idx_images(const std::string& images_path, std::size_t classes = 10) {
    const detail::FileContent content(images_path);
    const detail::InputBytes images = content.input();
    const auto shape = detail::idx::read_header(images.bytes, images_path, 0x00000803, "uint8 images, 3 dimensions");
    const std::size_t n = shape[0], pixels = shape[1] * shape[2];
    if (n == 0 || pixels == 0) throw DataError(images_path + ": no images");
    Dataset data;
    data.name = images_path;
    data.features = Matrix::from_shape({n, pixels});
    detail::idx::scale_pixels(images, 16, n * pixels, data.features.data());
    data.labels.assign(n, kUnlabeled);
    data.classes = classes;
    return data;
}

}  // namespace ist
