#pragma once
// Sparse tensors in model files: a pruned weight is stored in CSR form (compressed sparse rows)
// when that takes fewer bytes than the dense array. The tensor is seen as a matrix of
// shape[0] rows and size / shape[0] columns (a conv kernel: one row per output channel), and
// stored as three arrays beside where the dense one would be:
//   <name>.csr_values       float32 [nnz]      the non-zero values, row by row
//   <name>.csr_columns      uint32  [nnz]      the column of each, increasing within a row
//   <name>.csr_row_offsets  uint64  [rows + 1] where each row starts in the two arrays above
// scipy.sparse.csr_matrix((values, columns, row_offsets), shape=(rows, cols)) reads it.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/io/npz.hpp"

namespace ist::detail {

/// Suffixes of the three CSR arrays of a tensor.
inline constexpr const char* kCsrValues = ".csr_values";
inline constexpr const char* kCsrColumns = ".csr_columns";
inline constexpr const char* kCsrRowOffsets = ".csr_row_offsets";

/// The matrix view of a tensor: shape[0] rows (1 for a scalar or vector) by the rest.
inline std::size_t csr_rows(const Tensor& t) { return t.dimension() >= 2 ? t.shape()[0] : 1; }

/// Bytes of the arrays of `t` stored dense, and in CSR (with a rough allowance for the two extra
/// members' headers), so save_model picks the smaller.
inline bool csr_is_smaller(const Tensor& t) {
    if (t.dimension() < 2 || t.size() == 0) return false;
    std::size_t nonzeros = 0;
    for (float v : t) nonzeros += v != 0.0f;
    constexpr std::size_t kMemberOverhead = 2 * 256;
    return nonzeros * 8 + (csr_rows(t) + 1) * 8 + kMemberOverhead < t.size() * 4;
}

/// Adds `t` to `npz` as `name`: in CSR form if that is smaller, else dense.
inline void add_tensor(NpzWriter& npz, const std::string& name, const Tensor& t) {
    if (!csr_is_smaller(t)) return npz.add(name, t);
    const std::size_t rows = csr_rows(t), cols = t.size() / rows;
    std::vector<float> values;
    std::vector<std::uint32_t> columns;
    std::vector<std::uint64_t> offsets{0};
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t c = 0; c < cols; ++c)
            if (const float v = t.data()[r * cols + c]; v != 0.0f) values.push_back(v), columns.push_back(static_cast<std::uint32_t>(c));
        offsets.push_back(values.size());
    }
    npz.add(name + kCsrValues, values);
    npz.add(name + kCsrColumns, columns);
    npz.add(name + kCsrRowOffsets, offsets);
}

/// Fills `into` (already shaped) from the CSR arrays of `name`; DataError naming the array for
/// anything inconsistent (offsets out of order, a column out of range or repeated).
inline void read_csr(const NpzArchive& npz, const std::string& name, Tensor& into) {
    const std::string where = npz.path() + "[" + name + "]";
    const auto values = npz.values<float>(name + kCsrValues);
    const auto columns = npz.values<std::uint32_t>(name + kCsrColumns);
    const auto offsets = npz.values<std::uint64_t>(name + kCsrRowOffsets);
    const std::size_t rows = csr_rows(into), cols = rows ? into.size() / rows : 0;
    require<DataError>(offsets.size() == rows + 1, where + ": " + std::to_string(offsets.size()) +
                                                       " row offsets for a tensor of " + std::to_string(rows) + " rows");
    require<DataError>(values.size() == columns.size() && offsets.front() == 0 && offsets.back() == values.size(),
                       where + ": the row offsets must run from 0 to the number of values, one column per value");
    std::fill(into.begin(), into.end(), 0.0f);
    for (std::size_t r = 0; r < rows; ++r) {
        require<DataError>(offsets[r] <= offsets[r + 1] && offsets[r + 1] <= values.size(),
                           where + ": row offset " + std::to_string(r + 1) +
                               " is below the one before it or past the number of values");
        for (std::uint64_t k = offsets[r]; k < offsets[r + 1]; ++k) {
            require<DataError>(columns[k] < cols && (k == offsets[r] || columns[k] > columns[k - 1]),
                               where + ": column " + std::to_string(columns[k]) + " of row " + std::to_string(r) +
                                   " is out of range or out of order (" + std::to_string(cols) + " columns)");
            into.data()[r * cols + columns[k]] = values[k];
        }
    }
}

}  // namespace ist::detail
