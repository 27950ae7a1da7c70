#pragma once
// A read-only memory map of a whole file. The loaders parse files in place through it (no copy
// into a buffer) and hand back the pages they are done with, so a loader's peak memory is its
// output plus a few megabytes, not output + file.
//
// The risk every mmap reader carries: if another process truncates the file while it is mapped,
// touching a page past the new end raises SIGBUS. Sizes are checked against the headers when the
// file is opened, which catches a file that was already short; a file cut *after* opening cannot
// be detected without reading it all up front, which is what mapping avoids.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "ist/core/error.hpp"

namespace ist::detail {

class MappedFile {
public:
    MappedFile() = default;
    /// Maps `path`; throws ist::DataError "<path>: cannot open (<reason>)" or "cannot read".
    explicit MappedFile(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
        struct stat st {};
        const bool is_file = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
        const int why = S_ISDIR(st.st_mode) ? EISDIR : errno;
        if (!is_file) {
            ::close(fd);
            throw DataError(path + ": cannot read (" + std::strerror(why ? why : EINVAL) + ")");
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            const int map_errno = errno;
            ::close(fd);
            if (p == MAP_FAILED) throw DataError(path + ": cannot read (" + std::strerror(map_errno) + ")");
            data_ = static_cast<const unsigned char*>(p);
            ::madvise(p, size_, MADV_SEQUENTIAL);  // loaders read front to back: read ahead
        } else {
            ::close(fd);
        }
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
    MappedFile& operator=(MappedFile&& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        return *this;
    }
    ~MappedFile() {
        if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
    }

    std::span<const unsigned char> bytes() const { return {data_, size_}; }

    /// Drops the pages holding [begin, end) from the resident set. The map is private and
    /// read-only, so reading them again (a neighbour's bytes on a shared page) just faults them
    /// back in from the page cache.
    void release(const unsigned char* begin, const unsigned char* end) const {
        if (!data_ || end <= begin) return;
        static const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
        const auto lo = reinterpret_cast<std::uintptr_t>(begin) / page * page;
        const auto hi = (reinterpret_cast<std::uintptr_t>(end) + page - 1) / page * page;
        ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
    }

private:
    const unsigned char* data_ = nullptr;
    std::size_t size_ = 0;
};

/// The bytes a parser reads, and (for a mapped file) a way to give back the ones it is done with.
struct InputBytes {
    std::span<const unsigned char> bytes;
    const MappedFile* map = nullptr;  ///< null: memory the caller owns, nothing is released

    void done_with(const unsigned char* begin, const unsigned char* end) const {
        if (map) map->release(begin, end);
    }
};

}  // namespace ist::detail
