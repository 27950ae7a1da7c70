#pragma once
// FNV-1a, the one hash ist uses for settings and weights.
#include <cstdint>
#include <string_view>
#include <type_traits>

namespace ist {

/// FNV-1a hash of a sequence of integers and strings: a run's settings, compared between processes
/// before a distributed run starts, and a model's weights (weights_checksum).
class Fingerprint {
public:
    template <class I>
        requires std::is_integral_v<I> || std::is_enum_v<I>
    Fingerprint& add(I value) {
        const auto v = static_cast<std::uint64_t>(value);
        for (int b = 0; b < 8; ++b) mix(static_cast<unsigned char>(v >> (8 * b)));
        return *this;
    }
    Fingerprint& add(std::string_view text) {
        for (char c : text) mix(static_cast<unsigned char>(c));
        return add(text.size());
    }
    std::uint64_t value() const { return hash_; }

private:
    void mix(unsigned char c) { hash_ = (hash_ ^ c) * 0x100000001b3ull; }
    std::uint64_t hash_ = 0xcbf29ce484222325ull;
};

}  // namespace ist
