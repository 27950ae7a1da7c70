#pragma once
// Load a numeric CSV file (plain or gzip) into a Dataset: every column a float feature except one
// integer label column. Errors say file, line and column so a bad cell can be found in an editor.
// Why not xtensor's xcsv.hpp: its errors carry no position, it reads no gzip, and it is not fuzzed.
// parse_csv reads text in memory; load_csv maps the file (or gunzips it) and runs the same parse:
// rows are counted first, then every cell is parsed (detail/csv_cells.hpp) straight into the
// feature matrix, with no per-field string and no copy of the text, by blocks of lines on
// LoadOptions::threads threads.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <exception>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/load_options.hpp"
#include "ist/detail/csv_cells.hpp"
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
    /// false: rows without a label (new rows to predict): every column is a feature, every label
    /// kUnlabeled, label_column ignored.
    bool labelled = true;
};

namespace detail::csv {

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

/// A run of whole lines of the text, parsed by one thread: where its lines and rows start.
struct Block {
    std::string_view text;
    std::size_t first_line = 0;  ///< 1-based number of its first line, less one
    std::size_t first_row = 0;   ///< output row of its first data row
    std::size_t rows = 0;        ///< its data rows (non-blank lines)
    std::size_t lines = 0;       ///< its lines, blank ones too
};

/// Counts the rows and lines of `b`, giving mapped pages back as it goes.
inline void count_block(Block& b, const InputBytes& in) {
    PageReleaser pages{in, b.text.data()};
    for (std::string_view rest = b.text; !rest.empty();) {
        const std::string_view line = next_line(rest);
        ++b.lines;
        // Most lines start with a digit: skip the trim for them.
        const char first = line.empty() ? ' ' : line.front();
        if ((first != ' ' && first != '\t' && first != '\r') || !is_blank(line)) ++b.rows;
        pages.at(rest.data());
    }
    pages.at(b.text.data() + b.text.size());
}

inline std::size_t field_count(std::string_view line, char delimiter) {
    return static_cast<std::size_t>(std::count(line.begin(), line.end(), delimiter)) + 1;
}

/// What a parse knows once it has seen the first data row.
struct Layout {
    const std::string& path;
    std::size_t line_no = 0;
    std::size_t columns = 0;   ///< fields per row, fixed by the first data row
    std::size_t label_at = 0;  ///< 0-based label column (SIZE_MAX: none)
    char delimiter = ',';
    std::size_t classes = 0;
    /// Whether integer_cell may be tried: not when the delimiter would read as part of a number.
    bool integers = static_cast<unsigned>(delimiter - '0') >= 10 && delimiter != '-';
};

[[noreturn]] inline void throw_ragged(const Layout& at, std::size_t found) {
    throw DataError(at.path + ": line " + std::to_string(at.line_no) + ": expected " +
                    std::to_string(at.columns) + " fields, found " + std::to_string(found));
}

/// Parses one data line into `features` (columns - 1 floats) and returns its label. A line with
/// the wrong number of fields is reported as such even when a cell before the end is also bad.
inline std::uint32_t parse_row(std::string_view line, const Layout& at, float* features) {
    const std::string& path = at.path;
    const char* p = line.data();
    const char* const end = p + line.size();
    std::uint32_t label = kUnlabeled;  // a labelled layout always reaches its label column
    bool more = true;
    try {
        for (std::size_t c = 0; c < at.columns; ++c) {
            if (!more) throw_ragged(at, c);
            if (c != at.label_at && at.integers && integer_cell(p, end, at.delimiter, *features, more)) {
                ++features;  // finite: below 10^15
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
            label = parse_label(cell, path, at.line_no, c + 1);
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
inline void read_layout(std::string_view line, Layout& at, int label_column, bool labelled) {
    at.columns = field_count(line, at.delimiter);
    if (!labelled) {
        at.label_at = SIZE_MAX;
        return;
    }
    if (at.columns < 2)
        throw DataError(at.path + ": line " + std::to_string(at.line_no) + ": found " +
                        std::to_string(at.columns) + " field, need at least one feature and a label (delimiter '" +
                        std::string(1, at.delimiter) + "')");
    at.label_at = label_column < 0 ? at.columns - 1 : static_cast<std::size_t>(label_column);
    detail::require(at.label_at < at.columns, "load_csv: label_column " + std::to_string(label_column) +
                                                  " is outside the " + std::to_string(at.columns) + " columns of " +
                                                  at.path);
}

/// `text` cut into up to `threads` blocks of whole lines of about equal size.
inline std::vector<Block> cut_blocks(std::string_view text, std::size_t threads) {
    std::vector<Block> blocks;
    // Blocks under 1 MB are not worth a thread.
    const std::size_t n = std::max<std::size_t>(1, std::min(threads, text.size() >> 20));
    for (std::size_t start = 0, k = 1; start < text.size(); ++k) {
        std::size_t end = k == n ? text.size() : std::max(start, text.size() / n * k);
        end = end >= text.size() ? text.size() : std::min(text.size(), text.find('\n', end) + 1);
        if (end == 0) end = text.size();  // find gave npos: no '\n' after the cut
        blocks.push_back({text.substr(start, end - start)});
        start = end;
    }
    return blocks;
}

/// The feature columns of a row: all but the label's.
inline std::size_t feature_columns(const Layout& at) { return at.columns - (at.label_at < at.columns ? 1 : 0); }

/// Parses the rows of `b` into `data` (its matrix sized for every row).
inline void parse_block(const Block& b, Layout at, Dataset& data, const InputBytes& in) {
    at.line_no = b.first_line;
    std::size_t row = b.first_row;
    const std::size_t features = feature_columns(at);
    PageReleaser pages{in, b.text.data()};
    for (std::string_view rest = b.text; !rest.empty();) {
        const std::string_view line = next_line(rest);
        ++at.line_no;
        if (is_blank(line)) continue;
        data.labels[row] = parse_row(line, at, data.features.data() + row * features);
        ++row;
        pages.at(rest.data());
    }
}

/// Runs f(block) for every block, one thread each (the first on the calling thread); rethrows the
/// exception of the first block that failed, so errors are those of a parse in file order.
template <class F>
void for_each_block(std::vector<Block>& blocks, F&& f) {
    if (blocks.empty()) return;
    std::vector<std::exception_ptr> failed(blocks.size());
    const auto guarded = [&](std::size_t k) {
        try {
            f(blocks[k]);
        } catch (...) {
            failed[k] = std::current_exception();
        }
    };
    std::vector<std::thread> threads;
    for (std::size_t k = 1; k < blocks.size(); ++k) threads.emplace_back(guarded, k);
    guarded(0);
    for (std::thread& t : threads) t.join();
    for (const std::exception_ptr& e : failed)
        if (e) std::rethrow_exception(e);
}

/// The header (when skipped) and the blank lines before the first data row, cut off `text`;
/// `lines` counts them.
inline std::string_view skip_to_data(std::string_view text, bool header, std::size_t& lines) {
    for (std::string_view rest = text; !rest.empty();) {
        const std::string_view at = rest;
        const std::string_view line = next_line(rest);
        if (is_blank(line)) {
            ++lines;
            continue;
        }
        if (!header) return at;
        header = false;
        ++lines;
    }
    return {};
}

/// The parse behind parse_csv and load_csv: the text after any header is cut into blocks of
/// lines; rows are counted per block, then every block is parsed straight into the feature matrix
/// at its first row, giving mapped pages back as it goes. One thread per block.
inline Dataset parse(const InputBytes& in, const std::string& path, const CsvOptions& options, std::size_t threads) {
    detail::require(options.label_column >= -1,
                    "load_csv: label_column must be >= 0 or -1 (last), got " + std::to_string(options.label_column));
    const std::string_view all(reinterpret_cast<const char*>(in.bytes.data()), in.bytes.size());
    std::size_t skipped_lines = 0;
    const std::string_view text = skip_to_data(all, skips_header(all, options), skipped_lines);
    std::vector<Block> blocks = cut_blocks(text, threads == 0 ? std::max(1u, std::thread::hardware_concurrency()) : threads);
    for_each_block(blocks, [&](Block& b) { count_block(b, in); });
    std::size_t rows = 0, lines = skipped_lines;
    for (Block& b : blocks) {
        b.first_row = rows;
        b.first_line = lines;
        rows += b.rows;
        lines += b.lines;
    }
    if (rows == 0) throw DataError(path + ": empty file (no data rows)");

    Dataset data;
    data.name = path;
    data.labels.resize(rows);
    Layout at{path, skipped_lines + 1, 0, 0, options.delimiter, options.classes};
    std::string_view first = text;
    read_layout(next_line(first), at, options.label_column, options.labelled);
    data.features = Matrix::from_shape({rows, feature_columns(at)});
    for_each_block(blocks, [&](const Block& b) { parse_block(b, at, data, in); });
    const std::uint32_t max_label = *std::max_element(data.labels.begin(), data.labels.end());
    data.classes = options.classes != 0 || !options.labelled ? options.classes : std::size_t{max_label} + 1;
    return data;
}

}  // namespace detail::csv

/// Parses CSV `text` (`path` names it in messages and becomes the data set's name). Rows are
/// lines; blank lines are skipped so a trailing newline or an empty last line is harmless. Throws
/// ist::DataError for malformed data and ist::ConfigError when `options` do not fit the text.
inline Dataset parse_csv(std::string_view text, const std::string& path, const CsvOptions& options = {},
                         const LoadOptions& load = {}) {
    const std::span<const unsigned char> bytes(reinterpret_cast<const unsigned char*>(text.data()), text.size());
    return detail::csv::parse({bytes, nullptr}, path, options, load.threads);
}

/// What the top of a CSV text holds: its header row's cells (empty when it has none, as `options`
/// say: given or detected) and the number of fields of its first data row (0: no data row).
struct CsvShape {
    std::vector<std::string> header;
    std::size_t columns = 0;
};

inline CsvShape csv_shape(std::string_view text, CsvOptions options) {
    options.header_detected = nullptr;
    const bool header = detail::csv::skips_header(text, options);
    std::size_t lines = 0;
    CsvShape shape;
    if (header) {
        std::string_view top = detail::csv::skip_to_data(text, false, lines);  // from the first non-blank line
        for (std::string_view cells = detail::csv::next_line(top);;) {
            const std::size_t cut = cells.find(options.delimiter);
            shape.header.emplace_back(detail::csv::trim(cells.substr(0, cut)));
            if (cut == std::string_view::npos) break;
            cells.remove_prefix(cut + 1);
        }
    }
    std::string_view data = detail::csv::skip_to_data(text, header, lines);
    if (!data.empty()) shape.columns = detail::csv::field_count(detail::csv::next_line(data), options.delimiter);
    return shape;
}

/// Loads `path` (CSV, optionally gzip-compressed; a plain file is parsed in place, mapped); see
/// parse_csv for the rules and errors.
inline Dataset load_csv(const std::string& path, const CsvOptions& options = {}, const LoadOptions& load = {}) {
    detail::require(options.label_column >= -1,
                    "load_csv: label_column must be >= 0 or -1 (last), got " + std::to_string(options.label_column));
    const detail::FileContent content(path);
    return detail::csv::parse(content.input(), path, options, load.threads);
}

}  // namespace ist
