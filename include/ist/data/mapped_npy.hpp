#pragma once
// A .npy feature file read in place, like np.load(mmap_mode='r'): the header and the file's size
// are checked when it is opened, and rows are converted to float only when asked for, so a process
// that needs one shard of the rows (an MPI rank, a worker) reads only those pages. load_npy_rows
// builds a Dataset of chosen rows; load_npy_shard one of every row with only a shard's rows read.
// The SIGBUS caveat of every mapped reader (a file truncated by someone else *after* it was
// opened) is described in detail/mapped_file.hpp.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <sys/mman.h>
#include <unistd.h>

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

namespace detail {

/// Every label of `labels_path` (.npy, read whole), checked to be one per row of `x`.
inline Labels labels_of_rows(const MappedNpy& x, const std::string& labels_path, std::size_t classes) {
    const FileContent yf(labels_path);
    const auto y = npy::parse_npy(yf.input().bytes.data(), yf.input().bytes.size(), labels_path);
    Labels all = npy::to_labels(y, classes);
    if (all.size() != x.rows())
        throw DataError(x.path() + ": rows mismatch: " + x.path() + " has " + std::to_string(x.rows()) + " rows but " +
                        labels_path + " has " + std::to_string(all.size()) + " labels");
    return all;
}

/// Reads file row file_row(k) of `x` into row out_row(k) of `out`, for k < count. Pages are given
/// back as the span of rows read since the last time, once it covers 2,048 rows or 2,048 rows
/// were read (one madvise per row would cost more than the read): rows scattered over the file
/// (a shard) are released as often as their span needs, since the kernel maps the pages around
/// each one read (fault-around) and they would otherwise stay resident.
template <class FileRow, class OutRow>
void read_npy_rows(MappedNpy& x, std::size_t count, FileRow file_row, OutRow out_row, Matrix& out) {
    std::size_t low = x.rows(), high = 0;
    for (std::size_t k = 0; k < count; ++k) {
        const std::size_t r = file_row(k);
        x.read_row(r, out.data() + std::size_t{out_row(k)} * x.cols());
        low = std::min(low, r);
        high = std::max(high, r + 1);
        if (k % 2048 == 2047 || high - low >= 2048 || k + 1 == count) {
            x.release_rows(low, high);
            low = x.rows(), high = 0;
        }
    }
}

inline std::size_t class_count(const Labels& all, std::size_t classes) {
    const std::uint32_t max_label = all.empty() ? 0 : *std::max_element(all.begin(), all.end());
    return classes != 0 ? classes : std::size_t{max_label} + 1;
}

}  // namespace detail

/// The rows `row_indices` (in that order, repeats allowed) of the features in `features_path`
/// (a plain .npy, mapped: only those rows are read) with their labels from `labels_path` (.npy,
/// read whole: one integer per row). `classes` 0 infers max label + 1 over *all* labels, so every
/// shard of one file agrees on the class count. Errors as load_npy's, plus ConfigError for an
/// index past the end.
inline Dataset load_npy_rows(const std::string& features_path, const std::string& labels_path,
                             std::span<const std::size_t> row_indices, std::size_t classes = 0) {
    MappedNpy x(features_path);
    const Labels all = detail::labels_of_rows(x, labels_path, classes);
    Dataset data;
    data.name = features_path;
    data.features = Matrix::from_shape({row_indices.size(), x.cols()});
    detail::read_npy_rows(x, row_indices.size(), [&](std::size_t k) { return row_indices[k]; },
                          [](std::size_t k) { return k; }, data.features);
    data.labels.resize(row_indices.size());
    for (std::size_t k = 0; k < row_indices.size(); ++k) data.labels[k] = all[row_indices[k]];
    data.classes = detail::class_count(all, classes);
    return data;
}

namespace detail {

/// A rows x cols matrix of zeros whose pages are not resident until written: the allocation's
/// whole pages are handed back (MADV_DONTNEED: private anonymous memory then reads as zero pages,
/// which count for no resident memory), the partial pages at either end are zeroed by hand.
inline Matrix untouched_zero_matrix(std::size_t rows, std::size_t cols) {
    Matrix m = Matrix::from_shape({rows, cols});
    auto* begin = reinterpret_cast<unsigned char*>(m.data());
    unsigned char* const end = begin + m.size() * sizeof(float);
    static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    auto* lo = reinterpret_cast<unsigned char*>((reinterpret_cast<std::uintptr_t>(begin) + page - 1) / page * page);
    auto* hi = reinterpret_cast<unsigned char*>(reinterpret_cast<std::uintptr_t>(end) / page * page);
    if (lo >= hi || ::madvise(lo, static_cast<std::size_t>(hi - lo), MADV_DONTNEED) != 0) lo = hi = end;
    std::memset(begin, 0, static_cast<std::size_t>(lo - begin));
    std::memset(hi, 0, static_cast<std::size_t>(end - hi));
    return m;
}

}  // namespace detail

/// A data set of the rows `file_rows` of a plain .npy pair (its row i is file row file_rows[i])
/// of which only the rows `filled` (indices into file_rows) are read; the others are zeros that
/// take no memory. For a process that trains on one shard of a large file (an MPI rank): it holds
/// the shard, every row number still means what it means in the whole set, and the labels are
/// all there. `classes` 0 infers max label + 1 over the whole file, as load_npy does.
inline Dataset load_npy_shard(const std::string& features_path, const std::string& labels_path,
                              std::span<const std::uint32_t> file_rows, std::span<const std::uint32_t> filled,
                              std::size_t classes = 0) {
    MappedNpy x(features_path);
    const Labels all = detail::labels_of_rows(x, labels_path, classes);
    Dataset data;
    data.name = features_path;
    data.labels.resize(file_rows.size());
    for (std::size_t i = 0; i < file_rows.size(); ++i) {
        detail::require(file_rows[i] < x.rows(), features_path + ": row " + std::to_string(file_rows[i]) +
                                                     " is out of range for " + std::to_string(x.rows()) + " rows");
        data.labels[i] = all[file_rows[i]];
    }
    for (std::uint32_t k : filled)
        detail::require(k < file_rows.size(), "load_npy_shard: row " + std::to_string(k) + " is out of range for " +
                                                  std::to_string(file_rows.size()) + " rows");
    data.features = detail::untouched_zero_matrix(file_rows.size(), x.cols());
    detail::read_npy_rows(x, filled.size(), [&](std::size_t k) { return file_rows[filled[k]]; },
                          [&](std::size_t k) { return filled[k]; }, data.features);
    data.classes = detail::class_count(all, classes);
    return data;
}

}  // namespace ist
