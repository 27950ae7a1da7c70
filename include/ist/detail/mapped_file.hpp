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
#include <vector>

#include "ist/core/error.hpp"

namespace ist::detail {

class MappedFile {
public:
    MappedFile() = default;
    /// Maps `path`; throws ist::DataError "<path>: cannot open (<reason>)" or "cannot read". A
    /// file that cannot be mapped (a pipe, /dev/stdin, a /proc file claiming size 0) is read instead.
    explicit MappedFile(const std::string& path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
        struct stat st {};
        const bool mappable = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
        void* p = mappable ? ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0)
                           : MAP_FAILED;
        if (p == MAP_FAILED) {
            read_all(fd, path);
        } else {
            data_ = static_cast<const unsigned char*>(p);
            size_ = static_cast<std::size_t>(st.st_size);
            ::madvise(p, size_, MADV_SEQUENTIAL);  // loaders read front to back: read ahead
        }
        ::close(fd);
    }
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)), read_(std::move(o.read_)) {}
    MappedFile& operator=(MappedFile&& o) noexcept {
        std::swap(data_, o.data_);
        std::swap(size_, o.size_);
        std::swap(read_, o.read_);
        return *this;
    }
    ~MappedFile() {
        if (data_) ::munmap(const_cast<unsigned char*>(data_), size_);
    }

    std::span<const unsigned char> bytes() const {
        return data_ ? std::span<const unsigned char>(data_, size_) : std::span<const unsigned char>(read_);
    }

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
    void read_all(int fd, const std::string& path) {
        constexpr std::size_t chunk = std::size_t{1} << 20;
        for (;;) {
            const std::size_t old = read_.size();
            read_.resize(old + chunk);
            const ssize_t got = ::read(fd, read_.data() + old, chunk);
            read_.resize(old + static_cast<std::size_t>(got > 0 ? got : 0));
            if (got == 0) return;
            if (got < 0 && errno != EINTR) {
                const int why = errno;
                ::close(fd);
                throw DataError(path + ": cannot read (" + std::strerror(why) + ")");
            }
        }
    }

    const unsigned char* data_ = nullptr;  ///< the map, or null when the file was read into read_
    std::size_t size_ = 0;
    std::vector<unsigned char> read_;
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
