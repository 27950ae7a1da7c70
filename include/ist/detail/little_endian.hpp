#pragma once
// Little-endian integers in byte buffers: the .npy header length, zip records, checkpoints.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ist::detail {

/// Little-endian unsigned integer of `n` bytes at `p` (.npy header lengths and zip fields).
inline std::uint64_t read_le(const unsigned char* p, std::size_t n) {
    std::uint64_t v = 0;
    for (std::size_t i = n; i-- > 0;) v = (v << 8) | p[i];
    return v;
}

/// Appends the low `n` bytes of `v`, least significant first.
inline void put_le(std::vector<unsigned char>& out, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
}

}  // namespace ist::detail
