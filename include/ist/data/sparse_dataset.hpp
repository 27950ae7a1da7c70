#pragma once
// A data set for extreme multi-label classification: sparse feature rows (CSR) and a set of labels
// per row (CSR without values), as the Extreme Classification Repository's bag-of-words files hold.
// A row never holds a feature index twice, and its indices are sorted (the loaders refuse
// duplicates and sort), so a layer can walk a row once per weight column.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ist/core/error.hpp"

namespace ist {

/// Rows of (index, value) pairs: row r is indices/values[indptr[r], indptr[r + 1]).
struct CsrMatrix {
    std::vector<std::uint64_t> indptr{0};
    std::vector<std::uint32_t> indices;
    std::vector<float> values;
    std::size_t cols = 0;

    std::size_t rows() const { return indptr.size() - 1; }
    std::size_t nnz() const { return indices.size(); }
    std::span<const std::uint32_t> row_indices(std::size_t r) const {
        return {indices.data() + indptr[r], static_cast<std::size_t>(indptr[r + 1] - indptr[r])};
    }
    std::span<const float> row_values(std::size_t r) const {
        return {values.data() + indptr[r], static_cast<std::size_t>(indptr[r + 1] - indptr[r])};
    }
    /// Appends a row; `indices` must be sorted, distinct and below cols (validate() checks).
    void append_row(std::span<const std::uint32_t> idx, std::span<const float> val) {
        indices.insert(indices.end(), idx.begin(), idx.end());
        values.insert(values.end(), val.begin(), val.end());
        indptr.push_back(indices.size());
    }
};

/// A set of label ids per row: row r's labels are indices[indptr[r], indptr[r + 1]), sorted.
struct LabelSets {
    std::vector<std::uint64_t> indptr{0};
    std::vector<std::uint32_t> indices;

    std::size_t rows() const { return indptr.size() - 1; }
    std::span<const std::uint32_t> of(std::size_t r) const {
        return {indices.data() + indptr[r], static_cast<std::size_t>(indptr[r + 1] - indptr[r])};
    }
    void append_row(std::span<const std::uint32_t> labels) {
        indices.insert(indices.end(), labels.begin(), labels.end());
        indptr.push_back(indices.size());
    }
};

namespace detail {

/// Throws DataError unless every row of `indptr`/`indices` is sorted, distinct and below `bound`.
inline void check_csr_rows(std::span<const std::uint64_t> indptr, std::span<const std::uint32_t> indices,
                           std::size_t bound, const std::string& name, const char* what) {
    if (indptr.empty() || indptr.front() != 0 || indptr.back() != indices.size())
        throw DataError(name + ": " + what + " row offsets do not cover the " + std::to_string(indices.size()) + " entries");
    for (std::size_t r = 0; r + 1 < indptr.size(); ++r) {
        if (indptr[r + 1] < indptr[r]) throw DataError(name + ": row " + std::to_string(r) + ": offsets decrease");
        for (std::uint64_t k = indptr[r]; k < indptr[r + 1]; ++k) {
            if (indices[k] >= bound)
                throw DataError(name + ": row " + std::to_string(r) + ": " + what + " " + std::to_string(indices[k]) +
                                " is out of range for " + std::to_string(bound));
            if (k > indptr[r] && indices[k] <= indices[k - 1])
                throw DataError(name + ": row " + std::to_string(r) + ": " + what + " indices are not sorted and distinct");
        }
    }
}

}  // namespace detail

/// Sparse features with a label set per row. A row with an empty label set is allowed (the
/// repository's test files have some); metrics leave it out, as they leave out kUnlabeled rows.
struct SparseDataset {
    CsrMatrix features;
    LabelSets labels;
    std::size_t classes = 0;
    std::string name;  ///< where it came from, used in error messages

    std::size_t size() const { return features.rows(); }
    std::size_t feature_count() const { return features.cols; }

    /// Throws DataError naming the problem: empty set, row counts, indices out of range or
    /// unsorted, non-finite values.
    void validate() const {
        if (size() == 0 || feature_count() == 0 || classes == 0) throw DataError(name + ": the data set is empty");
        if (labels.rows() != size())
            throw DataError(name + ": " + std::to_string(labels.rows()) + " label sets for " + std::to_string(size()) + " rows");
        if (features.values.size() != features.indices.size())
            throw DataError(name + ": " + std::to_string(features.values.size()) + " feature values for " +
                            std::to_string(features.indices.size()) + " indices");
        detail::check_csr_rows(features.indptr, features.indices, feature_count(), name, "feature");
        detail::check_csr_rows(labels.indptr, labels.indices, classes, name, "label");
        for (std::size_t k = 0; k < features.values.size(); ++k)
            if (!std::isfinite(features.values[k]))
                throw DataError(name + ": feature value " + std::to_string(k) + " is not finite");
    }
};

/// x / y = the rows `rows` of `data`, in that order (a mini-batch, gathered as CSR).
inline void gather_rows(const SparseDataset& data, std::span<const std::uint32_t> rows, CsrMatrix& x, LabelSets& y) {
    x.indptr.assign(1, 0);
    x.indices.clear();
    x.values.clear();
    x.cols = data.features.cols;
    y.indptr.assign(1, 0);
    y.indices.clear();
    for (std::uint32_t r : rows) {
        detail::require<DataError>(r < data.size(), data.name + ": row " + std::to_string(r) + " is out of range for " +
                                                        std::to_string(data.size()) + " rows");
        x.append_row(data.features.row_indices(r), data.features.row_values(r));
        y.append_row(data.labels.of(r));
    }
}

/// The rows `rows` of `data`, in that order.
inline SparseDataset subset(const SparseDataset& data, std::span<const std::uint32_t> rows) {
    SparseDataset out;
    out.classes = data.classes;
    out.name = data.name;
    gather_rows(data, rows, out.features, out.labels);
    return out;
}

/// Throws DataError unless `test` can be scored by a model trained on `train`: the same feature
/// width (a test file declaring more features than training would index past the input layer)
/// and no more classes. Test labels never seen in training are kept: they count as misses in
/// P@k, as in the XML literature.
inline void check_test_fits_train(const SparseDataset& train, const SparseDataset& test) {
    if (test.feature_count() != train.feature_count())
        throw DataError(test.name + ": " + std::to_string(test.feature_count()) + " features, the training set " +
                        train.name + " has " + std::to_string(train.feature_count()));
    if (test.classes > train.classes)
        throw DataError(test.name + ": " + std::to_string(test.classes) + " labels, the training set " + train.name +
                        " has " + std::to_string(train.classes));
}

}  // namespace ist
