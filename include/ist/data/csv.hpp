#pragma once
// Load a numeric CSV file (plain or gzip) into a Dataset: every column a float feature except one
// integer label column. Errors say file, line and column so a bad cell can be found in an editor.
// Why not xtensor's xcsv.hpp: its errors carry no position, it reads no gzip, and it is not fuzzed.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/file_bytes.hpp"

namespace ist {

struct CsvOptions {
    int label_column = -1;      ///< 0-based column of the label; -1 = last
    bool header = false;        ///< skip the first non-blank line
    char delimiter = ',';
    std::size_t classes = 0;    ///< 0 = infer as max label + 1
};

namespace detail::csv {

/// Where a cell is, as text for error messages: "<path>: line L, column C".
inline std::string where(const std::string& path, std::size_t line, std::size_t column) {
    return path + ": line " + std::to_string(line) + ", column " + std::to_string(column);
}

inline std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
    return s;
}

inline bool is_blank(std::string_view line) { return trim(line).empty(); }

/// Parses a whole cell as a double; false if any of it is not part of the number.
/// from_chars rejects a leading '+', which spreadsheets do write, so it is skipped here.
inline bool parse_number(std::string_view cell, double& value) {
    if (cell.size() > 1 && cell.front() == '+' && cell[1] != '-' && cell[1] != '+') cell.remove_prefix(1);
    if (cell.empty()) return false;
    const auto [end, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), value);
    // ERANGE for doubles means overflow to +-huge or underflow: the former is caught as
    // non-finite after conversion to float, the latter is a legitimate tiny number.
    return end == cell.data() + cell.size() && (ec == std::errc{} || ec == std::errc::result_out_of_range);
}

/// Splits `line` at `delimiter` into `cells` (reused to avoid reallocating per row).
inline void split(std::string_view line, char delimiter, std::vector<std::string_view>& cells) {
    cells.clear();
    for (;;) {
        const std::size_t cut = line.find(delimiter);
        cells.push_back(trim(line.substr(0, cut)));
        if (cut == std::string_view::npos) return;
        line.remove_prefix(cut + 1);
    }
}

/// The label in `cell`: a finite, non-negative integer that fits a uint32 (written as "3" or "3.0").
inline std::uint32_t parse_label(std::string_view cell, const std::string& at) {
    double v = 0.0;
    if (!parse_number(cell, v)) throw DataError(at + ": label '" + std::string(cell) + "' is not a number");
    if (!std::isfinite(v) || v < 0.0 || v != std::floor(v) || v > 4294967295.0)
        throw DataError(at + ": label '" + std::string(cell) + "' is not a non-negative integer");
    return static_cast<std::uint32_t>(v);
}

/// The feature in `cell` as a float, rejecting text and values that are not finite as a float.
inline float parse_feature(std::string_view cell, const std::string& path, std::size_t line, std::size_t column) {
    double v = 0.0;
    if (!parse_number(cell, v))
        throw DataError(where(path, line, column) + ": '" + std::string(cell) + "' is not a number");
    const auto f = static_cast<float>(v);
    if (!std::isfinite(f))
        throw DataError(where(path, line, column) + ": feature '" + std::string(cell) + "' is not a finite float");
    return f;
}

}  // namespace detail::csv

/// Parses CSV `text` (`path` names it in messages and becomes the data set's name). Rows are
/// lines; blank lines are skipped so a trailing newline or an empty last line is harmless. Throws
/// ist::DataError for malformed data and ist::ConfigError when `options` do not fit the text.
inline Dataset parse_csv(std::string_view text, const std::string& path, const CsvOptions& options = {}) {
    using namespace detail::csv;
    detail::require(options.label_column >= -1,
                    "load_csv: label_column must be >= 0 or -1 (last), got " + std::to_string(options.label_column));

    std::vector<float> values;
    Labels labels;
    std::vector<std::string_view> cells;
    std::size_t columns = 0;        // fixed by the first data row
    std::size_t label_at = 0;       // 0-based label column once `columns` is known
    std::size_t line_no = 0;
    bool header_pending = options.header;

    std::string_view rest(text);
    while (!rest.empty()) {
        const std::size_t eol = rest.find('\n');
        const std::string_view line = rest.substr(0, eol);
        rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
        ++line_no;
        if (is_blank(line)) continue;
        if (header_pending) {
            header_pending = false;
            continue;
        }
        split(line, options.delimiter, cells);
        if (columns == 0) {
            columns = cells.size();
            if (columns < 2)
                throw DataError(path + ": line " + std::to_string(line_no) + ": found " + std::to_string(columns) +
                                " field, need at least one feature and a label (delimiter '" +
                                std::string(1, options.delimiter) + "')");
            label_at = options.label_column < 0 ? columns - 1 : static_cast<std::size_t>(options.label_column);
            detail::require(label_at < columns, "load_csv: label_column " + std::to_string(options.label_column) +
                                                    " is outside the " + std::to_string(columns) + " columns of " +
                                                    path);
        } else if (cells.size() != columns) {
            throw DataError(path + ": line " + std::to_string(line_no) + ": expected " + std::to_string(columns) +
                            " fields, found " + std::to_string(cells.size()));
        }
        for (std::size_t c = 0; c < columns; ++c) {
            if (c == label_at) {
                const std::uint32_t label = parse_label(cells[c], where(path, line_no, c + 1));
                if (options.classes != 0 && label >= options.classes)
                    throw DataError(where(path, line_no, c + 1) + ": label " + std::to_string(label) +
                                    " is out of range for " + std::to_string(options.classes) + " classes");
                labels.push_back(label);
            } else {
                values.push_back(parse_feature(cells[c], path, line_no, c + 1));
            }
        }
    }
    if (labels.empty()) throw DataError(path + ": empty file (no data rows)");

    Dataset data;
    data.name = path;
    data.features = Matrix::from_shape({labels.size(), columns - 1});
    std::memcpy(data.features.data(), values.data(), values.size() * sizeof(float));
    std::uint32_t max_label = 0;
    for (std::uint32_t l : labels) max_label = std::max(max_label, l);
    data.classes = options.classes != 0 ? options.classes : std::size_t{max_label} + 1;
    data.labels = std::move(labels);
    return data;
}

/// Loads `path` (CSV, optionally gzip-compressed); see parse_csv for the rules and errors.
inline Dataset load_csv(const std::string& path, const CsvOptions& options = {}) {
    detail::require(options.label_column >= -1,
                    "load_csv: label_column must be >= 0 or -1 (last), got " + std::to_string(options.label_column));
    return parse_csv(detail::read_file_text(path), path, options);
}

}  // namespace ist
