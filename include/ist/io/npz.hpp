#pragma once
// Writing and reading named arrays as a NumPy .npz archive (stored zip of .npy members), the
// format of ist's checkpoints: numpy.load() opens them as they are.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <type_traits>
#include <unistd.h>
#include <vector>

#include <zlib.h>

#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/detail/file_bytes.hpp"
#include "ist/io/atomic_file.hpp"
#include "ist/io/npy.hpp"
#include "ist/io/zip.hpp"

namespace ist {

/// Collects arrays, then writes them as one .npz atomically: a temporary file in the same
/// folder, flushed to disk, then renamed over `path`, so a crash leaves the old file or the new
/// one, never a torn one.
class NpzWriter {
public:
    template <class T>
    void add(const std::string& name, const T* data, const std::vector<std::size_t>& shape) {
        members_.emplace_back(name + ".npy", detail::npy::npy_image(data, shape));
    }
    void add(const std::string& name, const Tensor& t) {
        add(name, t.data(), std::vector<std::size_t>(t.shape().begin(), t.shape().end()));
    }
    template <class T>
    void add(const std::string& name, const std::vector<T>& v) {
        add(name, v.data(), {v.size()});
    }
    void add(const std::string& name, const std::string& text) {
        add(name, reinterpret_cast<const std::uint8_t*>(text.data()), {text.size()});
    }

    void write_atomically(const std::string& path) const {
        const std::vector<unsigned char> image = archive();
        detail::write_file_atomically(path, {reinterpret_cast<const char*>(image.data()), image.size()});
    }

private:
    /// Stored (uncompressed) zip: local headers + data, central directory, end record.
    std::vector<unsigned char> archive() const {
        using detail::put_le;
        std::vector<unsigned char> out, central;
        for (const auto& [name, data] : members_) {
            const auto crc = static_cast<std::uint32_t>(::crc32(0L, data.data(), static_cast<uInt>(data.size())));
            const std::uint64_t offset = out.size();
            put_le(out, 0x04034b50, 4);
            put_le(out, 20, 2), put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, 0x21, 2);
            put_le(out, crc, 4), put_le(out, data.size(), 4), put_le(out, data.size(), 4);
            put_le(out, name.size(), 2), put_le(out, 0, 2);
            out.insert(out.end(), name.begin(), name.end());
            out.insert(out.end(), data.begin(), data.end());
            put_le(central, 0x02014b50, 4);
            put_le(central, 20, 2), put_le(central, 20, 2), put_le(central, 0, 2), put_le(central, 0, 2);
            put_le(central, 0, 2), put_le(central, 0x21, 2);
            put_le(central, crc, 4), put_le(central, data.size(), 4), put_le(central, data.size(), 4);
            put_le(central, name.size(), 2), put_le(central, 0, 2), put_le(central, 0, 2), put_le(central, 0, 2);
            put_le(central, 0, 2), put_le(central, 0, 4), put_le(central, offset, 4);
            central.insert(central.end(), name.begin(), name.end());
        }
        detail::require<DataError>(out.size() < 0xFFFFFFFFull, "npz: archives over 4 GiB are not supported");
        const std::uint64_t central_offset = out.size();
        out.insert(out.end(), central.begin(), central.end());
        put_le(out, 0x06054b50, 4);
        put_le(out, 0, 2), put_le(out, 0, 2), put_le(out, members_.size(), 2), put_le(out, members_.size(), 2);
        put_le(out, central.size(), 4), put_le(out, central_offset, 4), put_le(out, 0, 2);
        return out;
    }

    std::vector<std::pair<std::string, std::vector<unsigned char>>> members_;
};

/// Reads named arrays back from an .npz, checking type and shape; every problem is a DataError
/// naming the file and member.
class NpzArchive {
public:
    explicit NpzArchive(const std::string& path) : NpzArchive(detail::read_file_bytes(path), path) {}
    /// An archive held in memory (not gzipped); `name` stands for the file in messages.
    NpzArchive(std::span<const unsigned char> bytes, const std::string& name)
        : NpzArchive(std::vector<unsigned char>(bytes.begin(), bytes.end()), name) {}
    NpzArchive(std::vector<unsigned char> bytes, const std::string& name) : path_(name), bytes_(std::move(bytes)) {
        const detail::ZipReader zip{bytes_, path_};
        for (const auto& entry : detail::zip_directory(zip)) {
            auto member = detail::zip_extract(zip, entry);
            members_.emplace(entry.name, std::move(member));
        }
    }

    bool contains(const std::string& name) const { return members_.count(name + ".npy") > 0; }

    /// The names of the archive's arrays (members without ".npy"; other members as they are), sorted.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& [member, bytes] : members_) {
            const bool npy = member.size() > 4 && member.compare(member.size() - 4, 4, ".npy") == 0;
            out.push_back(npy ? member.substr(0, member.size() - 4) : member);
        }
        return out;
    }

    /// Array `name` as elements of T (its dtype must be T's), with shape checked if given.
    template <class T>
    std::vector<T> values(const std::string& name, const std::vector<std::size_t>* shape = nullptr) const {
        const detail::npy::Array a = array(name);
        if (a.dtype.descr != detail::npy::descr<T>() && !(a.dtype.descr == "<u1" && detail::npy::descr<T>()[0] == '|'))
            throw DataError(path_ + "[" + name + "]: dtype " + a.dtype.descr + ", expected " + detail::npy::descr<T>());
        if (shape && a.shape != *shape)
            throw DataError(path_ + "[" + name + "]: shape " + detail::npy::shape_text(a.shape) + ", expected " +
                            detail::npy::shape_text(*shape));
        std::vector<T> out(a.count);
        for (std::size_t i = 0; i < a.count; ++i) out[i] = detail::npy::element<T>(a, i);
        return out;
    }

    /// Float array `name` into `out`, which must already have the expected shape.
    void read_into(const std::string& name, Tensor& out) const {
        const std::vector<std::size_t> shape(out.shape().begin(), out.shape().end());
        const auto v = values<float>(name, &shape);
        std::copy(v.begin(), v.end(), out.begin());
    }

    std::string text(const std::string& name) const {
        const auto v = values<std::uint8_t>(name);
        return std::string(v.begin(), v.end());
    }

    std::uint64_t scalar(const std::string& name) const {
        const auto v = values<std::uint64_t>(name);
        if (v.size() != 1) throw DataError(path_ + "[" + name + "]: expected one value, found " + std::to_string(v.size()));
        return v[0];
    }

    const std::string& path() const { return path_; }

private:
    detail::npy::Array array(const std::string& name) const {
        const auto it = members_.find(name + ".npy");
        if (it == members_.end()) throw DataError(path_ + ": missing array '" + name + "'");
        return detail::npy::parse_npy(it->second.data, it->second.size, path_ + "[" + name + "]");
    }

    std::string path_;
    std::vector<unsigned char> bytes_;
    std::map<std::string, detail::MemberBytes> members_;
};

}  // namespace ist
