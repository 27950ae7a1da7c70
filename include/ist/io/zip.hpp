#pragma once
// Reading a zip archive held in memory (the container of .npz files): central directory, zip64,
// stored and deflated members, CRC checks; every overrun becomes a DataError naming the offset.
// A member is read as a stream (MemberReader), so its bytes can go straight to their destination.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include <zlib.h>

#include "ist/core/error.hpp"
#include "ist/detail/little_endian.hpp"
#include "ist/detail/mapped_file.hpp"

namespace ist::detail {

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
    std::span<const unsigned char> bytes;
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

/// The uncompressed bytes of one member, read front to back: copied out of the archive when
/// stored, inflated when deflated; the CRC is checked by finish(). Sizes come from the central
/// directory, so a caller can check them (and refuse) before allocating anything.
class MemberReader {
public:
    MemberReader(const ZipReader& z, const ZipEntry& e, const InputBytes* in = nullptr)
        : who_(z.path + "[" + e.name + "]"), entry_(e), in_(in) {
        if (e.flags & 1u) throw DataError(who_ + ": encrypted zip members are not supported");
        z.need(e.local_offset, 30, "local file header");
        z.signature(e.local_offset, 0x04034b50, "local file header");
        start_ = e.local_offset + 30 + z.le(e.local_offset + 26, 2) + z.le(e.local_offset + 28, 2);
        if (start_ > z.bytes.size() || e.compressed > z.bytes.size() - start_)
            throw DataError(who_ + ": truncated data: " + std::to_string(e.compressed) + " compressed bytes at offset " +
                            std::to_string(start_) + ", the archive has " + std::to_string(z.bytes.size()) + " bytes");
        src_ = z.bytes.data() + start_;
        if (e.method == 0) {
            if (e.compressed != e.uncompressed)
                throw DataError(who_ + ": corrupt zip entry: stored member with different compressed and plain sizes");
        } else if (e.method == 8) {
            // Deflate cannot expand more than ~1032:1, so a larger claim is corruption, not a
            // reason to allocate gigabytes.
            if (e.uncompressed / 1032 > e.compressed + 1)
                throw DataError(who_ + ": corrupt zip entry: implausible uncompressed size " + std::to_string(e.uncompressed));
            // Negative window bits: raw deflate, as zip stores it (no zlib or gzip wrapper).
            if (inflateInit2(&z_, -MAX_WBITS) != Z_OK) throw DataError(who_ + ": cannot initialise zlib");
            inflating_ = true;
        } else {
            throw DataError(who_ + ": unsupported compression method " + std::to_string(e.method) +
                            " (only stored and deflate)");
        }
    }
    MemberReader(const MemberReader&) = delete;
    MemberReader& operator=(const MemberReader&) = delete;
    ~MemberReader() {
        if (inflating_) inflateEnd(&z_);
    }

    const std::string& name() const { return who_; }
    std::uint64_t size() const { return entry_.uncompressed; }
    std::uint64_t remaining() const { return entry_.uncompressed - done_; }
    /// The next `n` bytes of the member (n <= remaining()) into `dst`.
    void read(unsigned char* dst, std::size_t n) {
        if (n == 0) return;  // `dst` may be an empty vector's null data()
        if (inflating_) {
            inflate_into(dst, n);
        } else {
            std::memcpy(dst, src_ + done_, n);
            if (in_) in_->done_with(src_ + done_, src_ + done_ + n);
        }
        crc_ = crc32_z(crc_, dst, n);
        done_ += n;
    }

    /// Reads what is left unread, checks the data ends where the directory says and the CRC.
    void finish() {
        unsigned char scratch[1 << 14];
        while (remaining() > 0) read(scratch, static_cast<std::size_t>(std::min<std::uint64_t>(remaining(), sizeof scratch)));
        if (inflating_ && !ended_) {
            // Output space for one byte: the stream must end here, not produce more.
            z_.next_out = scratch;
            z_.avail_out = 1;
            z_.next_in = const_cast<unsigned char*>(src_ + consumed_);
            z_.avail_in = static_cast<uInt>(std::min<std::uint64_t>(entry_.compressed - consumed_, 1u << 30));
            if (inflate(&z_, Z_NO_FLUSH) != Z_STREAM_END || z_.avail_out == 0) corrupt();
        }
        if (crc_ != entry_.crc) throw DataError(who_ + ": CRC mismatch, the member is corrupt");
    }

    /// Stored bytes are checked in place (no copy); deflated ones are inflated into `buffer`.
    std::span<const unsigned char> all(std::vector<unsigned char>& buffer) {
        if (!inflating_) {
            const std::span<const unsigned char> view(src_, static_cast<std::size_t>(size()));
            crc_ = crc32_z(crc_, view.data(), view.size());
            done_ = size();
            finish();
            return view;
        }
        buffer.resize(static_cast<std::size_t>(size()));
        read(buffer.data(), buffer.size());
        finish();
        return buffer;
    }

private:
    [[noreturn]] void corrupt() const {
        const std::string zmsg = z_.msg ? z_.msg : "";
        throw DataError(who_ + ": corrupt or truncated deflate data at offset " + std::to_string(start_) +
                        (zmsg.empty() ? std::string{} : " (" + zmsg + ")"));
    }

    void inflate_into(unsigned char* dst, std::size_t n) {
        z_.next_out = dst;
        // avail_in/avail_out are 32-bit, so feed members larger than 4 GiB in slices.
        while (n > 0) {
            if (ended_) corrupt();  // the stream ended before the size the directory declares
            const auto in_now = static_cast<uInt>(std::min<std::uint64_t>(entry_.compressed - consumed_, 1u << 30));
            const auto out_now = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
            z_.next_in = const_cast<unsigned char*>(src_ + consumed_);
            z_.avail_in = in_now;
            z_.avail_out = out_now;
            const int rc = inflate(&z_, Z_NO_FLUSH);
            const std::size_t used = in_now - z_.avail_in, made = out_now - z_.avail_out;
            if (in_) in_->done_with(src_ + consumed_, src_ + consumed_ + used);
            consumed_ += used;
            n -= made;
            ended_ = rc == Z_STREAM_END;
            if ((rc != Z_OK && !ended_) || (used == 0 && made == 0 && !ended_)) corrupt();
        }
    }

    std::string who_;
    ZipEntry entry_;
    const InputBytes* in_;
    std::uint64_t start_ = 0, done_ = 0, consumed_ = 0;
    const unsigned char* src_ = nullptr;
    z_stream z_{};
    bool inflating_ = false, ended_ = false;
    uLong crc_ = crc32(0L, Z_NULL, 0);
};

/// A member's uncompressed bytes: a view into the archive when stored, else owned by `buffer`.
struct MemberBytes {
    std::vector<unsigned char> buffer;
    const unsigned char* data = nullptr;
    std::size_t size = 0;
};

inline MemberBytes zip_extract(const ZipReader& z, const ZipEntry& e) {
    MemberBytes m;
    MemberReader reader(z, e);
    const auto bytes = reader.all(m.buffer);
    m.data = bytes.data();
    m.size = bytes.size();
    return m;
}

/// The entry holding array `key`: numpy names it "<key>.npy"; an exact name also matches.
inline const ZipEntry& find_npy_member(const std::vector<ZipEntry>& entries, const std::string& key,
                                   const std::string& path) {
    for (const std::string& wanted : {key + ".npy", key})
        for (const ZipEntry& e : entries)
            if (e.name == wanted) return e;
    std::string members;
    for (const ZipEntry& e : entries) members += (members.empty() ? "" : ", ") + e.name;
    throw DataError(path + ": missing key '" + key + "' (no member '" + key + ".npy'; members: " +
                    (members.empty() ? "none" : members) + ")");
}

}  // namespace ist::detail
