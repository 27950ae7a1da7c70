#pragma once
// Fp32: the floats as they are (the default codec; the exchange then skips coding altogether).
#include <cstring>

#include "ist/codec/codec.hpp"

namespace ist {

struct Fp32 {
    std::size_t coded_bytes(std::size_t rows, std::size_t cols) const { return rows * cols * sizeof(float); }
    void encode(std::span<const float> in, std::size_t, std::vector<char>& bytes, CodingRng&) const {
        if (!in.empty()) std::memcpy(detail::grow(bytes, in.size_bytes()), in.data(), in.size_bytes());
    }
    void decode(const char* coded, std::size_t, std::span<float> out) const {
        if (!out.empty()) std::memcpy(out.data(), coded, out.size_bytes());
    }
    std::string name() const { return "fp32"; }
    bool exact() const { return true; }
};
static_assert(Codec<Fp32>);

}  // namespace ist
