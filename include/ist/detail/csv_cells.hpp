#pragma once
// The cells and lines of a CSV text, for data/csv.hpp: trimming, numbers (std::from_chars, or a
// digits-only fast path for the integers most numeric CSVs hold), labels and features with their
// position in error messages ("<path>: line L, column C").
#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include "ist/core/error.hpp"

namespace ist::detail::csv {

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
inline std::uint32_t parse_label(std::string_view cell, const std::string& path, std::size_t line, std::size_t column) {
    double v = 0.0;
    if (!parse_number(cell, v))
        throw DataError(where(path, line, column) + ": label '" + std::string(cell) + "' is not a number");
    if (!std::isfinite(v) || v < 0.0 || v != std::floor(v) || v > 4294967295.0)
        throw DataError(where(path, line, column) + ": label '" + std::string(cell) + "' is not a non-negative integer");
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

/// A cell of plain decimal digits (optionally after '-') that ends at the delimiter or the line
/// end, as most numeric CSVs are written: parsed here without from_chars. Below 10^15 the value
/// is exact as a double, so its float (rounded once, from the integer) is the one from_chars'
/// double would round to; -0 stays -0.0f, and rounding is symmetric in the sign. On success
/// `p` moves to the next cell and `more` says whether there is one; otherwise nothing changes.
/// The caller checks the delimiter is neither a digit nor '-' (it would read as part of a number).
inline bool integer_cell(const char*& p, const char* end, char delimiter, float& value, bool& more) {
    const char* q = p;
    const bool negative = q != end && *q == '-';
    q += negative;
    const char* const digits = q;
    const char* const limit = end - q > 15 ? q + 15 : end;  // 15 digits and more: from_chars
    std::uint64_t n = 0;
    for (unsigned d; q != limit && (d = static_cast<unsigned>(*q - '0')) < 10; ++q) n = n * 10 + d;
    if (q == digits || q - digits == 15 || (q != end && *q != delimiter)) return false;
    const auto magnitude = static_cast<float>(n);
    value = negative ? -magnitude : magnitude;
    more = q != end;
    p = more ? q + 1 : end;
    return true;
}

}  // namespace ist::detail::csv
