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

    /// "fp32", "fp16", "bf16" or "q2".."q8" (stochastic rounding; "q4-nearest": round to nearest).
    /// Throws ConfigError naming the text and the choices otherwise.
    static AnyCodec parse(const std::string& text) {
        if (text == "fp32") return Fp32{};
        if (text == "fp16") return Fp16{};
        if (text == "bf16") return Bf16{};
        const std::string nearest = "-nearest";
        const bool rounds_to_nearest = text.size() > nearest.size() && text.ends_with(nearest);
        const std::string q = rounds_to_nearest ? text.substr(0, text.size() - nearest.size()) : text;
        if (q.size() == 2 && q[0] == 'q' && q[1] >= '2' && q[1] <= '8')
            return Uniform(static_cast<unsigned>(q[1] - '0'), rounds_to_nearest ? Rounding::Nearest : Rounding::Stochastic);
        throw ConfigError("codec '" + text + "' is not one of " + choices() + " (qB-nearest: round to nearest)");
    }

    /// The names parse() accepts with stochastic rounding, as a list for messages and --help.
    static std::string choices() {
        std::string out = "fp32, fp16, bf16";
        for (int bits = 8; bits >= 2; --bits) out += ", q" + std::to_string(bits);
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
    Variant codec_;
};
static_assert(Codec<AnyCodec>);

}  // namespace ist
