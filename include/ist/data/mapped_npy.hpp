#pragma once
// A .npy feature file read in place, like np.load(mmap_mode='r'): the header and the file's size
// are checked when it is opened, and rows are converted to float only when asked for, so a process
// that needs one shard of the rows (an MPI rank, a worker) reads only those pages. load_npy_rows
// builds a Dataset of chosen rows. The SIGBUS caveat of every mapped reader (a file truncated by
// someone else *after* it was opened) is described in detail/mapped_file.hpp.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/numpy.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/detail/mapped_file.hpp"
#include "ist/io/npy.hpp"

namespace ist {

class MappedNpy {
public:
    /// Maps `path` and checks its header; a file shorter than its header's shape needs is a
    /// DataError ("truncated data ..."), as is a gzip file (it cannot be read in place).
    explicit MappedNpy(const std::string& path) : map_(path) {
        if (detail::is_gzip(map_.bytes()))
            throw DataError(path + ": a gzip-compressed .npy cannot be memory-mapped (gunzip it, or use load_npy)");
        array_ = detail::npy::parse_npy(map_.bytes().data(), map_.bytes().size(), path);
        const auto [rows, cols] = detail::npy::feature_shape(array_);
        rows_ = rows;
        cols_ = cols;
        row_ = array_;
        row_.count = cols_;
    }

    std::size_t rows() const { return rows_; }
    std::size_t cols() const { return cols_; }
    const std::string& path() const { return array_.name; }

    /// Row `i` as cols() floats in `out`. Throws DataError for NaN/Inf (naming row and column)
    /// and ConfigError for a row past the end.
    void read_row(std::size_t i, float* out) {
        detail::require(i < rows_, path() + ": row " + std::to_string(i) + " is out of range for " +
                                       std::to_string(rows_) + " rows");
        row_.data = array_.data + i * row_bytes();
        detail::npy::convert_features(row_, out, cols_, i * cols_);
    }

    /// Gives back the pages of rows [first, last) (read again, they are faulted back in): a
    /// reader that calls this now and then keeps only its output resident.
    void release_rows(std::size_t first, std::size_t last) const {
        last = std::min(last, rows_);
        if (first < last) map_.release(array_.data + first * row_bytes(), array_.data + last * row_bytes());
    }

private:
    std::size_t row_bytes() const { return cols_ * array_.dtype.size; }

    detail::MappedFile map_;
    detail::npy::Array array_;
    detail::npy::Array row_;  // one row of array_, re-pointed by read_row
    std::size_t rows_ = 0, cols_ = 0;
};

/// The rows `row_indices` (in that order, repeats allowed) of the features in `features_path`
/// (a plain .npy, mapped: only those rows are read) with their labels from `labels_path` (.npy,
/// read whole: one integer per row). `classes` 0 infers max label + 1 over *all* labels, so every
/// shard of one file agrees on the class count. Errors as load_npy's, plus ConfigError for an
/// index past the end.
inline Dataset load_npy_rows(const std::string& features_path, const std::string& labels_path,
                             std::span<const std::size_t> row_indices, std::size_t classes = 0) {
    MappedNpy x(features_path);
    const detail::FileContent yf(labels_path);
    const auto y = detail::npy::parse_npy(yf.input().bytes.data(), yf.input().bytes.size(), labels_path);
    const Labels all = detail::npy::to_labels(y, classes);
    if (all.size() != x.rows())
        throw DataError(features_path + ": rows mismatch: " + features_path + " has " + std::to_string(x.rows()) +
                        " rows but " + labels_path + " has " + std::to_string(all.size()) + " labels");
    Dataset data;
    data.name = features_path;
    data.features = Matrix::from_shape({row_indices.size(), x.cols()});
    data.labels.resize(row_indices.size());
    // Pages are given back every 2,048 rows (one madvise per row would cost more than the read),
    // as the span of rows read since: for a shard, the rows themselves.
    std::size_t low = x.rows(), high = 0;
    for (std::size_t k = 0; k < row_indices.size(); ++k) {
        const std::size_t r = row_indices[k];
        x.read_row(r, data.features.data() + k * x.cols());
        data.labels[k] = all[r];
        low = std::min(low, r);
        high = std::max(high, r + 1);
        if (k % 2048 == 2047 || k + 1 == row_indices.size()) {
            x.release_rows(low, high);
            low = x.rows(), high = 0;
        }
    }
    const std::uint32_t max_label = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
    data.classes = classes != 0 ? classes : std::size_t{max_label} + 1;
    return data;
}

}  // namespace ist
