#pragma once
// libsvm / svmlight text files, single- or multi-label: `label idx:value ...` or
// `l1,l2,... idx:value ...` (the LIBSVM multi-label data sets), 1-based feature indices by default,
// an optional trailing `# comment`. Labels are non-negative integers (a binary file written with
// -1/+1 is refused, naming the cell: map it to 0/1 first). Widths are inferred (largest index + 1)
// unless given; a test file is loaded with its training set's widths, so an index past them is an
// error at its line and column. Duplicates in a row are refused (data/sparse_rows.hpp).
#include <string>
#include <string_view>

#include "ist/data/sparse_dataset.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/data/sparse_rows.hpp"

namespace ist {

struct LibsvmOptions {
    bool multi_label = false;     ///< labels as a comma list (empty sets allowed only with the next)
    bool allow_empty_label_sets = false;
    std::size_t features = 0;     ///< 0 = largest index + 1; else indices must fit
    std::size_t classes = 0;      ///< 0 = largest label + 1; else labels must fit
    std::uint32_t first_index = 1;  ///< the index the file writes for feature 0 (svmlight: 1)
};

/// Parses libsvm text held in `text`; `path` names it in errors.
inline SparseDataset parse_libsvm(std::string_view text, const std::string& path, const LibsvmOptions& options = {}) {
    using namespace detail::sparse;
    SparseDataset out;
    out.name = path;
    LineParser parser({path, options.first_index, options.features, options.classes, options.multi_label,
                       options.allow_empty_label_sets, "LibsvmOptions::features"});
    parse_lines(text, 0, parser, out);
    if (out.size() == 0) throw DataError(path + ": no rows");
    out.features.cols = options.features ? options.features : parser.seen_features();
    out.classes = options.classes ? options.classes : parser.seen_labels();
    if (out.features.cols == 0) throw DataError(path + ": no features in any row");
    if (out.classes == 0) throw DataError(path + ": no labels in any row");
    return out;
}

/// Loads a libsvm file (plain or gzip).
inline SparseDataset load_libsvm(const std::string& path, const LibsvmOptions& options = {}) {
    const detail::FileContent content(path);
    return parse_libsvm(content.text(), path, options);
}

}  // namespace ist
