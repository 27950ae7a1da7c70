#pragma once
// A file's bytes, gunzipped on the way if it is gzip-compressed. Every loader goes through here,
// so `digits.csv` and `digits.csv.gz` (or `x.npy.gz`) load the same way. A plain file is mapped
// and parsed in place (detail/mapped_file.hpp); a gzip one is inflated in memory.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/mapped_file.hpp"

namespace ist::detail {

inline bool is_gzip(std::span<const unsigned char> in) { return in.size() >= 2 && in[0] == 0x1f && in[1] == 0x8b; }

namespace file_bytes {

/// The size the gzip trailer declares (the last member's, modulo 2^32): a hint for the first
/// allocation, capped by what deflate can expand to so a forged trailer cannot reserve gigabytes.
inline std::size_t size_hint(std::span<const unsigned char> in) {
    if (in.size() < 18) return 1u << 16;
    const std::size_t declared = std::uint32_t{in[in.size() - 4]} | std::uint32_t{in[in.size() - 3]} << 8 |
                                 std::uint32_t{in[in.size() - 2]} << 16 | std::uint32_t{in[in.size() - 1]} << 24;
    return std::max<std::size_t>(std::min(declared, in.size() * 1032), 1u << 16);
}

}  // namespace file_bytes

/// Inflates gzip data held in memory into `out` (a contiguous container of 1-byte elements;
/// `name` is only for messages). Concatenated gzip members are joined and bytes after the last
/// member ignored, as gzip(1) and zlib's gzread do. Throws ist::DataError for data that is not
/// gzip, is corrupt or ends early.
template <class Buffer>
void gunzip_into(std::span<const unsigned char> in, const std::string& name, Buffer& out) {
    z_stream z{};
    // 15 + 16: a gzip wrapper only (zlib's inflateInit2 convention).
    if (inflateInit2(&z, 15 + 16) != Z_OK) throw DataError(name + ": zlib could not start inflating");
    out.resize(file_bytes::size_hint(in));
    std::size_t filled = 0;
    z.next_in = const_cast<unsigned char*>(in.data());  // zlib's API is not const-correct
    int code = Z_OK;
    std::size_t in_left = in.size();
    for (;;) {
        if (filled == out.size()) out.resize(out.size() * 2);  // geometric: linear total copying
        // avail_in / avail_out are 32-bit: feed larger spans in slices.
        const auto in_now = static_cast<uInt>(std::min<std::size_t>(in_left, 1u << 30));
        const auto out_now = static_cast<uInt>(std::min<std::size_t>(out.size() - filled, 1u << 30));
        z.avail_in = in_now;
        z.next_out = reinterpret_cast<unsigned char*>(out.data() + filled);
        z.avail_out = out_now;
        code = inflate(&z, Z_NO_FLUSH);
        in_left -= in_now - z.avail_in;
        filled += out_now - z.avail_out;
        if (code == Z_STREAM_END) {
            const std::span<const unsigned char> rest = in.last(in_left);
            if (!is_gzip(rest)) break;  // the end, or trailing bytes that are not another member
            inflateReset(&z);
            continue;
        }
        if (code != Z_OK && code != Z_BUF_ERROR) break;
        // No progress with room to write: the input ended before the stream did.
        if (code == Z_BUF_ERROR && (in_left == 0 || filled < out.size())) break;
    }
    inflateEnd(&z);
    out.resize(filled);
    if (code != Z_STREAM_END) throw DataError(name + ": corrupt or truncated gzip data");
}

inline std::string gunzip(std::span<const unsigned char> in, const std::string& name) {
    std::string out;
    gunzip_into(in, name, out);
    return out;
}

/// A file's content ready to parse: the file itself, mapped, when it is plain; its inflated
/// bytes when it is gzip (zlib's "transparent" rule: gzip means starting with 1f 8b).
class FileContent {
public:
    explicit FileContent(const std::string& path) : map_(path) {
        if (is_gzip(map_.bytes())) {
            gunzip_into(map_.bytes(), path, inflated_);
            map_ = MappedFile();
        }
    }
    InputBytes input() const {
        if (map_.bytes().empty()) return {inflated_, nullptr};
        return {map_.bytes(), &map_};
    }
    std::string_view text() const {
        const auto b = input().bytes;
        return {reinterpret_cast<const char*>(b.data()), b.size()};
    }

private:
    MappedFile map_;
    std::vector<unsigned char> inflated_;
};

/// The bytes of `path`, decompressed if it is gzip. Throws ist::DataError naming the file.
inline std::vector<unsigned char> read_file_bytes(const std::string& path) {
    const FileContent content(path);
    const auto b = content.input().bytes;
    return {b.begin(), b.end()};
}

/// The text of `path`, decompressed if it is gzip. Throws ist::DataError naming the file.
inline std::string read_file_text(const std::string& path) { return std::string(FileContent(path).text()); }

}  // namespace ist::detail
