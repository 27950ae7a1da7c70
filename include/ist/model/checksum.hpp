#pragma once
// A checksum of a model's parameter values, to show that two runs ended bit for bit the same.
#include <bit>
#include <cstdint>
#include <string>

#include "ist/core/fingerprint.hpp"
#include "ist/model/model.hpp"

namespace ist {

/// FNV-1a over the bit patterns of every parameter value, in parameter order, with each
/// tensor's shape: equal checksums mean equal weights (up to a 2^-64 collision).
template <Model M>
std::uint64_t weights_checksum(const M& model) {
    Fingerprint hash;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        const Tensor& value = model.parameter(i).value;
        for (std::size_t extent : value.shape()) hash.add(extent);
        for (float v : value) hash.add(std::bit_cast<std::uint32_t>(v));  // as 8 bytes, zero-extended
    }
    return hash.value();
}

/// The checksum as 16 hexadecimal digits, as the programs print it.
template <Model M>
std::string weights_checksum_hex(const M& model) {
    static constexpr char kDigits[] = "0123456789abcdef";
    const std::uint64_t hash = weights_checksum(model);
    std::string out(16, '0');
    for (int d = 0; d < 16; ++d) out[static_cast<std::size_t>(15 - d)] = kDigits[(hash >> (4 * d)) & 0xfu];
    return out;
}

}  // namespace ist
