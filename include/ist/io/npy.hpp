#pragma once
// The NumPy .npy format: parsing an image (magic, header dictionary, payload bounds) with errors
// that name the file, byte offset and problem, and writing one. Why not xtensor's xnpy.hpp: it
// throws without a position, reads neither gzip nor .npz members, and is not fuzzed (docs/fuzzing.md).
#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/little_endian.hpp"

namespace ist::detail::npy {

/// An element type the loaders understand: kind 'f' (float), 'i' (signed), 'u' (unsigned) or
/// 'b' (bool), its size in bytes, and whether its byte order differs from this machine's.
struct Dtype {
    std::string descr;
    char kind = 0;
    std::size_t size = 0;
    bool swap = false;
};

/// A parsed .npy: element type, shape and a pointer to the (unaligned) payload, which stays
/// owned by the caller's buffer.
struct Array {
    std::string name;  ///< file or "archive[member]", for error messages
    Dtype dtype;
    std::vector<std::size_t> shape;
    std::size_t count = 0;  ///< product of shape
    const unsigned char* data = nullptr;
};

inline std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

/// The values of the header dictionary that matter: strings, booleans and integer tuples.
/// Anything else (a list, as structured dtypes use) is recorded as `other` and rejected by the
/// caller, so an unusual but valid header fails with "unsupported", not "corrupt".
struct PyValue {
    enum class Kind { String, Bool, Tuple, Other } kind = Kind::Other;
    std::string text;
    bool flag = false;
    std::vector<std::size_t> tuple;
};

/// Recursive-descent reader for the Python dict literal in a .npy header, e.g.
/// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class HeaderParser {
public:
    HeaderParser(std::string_view text, std::size_t base_offset, const std::string& name)
        : s_(text), base_(base_offset), name_(name) {}

    /// Calls `on_entry(key, value)` for each dictionary entry.
    template <class F>
    void parse(F&& on_entry) {
        expect('{');
        for (;;) {
            skip_space();
            if (peek() == '}') break;
            const std::string key = string_literal();
            expect(':');
            on_entry(key, value());
            skip_space();
            if (peek() == ',') {
                ++pos_;
                continue;
            }
            if (peek() != '}') fail("expected ',' or '}' in the header dictionary");
        }
        ++pos_;
    }

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw DataError(name_ + ": malformed .npy header at offset " + std::to_string(base_ + pos_) + ": " + what);
    }
    char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
    void skip_space() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }
    void expect(char c) {
        skip_space();
        if (peek() != c) fail(std::string("expected '") + c + "'");
        ++pos_;
    }
    std::string string_literal() {
        skip_space();
        const char quote = peek();
        if (quote != '\'' && quote != '"') fail("expected a quoted string");
        ++pos_;
        std::string out;
        while (pos_ < s_.size() && s_[pos_] != quote) {
            if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) ++pos_;
            out += s_[pos_++];
        }
        if (pos_ >= s_.size()) fail("unterminated string");
        ++pos_;
        return out;
    }
    std::size_t integer() {
        skip_space();
        if (peek() < '0' || peek() > '9') fail("expected a non-negative integer in the shape");
        std::size_t v = 0;
        while (peek() >= '0' && peek() <= '9') {
            const auto digit = static_cast<std::size_t>(peek() - '0');
            if (v > (std::numeric_limits<std::size_t>::max() - digit) / 10) fail("shape entry too large");
            v = v * 10 + digit;
            ++pos_;
        }
        if (peek() == 'L') ++pos_;  // Python 2 wrote long integers as 3L
        return v;
    }
    /// Skips a bracketed value we do not interpret, honouring nesting and quoted strings.
    void skip_balanced() {
        int depth = 0;
        do {
            const char c = peek();
            if (c == '\0') fail("unterminated value");
            if (c == '\'' || c == '"') {
                string_literal();
                continue;
            }
            if (c == '[' || c == '(' || c == '{') ++depth;
            if (c == ']' || c == ')' || c == '}') --depth;
            ++pos_;
        } while (depth > 0);
    }
    PyValue value() {
        skip_space();
        PyValue v;
        const char c = peek();
        if (c == '\'' || c == '"') {
            v.kind = PyValue::Kind::String;
            v.text = string_literal();
        } else if (s_.substr(pos_, 4) == "True" || s_.substr(pos_, 5) == "False") {
            v.kind = PyValue::Kind::Bool;
            v.flag = s_[pos_] == 'T';
            pos_ += v.flag ? 4 : 5;
        } else if (c == '(') {
            v.kind = PyValue::Kind::Tuple;
            ++pos_;
            for (;;) {
                skip_space();
                if (peek() == ')') break;
                v.tuple.push_back(integer());
                skip_space();
                if (peek() == ',') ++pos_;
                else if (peek() != ')') fail("expected ',' or ')' in the shape");
            }
            ++pos_;
        } else if (c == '[' || c == '{') {
            skip_balanced();
        } else {
            fail("unexpected character '" + std::string(1, c) + "'");
        }
        return v;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
    std::size_t base_;
    const std::string& name_;
};

/// Interprets a numpy type string such as '<f4', '|u1' or '>i8'.
inline Dtype parse_dtype(const std::string& descr, const std::string& name) {
    Dtype d;
    d.descr = descr;
    std::string_view s(descr);
    char order = '|';
    if (!s.empty() && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
        order = s[0];
        s.remove_prefix(1);
    }
    bool ok = s.size() >= 2;
    if (ok) {
        d.kind = s[0];
        for (char c : s.substr(1)) {
            if (c < '0' || c > '9') ok = false;
            else d.size = d.size * 10 + static_cast<std::size_t>(c - '0');
        }
    }
    const bool power_of_two = d.size == 1 || d.size == 2 || d.size == 4 || d.size == 8;
    ok = ok && ((d.kind == 'f' && (d.size == 4 || d.size == 8)) || ((d.kind == 'i' || d.kind == 'u') && power_of_two) ||
                (d.kind == 'b' && d.size == 1));
    if (!ok)
        throw DataError(name + ": unsupported dtype '" + descr +
                        "' (supported: float32/64, int8..64, uint8..64, bool)");
    const bool file_little = order == '<' || (order != '>' && std::endian::native == std::endian::little);
    d.swap = d.size > 1 && file_little != (std::endian::native == std::endian::little);
    return d;
}

/// Parses a whole .npy image in `bytes[0, size)`: magic, version, header, and the payload bounds.
inline Array parse_npy(const unsigned char* bytes, std::size_t size, const std::string& name) {
    static constexpr unsigned char magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
    if (size < 8 || std::memcmp(bytes, magic, sizeof magic) != 0)
        throw DataError(name + ": bad magic at offset 0 (not a .npy file: expected \\x93NUMPY)");
    const unsigned major = bytes[6], minor = bytes[7];
    if (major < 1 || major > 3)
        throw DataError(name + ": unsupported .npy format version " + std::to_string(major) + "." +
                        std::to_string(minor) + " at offset 6");
    // Version 1 stores the header length in 2 bytes; 2 and 3 use 4 (3 only changes the encoding to UTF-8).
    const std::size_t len_bytes = major == 1 ? 2 : 4;
    const std::size_t header_start = 8 + len_bytes;
    if (size < header_start) throw DataError(name + ": truncated header at offset 8");
    const std::size_t header_len = read_le(bytes + 8, len_bytes);
    if (size - header_start < header_len)
        throw DataError(name + ": truncated header: " + std::to_string(header_len) + " bytes declared at offset 8, " +
                        std::to_string(size - header_start) + " present");

    Array a;
    a.name = name;
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    std::string descr;
    const std::string_view header(reinterpret_cast<const char*>(bytes + header_start), header_len);
    HeaderParser(header, header_start, name).parse([&](const std::string& key, const PyValue& v) {
        using K = PyValue::Kind;
        if (key == "descr") {
            if (v.kind != K::String) throw DataError(name + ": unsupported dtype (structured arrays are not supported)");
            descr = v.text;
            have_descr = true;
        } else if (key == "fortran_order") {
            if (v.kind != K::Bool) throw DataError(name + ": malformed .npy header: fortran_order is not True/False");
            fortran = v.flag;
            have_order = true;
        } else if (key == "shape") {
            if (v.kind != K::Tuple) throw DataError(name + ": malformed .npy header: shape is not a tuple");
            a.shape = v.tuple;
            have_shape = true;
        }
    });
    for (auto [have, key] : {std::pair{have_descr, "descr"}, {have_order, "fortran_order"}, {have_shape, "shape"}})
        if (!have) throw DataError(name + ": malformed .npy header: no '" + key + "' key");
    a.dtype = parse_dtype(descr, name);
    // Column-major data would need a transpose; rather than guess, ask for a C-ordered save.
    if (fortran)
        throw DataError(name + ": fortran_order arrays are not supported (save np.ascontiguousarray(a) instead)");

    a.count = 1;
    for (std::size_t d : a.shape) {
        if (d != 0 && a.count > std::numeric_limits<std::size_t>::max() / d)
            throw DataError(name + ": shape " + shape_text(a.shape) + " is too large");
        a.count *= d;
    }
    const std::size_t data_start = header_start + header_len;
    const std::size_t available = size - data_start;
    if (a.count > available / a.dtype.size)
        throw DataError(name + ": truncated data: shape " + shape_text(a.shape) + " of '" + descr + "' needs " +
                        std::to_string(a.count) + " x " + std::to_string(a.dtype.size) + " bytes at offset " +
                        std::to_string(data_start) + ", only " + std::to_string(available) + " present");
    a.data = bytes + data_start;
    return a;
}

/// Element `i` of `a` as T, fixing byte order; memcpy because the payload need not be aligned.
template <class T>
T element(const Array& a, std::size_t i) {
    unsigned char raw[sizeof(T)];
    std::memcpy(raw, a.data + i * sizeof(T), sizeof(T));
    if (a.dtype.swap) std::reverse(raw, raw + sizeof(T));
    T v;
    std::memcpy(&v, raw, sizeof(T));
    return v;
}

/// Calls `f(element<T>(a, i))` for every element with T the C++ type of a's dtype.
template <class F>
void for_each_element(const Array& a, F&& f) {
    auto each = [&]<class T>(T) {
        for (std::size_t i = 0; i < a.count; ++i) f(i, element<T>(a, i));
    };
    switch (a.dtype.kind) {
        case 'f': a.dtype.size == 4 ? each(float{}) : each(double{}); break;
        case 'b':
        case 'u':
            switch (a.dtype.size) {
                case 1: each(std::uint8_t{}); break;
                case 2: each(std::uint16_t{}); break;
                case 4: each(std::uint32_t{}); break;
                default: each(std::uint64_t{}); break;
            }
            break;
        default:
            switch (a.dtype.size) {
                case 1: each(std::int8_t{}); break;
                case 2: each(std::int16_t{}); break;
                case 4: each(std::int32_t{}); break;
                default: each(std::int64_t{}); break;
            }
    }
}

template <class T> constexpr const char* descr() {
    if constexpr (std::is_same_v<T, float>) return "<f4";
    else if constexpr (std::is_same_v<T, std::uint8_t>) return "|u1";
    else if constexpr (std::is_same_v<T, std::uint32_t>) return "<u4";
    else if constexpr (std::is_same_v<T, std::uint64_t>) return "<u8";
    else static_assert(sizeof(T) == 0, "npz: unsupported element type");
}

/// A version-1 .npy image: magic, padded header dictionary, little-endian payload.
template <class T>
std::vector<unsigned char> npy_image(const T* data, const std::vector<std::size_t>& shape) {
    std::string dict = std::string("{'descr': '") + descr<T>() + "', 'fortran_order': False, 'shape': " +
                       shape_text(shape) + ", }";
    const std::size_t unpadded = 10 + dict.size() + 1;
    dict.append((64 - unpadded % 64) % 64, ' ');
    dict += '\n';
    std::vector<unsigned char> out{0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    put_le(out, dict.size(), 2);
    out.insert(out.end(), dict.begin(), dict.end());
    std::size_t count = 1;
    for (std::size_t s : shape) count *= s;
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    out.insert(out.end(), bytes, bytes + count * sizeof(T));  // x86-64 and aarch64 are little-endian
    return out;
}

}  // namespace ist::detail::npy
