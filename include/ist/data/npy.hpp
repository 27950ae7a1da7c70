#pragma once
// Load NumPy arrays into a Dataset: a pair of .npy files (features, labels) or one .npz archive
// holding both, as written by np.save / np.savez / np.savez_compressed. The .npy header and the
// zip container are parsed here rather than through a library so errors can point at the exact
// file, member, byte offset and problem.
#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/file_bytes.hpp"

namespace ist {

namespace npy_detail {

/// Little-endian unsigned integer of `n` bytes at `p` (.npy header lengths and zip fields).
inline std::uint64_t read_le(const unsigned char* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

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

/// The features of `a` as a rows x (product of the other axes) float matrix.
inline Matrix to_features(const Array& a) {
    if (a.shape.size() < 2)
        throw DataError(a.name + ": features must have at least 2 dimensions (rows x features), got shape " +
                        shape_text(a.shape));
    const std::size_t rows = a.shape[0];
    if (a.count == 0) throw DataError(a.name + ": features are empty, shape " + shape_text(a.shape));
    const std::size_t cols = a.count / rows;
    Matrix m = Matrix::from_shape({rows, cols});
    float* out = m.data();
    for_each_element(a, [&](std::size_t i, auto v) {
        out[i] = static_cast<float>(v);
        // Reject NaN/Inf here, with its position, rather than as a NaN loss many epochs later.
        if (!std::isfinite(out[i]))
            throw DataError(a.name + ": feature " + std::to_string(i % cols) + " of row " + std::to_string(i / cols) +
                            " is not a finite float (" + std::to_string(static_cast<double>(v)) + ")");
    });
    return m;
}

/// The labels of `a`: integers in [0, classes); `classes` 0 means "max label + 1".
inline Labels to_labels(const Array& a, std::size_t classes) {
    // (N, 1) is what a column vector of labels looks like; accept it as well as (N,).
    const bool column = a.shape.size() == 2 && a.shape[1] == 1;
    if (a.shape.size() != 1 && !column)
        throw DataError(a.name + ": labels must be 1-D, got shape " + shape_text(a.shape));
    if (a.dtype.kind == 'f')
        throw DataError(a.name + ": unsupported label dtype '" + a.dtype.descr + "' (labels need an integer dtype)");
    Labels labels(a.count);
    const std::uint64_t limit = classes != 0 ? classes : std::uint64_t{std::numeric_limits<std::uint32_t>::max()} + 1;
    for_each_element(a, [&](std::size_t i, auto v) {
        if constexpr (std::is_integral_v<decltype(v)>) {  // float dtypes were rejected above
            // Compare in the element's own signedness, so -1 is never mistaken for a huge unsigned.
            if (std::cmp_less(v, 0) || std::cmp_greater_equal(v, limit))
                throw DataError(a.name + ": label " + std::to_string(v) + " at index " + std::to_string(i) +
                                " is out of range" +
                                (classes != 0 ? " for " + std::to_string(classes) + " classes" : std::string{}));
            labels[i] = static_cast<std::uint32_t>(v);
        }
    });
    return labels;
}

/// Joins parsed feature and label arrays into a Dataset, checking that their row counts agree.
inline Dataset make_dataset(const Array& x, const Array& y, std::size_t classes, const std::string& name) {
    Dataset data;
    data.name = name;
    data.features = to_features(x);
    data.labels = to_labels(y, classes);
    if (data.labels.size() != data.features.shape()[0])
        throw DataError(name + ": rows mismatch: " + x.name + " has " + std::to_string(data.features.shape()[0]) +
                        " rows but " + y.name + " has " + std::to_string(data.labels.size()) + " labels");
    std::uint32_t max_label = 0;
    for (std::uint32_t l : data.labels) max_label = std::max(max_label, l);
    data.classes = classes != 0 ? classes : std::size_t{max_label} + 1;
    return data;
}

// ---- zip (.npz) -------------------------------------------------------------------------------

/// One member of a zip archive, from its central directory record.
struct ZipEntry {
    std::string name;
    unsigned flags = 0;
    unsigned method = 0;
    std::uint32_t crc = 0;
    std::uint64_t compressed = 0;
    std::uint64_t uncompressed = 0;
    std::uint64_t local_offset = 0;
};

/// Bounds-checked view of the archive bytes that turns every overrun into a DataError.
struct ZipReader {
    const std::vector<unsigned char>& bytes;
    const std::string& path;

    void need(std::uint64_t offset, std::uint64_t length, const char* what) const {
        if (offset > bytes.size() || length > bytes.size() - offset)
            throw DataError(path + ": truncated zip archive: " + what + " at offset " + std::to_string(offset) +
                            " needs " + std::to_string(length) + " bytes, the file has " +
                            std::to_string(bytes.size()));
    }
    std::uint64_t le(std::uint64_t offset, std::size_t n) const { return read_le(bytes.data() + offset, n); }
    void signature(std::uint64_t offset, std::uint32_t sig, const char* what) const {
        if (le(offset, 4) != sig)
            throw DataError(path + ": corrupt zip archive: bad " + std::string(what) + " signature at offset " +
                            std::to_string(offset));
    }
};

/// Location and size of the central directory, from the end records (zip64 when numpy needed it).
struct CentralDirectory {
    std::uint64_t offset = 0, size = 0, entries = 0;
};

inline CentralDirectory find_central_directory(const ZipReader& z) {
    constexpr std::size_t eocd_size = 22;
    const auto& b = z.bytes;
    // The end record sits at the very end unless followed by a comment of up to 65535 bytes.
    std::size_t eocd = std::string::npos;
    if (b.size() >= eocd_size) {
        const std::size_t lowest = b.size() - eocd_size > 0xFFFF ? b.size() - eocd_size - 0xFFFF : 0;
        for (std::size_t p = b.size() - eocd_size + 1; p-- > lowest;)
            if (z.le(p, 4) == 0x06054b50 && p + eocd_size + z.le(p + 20, 2) == b.size()) {
                eocd = p;
                break;
            }
    }
    if (eocd == std::string::npos) {
        const bool npy = b.size() >= 6 && std::memcmp(b.data(), "\x93NUMPY", 6) == 0;
        throw DataError(z.path + ": bad magic: not a zip archive (no end of central directory record)" +
                        std::string(npy ? "; it is a .npy file, use load_npy" : ""));
    }
    if (z.le(eocd + 4, 2) != 0 || z.le(eocd + 6, 2) != 0)
        throw DataError(z.path + ": multi-disk zip archives are not supported");
    CentralDirectory cd{z.le(eocd + 16, 4), z.le(eocd + 12, 4), z.le(eocd + 10, 2)};
    // Saturated fields mean the real values are in the zip64 end record, found via its locator.
    if (cd.offset == 0xFFFFFFFF || cd.size == 0xFFFFFFFF || cd.entries == 0xFFFF) {
        if (eocd >= 20 && z.le(eocd - 20, 4) == 0x07064b50) {
            const std::uint64_t at = z.le(eocd - 20 + 8, 8);
            z.need(at, 56, "zip64 end of central directory");
            z.signature(at, 0x06064b50, "zip64 end of central directory");
            cd = {z.le(at + 48, 8), z.le(at + 40, 8), z.le(at + 32, 8)};
        }
    }
    z.need(cd.offset, cd.size, "central directory");
    return cd;
}

/// The members of the archive, read from its central directory (local headers are only used
/// to find where each member's data starts, since streaming writers leave their sizes blank).
inline std::vector<ZipEntry> zip_directory(const ZipReader& z) {
    const CentralDirectory cd = find_central_directory(z);
    std::vector<ZipEntry> entries;
    std::uint64_t p = cd.offset;
    for (std::uint64_t k = 0; k < cd.entries; ++k) {
        z.need(p, 46, "central directory entry");
        z.signature(p, 0x02014b50, "central directory entry");
        ZipEntry e;
        e.flags = static_cast<unsigned>(z.le(p + 8, 2));
        e.method = static_cast<unsigned>(z.le(p + 10, 2));
        e.crc = static_cast<std::uint32_t>(z.le(p + 16, 4));
        e.compressed = z.le(p + 20, 4);
        e.uncompressed = z.le(p + 24, 4);
        const std::uint64_t name_len = z.le(p + 28, 2), extra_len = z.le(p + 30, 2), comment_len = z.le(p + 32, 2);
        e.local_offset = z.le(p + 42, 4);
        z.need(p + 46, name_len + extra_len, "central directory entry name");
        e.name.assign(reinterpret_cast<const char*>(z.bytes.data() + p + 46), name_len);
        // Zip64 extra field (id 1): 8-byte values for exactly those fields saturated above, in this order.
        for (std::uint64_t x = p + 46 + name_len, end = x + extra_len; x + 4 <= end;) {
            const std::uint64_t id = z.le(x, 2), len = z.le(x + 2, 2);
            if (id == 1) {
                std::uint64_t q = x + 4;
                for (std::uint64_t* field : {&e.uncompressed, &e.compressed, &e.local_offset})
                    if (*field == 0xFFFFFFFF && q + 8 <= x + 4 + len && q + 8 <= end) {
                        *field = z.le(q, 8);
                        q += 8;
                    }
            }
            x += 4 + len;
        }
        entries.push_back(std::move(e));
        p += 46 + name_len + extra_len + comment_len;
    }
    return entries;
}

/// A member's uncompressed bytes: a view into the archive when stored, else owned by `buffer`.
struct MemberBytes {
    std::vector<unsigned char> buffer;
    const unsigned char* data = nullptr;
    std::size_t size = 0;
};

inline MemberBytes zip_extract(const ZipReader& z, const ZipEntry& e) {
    const std::string who = z.path + "[" + e.name + "]";
    if (e.flags & 1u) throw DataError(who + ": encrypted zip members are not supported");
    z.need(e.local_offset, 30, "local file header");
    z.signature(e.local_offset, 0x04034b50, "local file header");
    const std::uint64_t start = e.local_offset + 30 + z.le(e.local_offset + 26, 2) + z.le(e.local_offset + 28, 2);
    if (start > z.bytes.size() || e.compressed > z.bytes.size() - start)
        throw DataError(who + ": truncated data: " + std::to_string(e.compressed) + " compressed bytes at offset " +
                        std::to_string(start) + ", the archive has " + std::to_string(z.bytes.size()) + " bytes");
    MemberBytes m;
    const unsigned char* src = z.bytes.data() + start;
    if (e.method == 0) {
        if (e.compressed != e.uncompressed)
            throw DataError(who + ": corrupt zip entry: stored member with different compressed and plain sizes");
        m.data = src;
        m.size = static_cast<std::size_t>(e.uncompressed);
    } else if (e.method == 8) {
        // Deflate cannot expand more than ~1032:1, so a larger claim is corruption, not a reason
        // to allocate gigabytes.
        if (e.uncompressed / 1032 > e.compressed + 1)
            throw DataError(who + ": corrupt zip entry: implausible uncompressed size " + std::to_string(e.uncompressed));
        m.buffer.resize(static_cast<std::size_t>(e.uncompressed));
        z_stream s{};
        // Negative window bits: raw deflate, as zip stores it (no zlib or gzip wrapper).
        if (inflateInit2(&s, -MAX_WBITS) != Z_OK) throw DataError(who + ": cannot initialise zlib");
        std::uint64_t in_left = e.compressed, out_left = e.uncompressed;
        s.next_in = const_cast<unsigned char*>(src);
        s.next_out = m.buffer.data();
        int rc = Z_OK;
        // avail_in/avail_out are 32-bit, so feed members larger than 4 GiB in slices.
        while (rc == Z_OK) {
            const auto in_now = static_cast<uInt>(std::min<std::uint64_t>(in_left, 1u << 30));
            const auto out_now = static_cast<uInt>(std::min<std::uint64_t>(out_left, 1u << 30));
            s.avail_in = in_now;
            s.avail_out = out_now;
            rc = inflate(&s, Z_NO_FLUSH);
            in_left -= in_now - s.avail_in;
            out_left -= out_now - s.avail_out;
            if (rc == Z_OK && s.avail_in == in_now && s.avail_out == out_now) rc = Z_BUF_ERROR;  // no progress
        }
        const std::string zmsg = s.msg ? s.msg : "";
        inflateEnd(&s);
        if (rc != Z_STREAM_END || out_left != 0)
            throw DataError(who + ": corrupt or truncated deflate data at offset " + std::to_string(start) +
                            (zmsg.empty() ? std::string{} : " (" + zmsg + ")"));
        m.data = m.buffer.data();
        m.size = m.buffer.size();
    } else {
        throw DataError(who + ": unsupported compression method " + std::to_string(e.method) +
                        " (only stored and deflate)");
    }
    const uLong crc = crc32_z(crc32(0L, Z_NULL, 0), m.data, m.size);
    if (crc != e.crc) throw DataError(who + ": CRC mismatch, the member is corrupt");
    return m;
}

/// The entry holding array `key`: numpy names it "<key>.npy"; an exact name also matches.
inline const ZipEntry& find_member(const std::vector<ZipEntry>& entries, const std::string& key,
                                   const std::string& path) {
    for (const std::string& wanted : {key + ".npy", key})
        for (const ZipEntry& e : entries)
            if (e.name == wanted) return e;
    std::string members;
    for (const ZipEntry& e : entries) members += (members.empty() ? "" : ", ") + e.name;
    throw DataError(path + ": missing key '" + key + "' (no member '" + key + ".npy'; members: " +
                    (members.empty() ? "none" : members) + ")");
}

}  // namespace npy_detail

/// Loads features and labels from two .npy files (each optionally gzip-compressed). Features
/// must be at least 2-D (N-D arrays become N x product-of-the-rest); labels are 1-D integers with
/// one per row. `classes` 0 infers max label + 1. Throws ist::DataError naming file, offset and problem.
inline Dataset load_npy(const std::string& features_path, const std::string& labels_path, std::size_t classes = 0) {
    const std::vector<unsigned char> xb = detail::read_file_bytes(features_path);
    const std::vector<unsigned char> yb = detail::read_file_bytes(labels_path);
    const auto x = npy_detail::parse_npy(xb.data(), xb.size(), features_path);
    const auto y = npy_detail::parse_npy(yb.data(), yb.size(), labels_path);
    return npy_detail::make_dataset(x, y, classes, features_path);
}

/// Loads features and labels from the arrays `features_key` and `labels_key` of a .npz archive
/// (np.savez or np.savez_compressed). Same rules and errors as load_npy, with the member named.
inline Dataset load_npz(const std::string& path, const std::string& features_key = "x",
                        const std::string& labels_key = "y", std::size_t classes = 0) {
    const std::vector<unsigned char> bytes = detail::read_file_bytes(path);
    const npy_detail::ZipReader zip{bytes, path};
    const auto entries = npy_detail::zip_directory(zip);
    const auto& xe = npy_detail::find_member(entries, features_key, path);
    const auto& ye = npy_detail::find_member(entries, labels_key, path);
    const auto xm = npy_detail::zip_extract(zip, xe);
    const auto ym = npy_detail::zip_extract(zip, ye);
    const auto x = npy_detail::parse_npy(xm.data, xm.size, path + "[" + xe.name + "]");
    const auto y = npy_detail::parse_npy(ym.data, ym.size, path + "[" + ye.name + "]");
    return npy_detail::make_dataset(x, y, classes, path);
}

}  // namespace ist
