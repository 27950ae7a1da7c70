#pragma once
// Writing a whole file so that a crash leaves the old file or the new one, never a torn one, and
// checking before long work that a file can be written at all.
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <unistd.h>

#include "ist/core/error.hpp"

namespace ist::detail {

/// Writes `bytes` to a temporary file beside `path`, flushes it to disk, then renames it over
/// `path`. Throws DataError naming the path when any step fails (the temporary file is removed).
inline void write_file_atomically(const std::string& path, std::string_view bytes) {
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw DataError(tmp + ": cannot open for writing");
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 &&
                    ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
        std::remove(tmp.c_str());
        throw DataError(path + ": could not write the file (disk full or not writable?)");
    }
}

/// Throws DataError unless write_file_atomically(path, ...) could create its temporary file: a
/// check to run before the work whose result goes there. Leaves no file behind.
inline void require_writable(const std::string& path, const std::string& who) {
    require<DataError>(!std::filesystem::is_directory(path), who + ": " + path + " is a directory, not a file to write");
    const std::string tmp = path + ".tmp";
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    require<DataError>(f != nullptr, who + ": cannot write " + path + " (no such folder, or not writable)");
    std::fclose(f);
    std::remove(tmp.c_str());
}

}  // namespace ist::detail
