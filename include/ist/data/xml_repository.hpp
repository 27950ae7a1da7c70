#pragma once
// The Extreme Classification Repository's bag-of-words text format (Bhatia et al., the XML
// repository; Amazon-670k, EURLex-4K, ...): a header line `points features labels`, then one line
// per point, `l1,l2,... f:v f:v ...` with 0-based label and feature indices. Plain or gzip.
// Errors name "<path>: line L, column C". Duplicates in a row are refused (data/sparse_rows.hpp);
// a row without labels is refused unless XmlOptions::allow_empty_label_sets keeps it.
#include <charconv>
#include <string>
#include <string_view>

#include "ist/data/sparse_dataset.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/data/sparse_rows.hpp"

namespace ist {

struct XmlOptions {
    /// Keep rows whose label set is empty (some test files have them; metrics skip them).
    bool allow_empty_label_sets = false;
};

namespace detail::sparse {

struct XmlHeader {
    std::size_t points = 0, features = 0, labels = 0;
};

/// The three counts of the first line; anything else is "a missing header".
inline XmlHeader parse_xml_header(std::string_view line, const std::string& path) {
    std::size_t counts[3] = {0, 0, 0};
    std::size_t at = 0;
    const auto bad = [&](const std::string& why) -> DataError {
        return DataError(csv::where(path, 1, at + 1) + ": " + why +
                         " (the first line must be the header 'points features labels')");
    };
    for (std::size_t& c : counts) {
        while (at < line.size() && is_space(line[at])) ++at;
        const auto [end, ec] = std::from_chars(line.data() + at, line.data() + line.size(), c);
        if (ec != std::errc{} || (end != line.data() + line.size() && !is_space(*end)))
            throw bad("'" + std::string(line.substr(at, line.find(' ', at) - at)) + "' is not a count");
        at = static_cast<std::size_t>(end - line.data());
    }
    while (at < line.size() && is_space(line[at])) ++at;
    if (at != line.size()) throw bad("more than three counts");
    if (counts[1] == 0 || counts[2] == 0) throw bad("zero features or labels");
    if (counts[1] > 0xFFFFFFFFull || counts[2] > 0xFFFFFFFFull) throw bad("more than 2^32 features or labels");
    return {counts[0], counts[1], counts[2]};
}

}  // namespace detail::sparse

/// Parses the repository format held in `text`; `path` names it in errors.
inline SparseDataset parse_xml_repository(std::string_view text, const std::string& path, const XmlOptions& options = {}) {
    using namespace detail::sparse;
    std::string_view rest = text;
    const std::string_view first = detail::csv::next_line(rest);
    if (detail::csv::is_blank(first)) throw DataError(path + ": line 1: missing header 'points features labels'");
    const XmlHeader header = parse_xml_header(first, path);
    SparseDataset out;
    out.name = path;
    out.features.cols = header.features;
    out.classes = header.labels;
    LineParser parser({path, 0, header.features, header.labels, true, options.allow_empty_label_sets,
                       "the header's width"});
    parse_lines(rest, 1, parser, out);
    if (out.size() != header.points)
        throw DataError(path + ": the header declares " + std::to_string(header.points) + " points, the file has " +
                        std::to_string(out.size()));
    if (out.size() == 0) throw DataError(path + ": no points");
    return out;
}

/// Loads a repository file (plain or gzip).
inline SparseDataset load_xml_repository(const std::string& path, const XmlOptions& options = {}) {
    const detail::FileContent content(path);
    return parse_xml_repository(content.text(), path, options);
}

/// Writes `data` in the repository format (labels, then features with 0-based indices; values
/// with the shortest text that reads back to the same float).
inline std::string format_xml_repository(const SparseDataset& data) {
    std::string out = std::to_string(data.size()) + " " + std::to_string(data.feature_count()) + " " +
                      std::to_string(data.classes) + "\n";
    char number[32];
    for (std::size_t r = 0; r < data.size(); ++r) {
        const auto labels = data.labels.of(r);
        // Appended piece by piece: cheaper, and GCC 12 warns (-Wrestrict) on "," + std::string.
        for (std::size_t k = 0; k < labels.size(); ++k) {
            if (k) out += ',';
            out += std::to_string(labels[k]);
        }
        const auto idx = data.features.row_indices(r);
        const auto val = data.features.row_values(r);
        for (std::size_t k = 0; k < idx.size(); ++k) {
            out += ' ';
            out += std::to_string(idx[k]);
            out += ':';
            out.append(number, std::to_chars(number, number + sizeof number, val[k]).ptr);
        }
        out += '\n';
    }
    return out;
}

}  // namespace ist
