#pragma once
// AnyCodec: one of the library's codecs chosen at run time, so a program that lets its user pick
// ("--codec q4") instantiates its trainer once instead of once per codec.
#include <string>
#include <variant>
#include <vector>

#include "ist/codec/fp32.hpp"
#include "ist/codec/half.hpp"
#include "ist/codec/uniform.hpp"

namespace ist {

class AnyCodec {
public:
    using Variant = std::variant<Fp32, Fp16, Bf16, Uniform>;

    AnyCodec() = default;
    template <Codec C>
        requires std::constructible_from<Variant, C>
    AnyCodec(C codec) : codec_(std::move(codec)) {}

    /// "fp32", "fp16", "bf16" or "qB[-tensor][-nearest]" for B = 2..8: per-row scale and
    /// stochastic rounding unless "-tensor" (one scale per tensor) or "-nearest" (round to
    /// nearest) says otherwise. Throws ConfigError naming the text and every name otherwise.
    static AnyCodec parse(const std::string& text) {
        if (text == "fp32") return Fp32{};
        if (text == "fp16") return Fp16{};
        if (text == "bf16") return Bf16{};
        for (const Uniform& q : uniform_variants())
            if (q.name() == text) return q;
        throw ConfigError("codec '" + text + "' is not one of " + choices());
    }

    /// Every name parse() accepts, in the order --help lists them.
    static std::vector<std::string> names() {
        std::vector<std::string> out{"fp32", "fp16", "bf16"};
        for (const Uniform& q : uniform_variants()) out.push_back(q.name());
        return out;
    }

    /// names() as one comma-separated list, for messages.
    static std::string choices() {
        std::string out;
        for (const std::string& name : names()) out += (out.empty() ? "" : ", ") + name;
        return out;
    }

    std::size_t coded_bytes(std::size_t rows, std::size_t cols) const {
        return std::visit([&](const auto& c) { return c.coded_bytes(rows, cols); }, codec_);
    }
    void encode(std::span<const float> in, std::size_t cols, std::vector<char>& bytes, CodingRng& rng) const {
        std::visit([&](const auto& c) { c.encode(in, cols, bytes, rng); }, codec_);
    }
    void decode(const char* coded, std::size_t cols, std::span<float> out) const {
        std::visit([&](const auto& c) { c.decode(coded, cols, out); }, codec_);
    }
    std::string name() const {
        return std::visit([](const auto& c) { return std::string(c.name()); }, codec_);
    }
    bool exact() const {
        return std::visit([](const auto& c) { return static_cast<bool>(c.exact()); }, codec_);
    }

private:
    /// Every Uniform parse() knows: for each width, 8 down to 2, per row / per tensor x stochastic / nearest.
    static std::vector<Uniform> uniform_variants() {
        std::vector<Uniform> out;
        for (unsigned bits = 8; bits >= 2; --bits)
            for (Scaling scale : {Scaling::PerRow, Scaling::PerTensor})
                for (Rounding rounding : {Rounding::Stochastic, Rounding::Nearest}) out.emplace_back(bits, rounding, scale);
        return out;
    }

    Variant codec_;
};
static_assert(Codec<AnyCodec>);

}  // namespace ist
