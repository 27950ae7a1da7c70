#pragma once
// Values of `bits` bits (1..8) packed densely into bytes, least significant bit first: n values
// take exactly ceil(n * bits / 8) bytes.
#include <cstddef>
#include <cstdint>

namespace ist::detail {

/// Bytes of n packed values of `bits` bits.
constexpr std::size_t packed_bytes(std::size_t n, unsigned bits) { return (n * bits + 7) / 8; }

/// Appends values to a byte array; flush() writes the last partial byte.
class BitWriter {
public:
    BitWriter(char* out, unsigned bits) : out_(out), bits_(bits) {}
    void put(std::uint32_t value) {
        pending_ |= static_cast<std::uint64_t>(value) << filled_;
        filled_ += bits_;
        if (filled_ >= 32) {  // whole bytes out, at most 7 bits + one value stay pending
            for (int b = 0; b < 4; ++b) *out_++ = static_cast<char>((pending_ >> (8 * b)) & 0xFFu);
            pending_ >>= 32;
            filled_ -= 32;
        }
    }
    void flush() {
        for (; filled_ > 0; filled_ = filled_ > 8 ? filled_ - 8 : 0, pending_ >>= 8)
            *out_++ = static_cast<char>(pending_ & 0xFFu);
    }

private:
    char* out_;
    unsigned bits_, filled_ = 0;
    std::uint64_t pending_ = 0;
};

/// Reads values written by BitWriter with the same `bits`.
class BitReader {
public:
    BitReader(const char* in, unsigned bits) : in_(reinterpret_cast<const unsigned char*>(in)), bits_(bits) {}
    std::uint32_t get() {
        while (available_ < bits_) {
            pending_ |= static_cast<std::uint64_t>(*in_++) << available_;
            available_ += 8;
        }
        const auto value = static_cast<std::uint32_t>(pending_ & ((1u << bits_) - 1));
        pending_ >>= bits_;
        available_ -= bits_;
        return value;
    }

private:
    const unsigned char* in_;
    unsigned bits_, available_ = 0;
    std::uint64_t pending_ = 0;
};

}  // namespace ist::detail
