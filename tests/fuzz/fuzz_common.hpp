#pragma once
// Shared pieces of the libFuzzer harnesses. They call the loaders' in-memory entry points
// (parse_csv, parse_npz, ...) with a name standing for the file, so nothing touches the disk; the
// only clean rejections are ist::DataError and ist::ConfigError whose message names that input.
// Anything else aborts, which libFuzzer reports as a crash with the input that caused it.
// (write_file and scratch_dir remain for the seed generator, which writes through ist's writers.)
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <span>
#include <string>
#include <typeinfo>
#include <vector>

#include <ist/core/error.hpp>
#include <ist/detail/file_bytes.hpp>

namespace ist_fuzz {

using Bytes = std::vector<unsigned char>;

[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "\n*** ist fuzz harness: %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

/// A folder of this process's own, removed at exit. (Kept on the heap and never freed, so it
/// still exists when the exit handler runs after static destructors.)
inline const std::string& scratch_dir() {
    static const std::string* dir = [] {
        std::error_code ec;
        const std::filesystem::path base =
            std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                          : std::filesystem::temp_directory_path();
        const std::filesystem::path d = base / ("ist_fuzz_" + std::to_string(::getpid()));
        std::filesystem::create_directories(d);
        auto* path = new std::string(d.string());
        std::atexit([] {
            std::error_code ignored;
            std::filesystem::remove_all(scratch_dir(), ignored);
        });
        return path;
    }();
    return *dir;
}

/// Writes `size` bytes at `data` to scratch file `name`, gzip-compressed when `gzip`; returns its path.
inline std::string write_file(const std::string& name, const unsigned char* data, std::size_t size, bool gzip = false) {
    const std::string path = scratch_dir() + "/" + name;
    if (gzip) {
        gzFile gz = gzopen(path.c_str(), "wb");
        if (!gz) fail("cannot create " + path);
        if (size > 0 && gzwrite(gz, data, static_cast<unsigned>(size)) != static_cast<int>(size)) fail("gzwrite failed");
        if (gzclose(gz) != Z_OK) fail("gzclose failed");
        return path;
    }
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) fail("cannot create " + path);
    if (size > 0 && std::fwrite(data, 1, size, f) != size) fail("short write to " + path);
    std::fclose(f);
    return path;
}

inline std::string write_file(const std::string& name, const Bytes& bytes, bool gzip = false) {
    return write_file(name, bytes.data(), bytes.size(), gzip);
}

/// `in` gzip-compressed by zlib, in memory (what gzip(1) would write).
inline Bytes gzip_bytes(std::span<const unsigned char> in) {
    z_stream z{};
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) fail("deflateInit2");
    Bytes out(deflateBound(&z, static_cast<uLong>(in.size())) + 32);
    z.next_in = const_cast<unsigned char*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) fail("deflate did not finish");
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

/// What a loader parses for a file holding `in`: `in` itself, or its inflated bytes (kept in
/// `holder`) when it is gzip, the rule detail::FileContent applies to files.
inline std::span<const unsigned char> content(std::span<const unsigned char> in, Bytes& holder, const std::string& name) {
    if (!ist::detail::is_gzip(in)) return in;
    ist::detail::gunzip_into(in, name, holder);
    return holder;
}

/// Runs `f`; returns true if it succeeded, false if it threw DataError or ConfigError naming one
/// of `paths`. Any other exception, or a message that names none of the files, aborts.
template <class F>
bool clean_or_rejected(std::initializer_list<std::string> paths, F&& f) {
    const auto check_message = [&](const char* kind, const std::exception& e) {
        const std::string message = e.what();
        for (const std::string& p : paths)
            if (message.find(p) != std::string::npos) return;
        fail(std::string(kind) + " without the file name: " + message);
    };
    try {
        f();
        return true;
    } catch (const ist::DataError& e) {
        check_message("DataError", e);
    } catch (const ist::ConfigError& e) {
        check_message("ConfigError", e);
    } catch (const std::exception& e) {
        fail(std::string("unexpected exception ") + typeid(e).name() + ": " + e.what());
    } catch (...) {
        fail("unexpected non-std exception");
    }
    return false;
}

/// Rewrites the CRC-32 of every member of the zip archive in `z` (central directory and local
/// header) to match its data, so mutations inside a member reach the parser behind the CRC check.
/// Leaves the bytes as they are wherever the structure does not parse; never reads out of bounds.
inline void fix_zip_crcs(Bytes& z) {
    const auto le = [&](std::size_t at, int n) {
        std::uint64_t v = 0;
        for (int i = n; i-- > 0;) v = (v << 8) | z[at + static_cast<std::size_t>(i)];
        return v;
    };
    const auto put32 = [&](std::size_t at, std::uint32_t v) {
        for (int i = 0; i < 4; ++i) z[at + static_cast<std::size_t>(i)] = static_cast<unsigned char>(v >> (8 * i));
    };
    if (z.size() < 22) return;
    std::size_t eocd = z.size();
    for (std::size_t p = z.size() - 22 + 1; p-- > 0;)
        if (le(p, 4) == 0x06054b50) {
            eocd = p;
            break;
        }
    if (eocd == z.size()) return;
    std::size_t p = le(eocd + 16, 4);
    const std::size_t entries = le(eocd + 10, 2);
    for (std::size_t k = 0; k < entries; ++k) {
        if (p > z.size() || z.size() - p < 46 || le(p, 4) != 0x02014b50) return;
        const std::size_t method = le(p + 10, 2), compressed = le(p + 20, 4), plain = le(p + 24, 4);
        const std::size_t name_len = le(p + 28, 2), extra_len = le(p + 30, 2), comment_len = le(p + 32, 2);
        const std::size_t local = le(p + 42, 4);
        if (local > z.size() || z.size() - local < 30 || le(local, 4) != 0x04034b50) return;
        const std::size_t start = local + 30 + le(local + 26, 2) + le(local + 28, 2);
        if (start > z.size() || compressed > z.size() - start) return;
        uLong crc = crc32(0L, Z_NULL, 0);
        if (method == 0) {
            crc = crc32_z(crc, z.data() + start, compressed);
        } else if (method == 8) {
            if (plain > (std::size_t{1} << 24)) return;
            Bytes out(plain + 1);
            z_stream s{};
            if (inflateInit2(&s, -MAX_WBITS) != Z_OK) return;
            s.next_in = z.data() + start;
            s.avail_in = static_cast<uInt>(compressed);
            s.next_out = out.data();
            s.avail_out = static_cast<uInt>(out.size());
            inflate(&s, Z_FINISH);
            const std::size_t got = s.total_out;
            inflateEnd(&s);
            crc = crc32_z(crc, out.data(), std::min(got, plain));
        } else {
            return;
        }
        put32(p + 16, static_cast<std::uint32_t>(crc));
        put32(local + 14, static_cast<std::uint32_t>(crc));
        p += 46 + name_len + extra_len + comment_len;
    }
}

}  // namespace ist_fuzz
