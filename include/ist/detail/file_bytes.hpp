#pragma once
// Read a whole file into memory, gunzipping it on the way if it is gzip-compressed. Every loader
// goes through here, so `digits.csv` and `digits.csv.gz` (or `x.npy.gz`) load the same way.
#include <zlib.h>

#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "ist/core/error.hpp"

namespace ist::detail {

namespace file_bytes {

/// Owns a gzFile so every early throw still closes it.
struct GzHandle {
    gzFile file = nullptr;
    GzHandle() = default;
    GzHandle(const GzHandle&) = delete;
    GzHandle& operator=(const GzHandle&) = delete;
    ~GzHandle() {
        if (file) gzclose_r(file);
    }
};

/// Appends the whole (decompressed) content of `path` to `out`. `Buffer` is a contiguous
/// container of 1-byte elements (std::string or std::vector<unsigned char>).
template <class Buffer>
void read_into(const std::string& path, Buffer& out) {
    GzHandle gz;
    errno = 0;
    // gzopen reads plain files unchanged ("transparent" mode), so one code path serves both.
    gz.file = gzopen(path.c_str(), "rb");
    if (!gz.file) {
        const char* why = errno ? std::strerror(errno) : "out of memory";
        throw DataError(path + ": cannot open (" + why + ")");
    }
    // A larger buffer than zlib's 8 KiB default: data sets are megabytes, fewer syscalls.
    gzbuffer(gz.file, 1u << 17);

    constexpr std::size_t chunk = std::size_t{1} << 20;
    for (;;) {
        const std::size_t old = out.size();
        out.resize(old + chunk);
        const int got = gzread(gz.file, out.data() + old, static_cast<unsigned>(chunk));
        out.resize(old + static_cast<std::size_t>(got > 0 ? got : 0));
        if (got <= 0) break;
    }
    // gzread reports a truncated stream (Z_BUF_ERROR) by returning 0 rather than -1, so the
    // error state, not the return value, is what tells a clean end from a damaged one.
    int code = Z_OK;
    const char* message = gzerror(gz.file, &code);
    if (code == Z_ERRNO) throw DataError(path + ": cannot read (" + std::strerror(errno) + ")");
    if (code != Z_OK)
        throw DataError(path + ": corrupt or truncated gzip data (" + (message ? message : "zlib error") + ")");
}

}  // namespace file_bytes

/// Inflates gzip data held in memory (`name` is only for messages). Throws ist::DataError for
/// data that is not gzip, is corrupt or ends early.
inline std::string gunzip(std::span<const unsigned char> in, const std::string& name) {
    z_stream z{};
    // 15 + 16: a gzip wrapper only (zlib's inflateInit2 convention).
    if (inflateInit2(&z, 15 + 16) != Z_OK) throw DataError(name + ": zlib could not start inflating");
    std::string out;
    z.next_in = const_cast<unsigned char*>(in.data());  // zlib's API is not const-correct
    z.avail_in = static_cast<uInt>(in.size());
    int code = Z_OK;
    while (code == Z_OK) {
        const std::size_t old = out.size();
        out.resize(old + std::max<std::size_t>(in.size() * 4, 1u << 16));
        z.next_out = reinterpret_cast<unsigned char*>(out.data() + old);
        z.avail_out = static_cast<uInt>(out.size() - old);
        code = inflate(&z, Z_NO_FLUSH);
        out.resize(out.size() - z.avail_out);
        if (code == Z_BUF_ERROR && z.avail_in == 0) break;  // input ended before the stream did
    }
    inflateEnd(&z);
    if (code != Z_STREAM_END) throw DataError(name + ": corrupt or truncated gzip data");
    return out;
}

/// The bytes of `path`, decompressed if it is gzip. Throws ist::DataError naming the file.
inline std::vector<unsigned char> read_file_bytes(const std::string& path) {
    std::vector<unsigned char> out;
    file_bytes::read_into(path, out);
    return out;
}

/// The text of `path`, decompressed if it is gzip. Throws ist::DataError naming the file.
inline std::string read_file_text(const std::string& path) {
    std::string out;
    file_bytes::read_into(path, out);
    return out;
}

}  // namespace ist::detail
