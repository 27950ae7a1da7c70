#pragma once
// Load a numeric CSV file (plain or gzip) into a Dataset: every column a float feature except one
// integer label column. Errors say file, line and column so a bad cell can be found in an editor.
// Why not xtensor's xcsv.hpp: its errors carry no position, it reads no gzip, and it is not fuzzed.
// parse_csv reads text in memory; load_csv maps the file (or gunzips it) and runs the same parse:
// rows are counted first, then every cell is parsed (std::from_chars, or a digits-only fast path)
// straight into the feature matrix, with no per-field string and no copy of the text.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <span>
#include <system_error>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/detail/mapped_file.hpp"

namespace ist {

struct CsvOptions {
    int label_column = -1;      ///< 0-based column of the label; -1 = last
    bool header = false;        ///< skip the first non-blank line
    char delimiter = ',';
    std::size_t classes = 0;    ///< 0 = infer as max label + 1
    /// Also skip the first non-blank line when it is a header row (a cell that is not a number);
    /// off by default, so a library caller's typo on line 1 stays an error rather than a lost row.
    bool detect_header = false;
    /// When set, receives whether detect_header found (and skipped) a header row: for a note.
    bool* header_detected = nullptr;
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

/// Cuts the next line (without its '\n') off the front of `rest`.
inline std::string_view next_line(std::string_view& rest) {
    const std::size_t eol = rest.find('\n');
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(eol == std::string_view::npos ? rest.size() : eol + 1);
    return line;
}

/// Gives the pages of a mapped file back every few megabytes as a pass moves through it, so a
/// pass over a large file does not keep all of it resident.
struct PageReleaser {
    const InputBytes& in;
    const char* from;
    void at(const char* now) {
        constexpr std::ptrdiff_t step = std::ptrdiff_t{8} << 20;
        if (now - from < step) return;
        in.done_with(reinterpret_cast<const unsigned char*>(from), reinterpret_cast<const unsigned char*>(now));
        from = now;
    }
};

/// The data rows `text` holds: its non-blank lines, less the header line.
inline std::size_t count_rows(std::string_view text, const InputBytes& in, bool header) {
    std::size_t lines = 0;
    PageReleaser pages{in, text.data()};
    for (std::string_view rest = text; !rest.empty();) {
        const std::string_view line = next_line(rest);
        // Most lines start with a digit: skip the trim for them.
        const char first = line.empty() ? ' ' : line.front();
        if ((first != ' ' && first != '\t' && first != '\r') || !is_blank(line)) ++lines;
        pages.at(rest.data());
    }
    pages.at(text.data() + text.size());
    return lines - (header && lines > 0 ? 1 : 0);
}

inline std::size_t field_count(std::string_view line, char delimiter) {
    return static_cast<std::size_t>(std::count(line.begin(), line.end(), delimiter)) + 1;
}

/// What a parse knows once it has seen the first data row.
struct Layout {
    const std::string& path;
    std::size_t line_no = 0;
    std::size_t columns = 0;   ///< fields per row, fixed by the first data row
    std::size_t label_at = 0;  ///< 0-based label column
    char delimiter = ',';
    std::size_t classes = 0;
};

[[noreturn]] inline void throw_ragged(const Layout& at, std::size_t found) {
    throw DataError(at.path + ": line " + std::to_string(at.line_no) + ": expected " +
                    std::to_string(at.columns) + " fields, found " + std::to_string(found));
}

/// A cell of plain decimal digits (optionally after '-') that ends at the delimiter or the line
/// end, as most numeric CSVs are written: parsed here without from_chars. Below 10^15 the value
/// is exact as a double, so it is the double from_chars would give (-0 stays -0.0). On success
/// `p` moves to the next cell and `more` says whether there is one; otherwise nothing changes.
inline bool integer_cell(const char*& p, const char* end, char delimiter, double& value, bool& more) {
    if (static_cast<unsigned>(delimiter - '0') < 10 || delimiter == '-') return false;  // would read as part of a number
    const char* q = p;
    const bool negative = q < end && *q == '-';
    if (negative) ++q;
    const char* const digits = q;
    std::uint64_t n = 0;
    while (q < end && q - digits < 15 && static_cast<unsigned>(*q - '0') < 10) n = n * 10 + static_cast<unsigned>(*q++ - '0');
    if (q == digits || q - digits >= 15 || (q != end && *q != delimiter)) return false;
    value = negative ? -static_cast<double>(n) : static_cast<double>(n);
    more = q != end;
    p = more ? q + 1 : end;
    return true;
}

/// Parses one data line into `features` (columns - 1 floats) and returns its label. A line with
/// the wrong number of fields is reported as such even when a cell before the end is also bad.
inline std::uint32_t parse_row(std::string_view line, const Layout& at, float* features) {
    const std::string& path = at.path;
    const char* p = line.data();
    const char* const end = p + line.size();
    std::uint32_t label = 0;
    bool more = true;
    try {
        for (std::size_t c = 0; c < at.columns; ++c) {
            if (!more) throw_ragged(at, c);
            if (double v = 0; c != at.label_at && integer_cell(p, end, at.delimiter, v, more)) {
                *features++ = static_cast<float>(v);  // finite: below 10^15
                continue;
            }
            const char* cut = static_cast<const char*>(std::memchr(p, at.delimiter, static_cast<std::size_t>(end - p)));
            more = cut != nullptr;
            if (!more) cut = end;
            const std::string_view cell = trim({p, static_cast<std::size_t>(cut - p)});
            p = more ? cut + 1 : end;
            if (c != at.label_at) {
                *features++ = parse_feature(cell, path, at.line_no, c + 1);
                continue;
            }
            label = parse_label(cell, where(path, at.line_no, c + 1));
            if (at.classes != 0 && label >= at.classes)
                throw DataError(where(path, at.line_no, c + 1) + ": label " + std::to_string(label) +
                                " is out of range for " + std::to_string(at.classes) + " classes");
        }
    } catch (const DataError&) {
        if (const std::size_t found = field_count(line, at.delimiter); found != at.columns) throw_ragged(at, found);
        throw;
    }
    if (more) throw_ragged(at, field_count(line, at.delimiter));
    return label;
}

/// Whether the first non-blank line of `text` has a cell that is not a number (a header row).
inline bool first_line_is_header(std::string_view text, char delimiter) {
    for (std::string_view rest = text; !rest.empty();) {
        const std::string_view line = next_line(rest);
        if (is_blank(line)) continue;
        for (std::string_view cells = line;;) {
            const std::size_t cut = cells.find(delimiter);
            double v = 0;
            if (!parse_number(trim(cells.substr(0, cut)), v)) return true;
            if (cut == std::string_view::npos) return false;
            cells.remove_prefix(cut + 1);
        }
    }
    return false;
}

/// Whether the parse skips a first line: given (options.header) or detected.
inline bool skips_header(std::string_view text, const CsvOptions& options) {
    const bool detected = !options.header && options.detect_header && first_line_is_header(text, options.delimiter);
    if (options.header_detected) *options.header_detected = detected;
    return options.header || detected;
}

/// Fixes the columns from the first data row, checking there is a feature and a label.
inline void read_layout(std::string_view line, Layout& at, int label_column) {
    at.columns = field_count(line, at.delimiter);
    if (at.columns < 2)
        throw DataError(at.path + ": line " + std::to_string(at.line_no) + ": found " +
                        std::to_string(at.columns) + " field, need at least one feature and a label (delimiter '" +
                        std::string(1, at.delimiter) + "')");
    at.label_at = label_column < 0 ? at.columns - 1 : static_cast<std::size_t>(label_column);
    detail::require(at.label_at < at.columns, "load_csv: label_column " + std::to_string(label_column) +
                                                  " is outside the " + std::to_string(at.columns) + " columns of " +
                                                  at.path);
}

/// The parse behind parse_csv and load_csv: rows counted first, then parsed straight into the
/// feature matrix in one pass, giving mapped pages back as it goes.
inline Dataset parse(const InputBytes& in, const std::string& path, const CsvOptions& options) {
    detail::require(options.label_column >= -1,
                    "load_csv: label_column must be >= 0 or -1 (last), got " + std::to_string(options.label_column));
    const std::string_view text(reinterpret_cast<const char*>(in.bytes.data()), in.bytes.size());
    const bool header = skips_header(text, options);
    const std::size_t rows = count_rows(text, in, header);
    if (rows == 0) throw DataError(path + ": empty file (no data rows)");

    Dataset data;
    data.name = path;
    data.labels.resize(rows);
    Layout at{path, 0, 0, 0, options.delimiter, options.classes};
    bool header_pending = header;
    std::size_t row = 0;
    PageReleaser pages{in, text.data()};
    for (std::string_view rest = text; !rest.empty();) {
        const std::string_view line = next_line(rest);
        ++at.line_no;
        if (is_blank(line)) continue;
        if (header_pending) {
            header_pending = false;
            continue;
        }
        if (at.columns == 0) {
            read_layout(line, at, options.label_column);
            data.features = Matrix::from_shape({rows, at.columns - 1});
        }
        data.labels[row] = parse_row(line, at, data.features.data() + row * (at.columns - 1));
        ++row;
        pages.at(rest.data());
    }
    const std::uint32_t max_label = *std::max_element(data.labels.begin(), data.labels.end());
    data.classes = options.classes != 0 ? options.classes : std::size_t{max_label} + 1;
    return data;
}

}  // namespace detail::csv

/// Parses CSV `text` (`path` names it in messages and becomes the data set's name). Rows are
/// lines; blank lines are skipped so a trailing newline or an empty last line is harmless. Throws
/// ist::DataError for malformed data and ist::ConfigError when `options` do not fit the text.
inline Dataset parse_csv(std::string_view text, const std::string& path, const CsvOptions& options = {}) {
    const std::span<const unsigned char> bytes(reinterpret_cast<const unsigned char*>(text.data()), text.size());
    return detail::csv::parse({bytes, nullptr}, path, options);
}

/// Loads `path` (CSV, optionally gzip-compressed; a plain file is parsed in place, mapped); see
/// parse_csv for the rules and errors.
inline Dataset load_csv(const std::string& path, const CsvOptions& options = {}) {
    detail::require(options.label_column >= -1,
                    "load_csv: label_column must be >= 0 or -1 (last), got " + std::to_string(options.label_column));
    const detail::FileContent content(path);
    return detail::csv::parse(content.input(), path, options);
}

}  // namespace ist
