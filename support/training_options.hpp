#pragma once
// The options of a training run that ist's programs share (--workers, --local-steps, --rounds,
// --batch, --lr, --seed, --eval-every, --momentum, --weight-decay, --carry-state, --precision,
// --checkpoint), each registered here once with ONE rule and one wording, so that `--batch 0`
// means the same to every program. A program binds them to its own variables (usually its
// TrainerOptions) and says what they mean for it; the default in --help is read from the
// variable, so the two cannot drift apart.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "ist/core/precision.hpp"
#include "ist/detail/gemm.hpp"

namespace ist::cli {

/// The rule of each shared option.
inline constexpr Integer kWorkersRule = kPositive;     ///< a round needs at least one worker
inline constexpr Integer kLocalStepsRule = kPositive;  ///< a round of no steps trains nothing
inline constexpr Integer kRoundsRule = kPositive;      ///< a run of no rounds has no result to print
inline constexpr Integer kBatchRule = kPositive;       ///< a step on no rows has no gradient
inline constexpr Integer kSeedRule = kCount;           ///< any seed
inline constexpr Integer kEvalEveryRule = kCount;      ///< 0: evaluate at the end only
inline constexpr Real<float> kLearningRateRule = kPositiveFloat;
inline constexpr Rate kMomentumRule{"a momentum in [0, 1)"};

/// A float >= 0 as std::stof reads it (a weight decay).
struct NonNegativeFloat {
    const char* expected = "a non-negative number";
    std::optional<float> operator()(const std::string& text) const {
        const auto x = kFloat(text);
        return x && *x >= 0.0f ? x : std::nullopt;
    }
};
inline constexpr NonNegativeFloat kWeightDecayRule{};

/// fp32 or bf16 (ist::parse_precision's names).
struct PrecisionName {
    const char* expected = "one of fp32, bf16";
    std::optional<Precision> operator()(const std::string& text) const {
        if (text != "fp32" && text != "bf16") return std::nullopt;
        return parse_precision(text);
    }
};
inline constexpr PrecisionName kPrecisionRule{};

/// openblas or onednn (ist::detail::gemm_backend_named), built in or not: a program refuses one
/// its build lacks after parsing (ist::detail::check_gemm_backend_built), saying why.
struct GemmBackendName {
    const char* expected = "one of openblas, onednn";
    std::optional<detail::GemmBackend> operator()(const std::string& text) const { return detail::gemm_backend_named(text); }
};
inline constexpr GemmBackendName kGemmBackendRule{};

/// The value as --help shows a default: 0.05, 1e-03 -> 0.001, 5e-4 -> 0.0005.
template <class T>
std::string default_text(const T& value) {
    std::ostringstream out;
    out << value;
    return out.str();
}

/// "<what> (default <value>)", or with a note after the value: "(default 0: at the end only)".
template <class T>
std::string with_default(const std::string& what, const T& value, const std::string& note = "") {
    return what + " (default " + default_text(value) + (note.empty() ? "" : ": " + note) + ")";
}

/// Registers the shared options on a program's table, bound to the program's variables.
/// `what` is the first part of the help line; the default is appended from the variable.
class TrainingOptions {
public:
    explicit TrainingOptions(Options& cli) : cli_(cli) {}

    void workers(std::size_t& s, const std::string& what = "workers = subnets") {
        cli_.value("--workers", s, kWorkersRule, "S", with_default(what, s));
    }
    /// Benchmarks that run several S: a list, each value under the same rule.
    void workers(std::vector<std::size_t>& list, const std::string& what = "S values") {
        cli_.list("--workers", list, kWorkersRule, "LIST", what + " (default " + joined(list) + ")");
    }
    void local_steps(std::size_t& l, const std::string& what = "local steps per round") {
        cli_.value("--local-steps", l, kLocalStepsRule, "L", with_default(what, l));
    }
    void rounds(std::size_t& t, const std::string& what = "synchronisation rounds") {
        cli_.value("--rounds", t, kRoundsRule, "T", with_default(what, t));
    }
    void batch(std::size_t& b, const std::string& what = "mini-batch per worker") {
        cli_.value("--batch", b, kBatchRule, "B", with_default(what, b));
    }
    void lr(float& x, const std::string& what = "learning rate") {
        cli_.value("--lr", x, kLearningRateRule, "X", with_default(what, x));
    }
    void seed(std::uint64_t& n, const std::string& what = "seed of initialisation, partitions and sampling") {
        cli_.value("--seed", n, kSeedRule, "N", with_default(what, n));
    }
    void eval_every(std::size_t& k, const std::string& what = "evaluate every K rounds") {
        cli_.value("--eval-every", k, kEvalEveryRule, "K", with_default(what, k, k == 0 ? "at the end only" : ""));
    }
    void momentum(float& x, const std::string& what = "momentum") {
        cli_.value("--momentum", x, kMomentumRule, "X", with_default(what, x));
    }
    void weight_decay(float& x, const std::string& what = "L2 weight decay") {
        cli_.value("--weight-decay", x, kWeightDecayRule, "X", with_default(what, x));
    }
    void precision(Precision& p, const std::string& what = "GEMM arithmetic: fp32, or bf16 (bfloat16 inputs, fp32 "
                                                            "accumulation; needs the oneDNN backend)") {
        cli_.value("--precision", p, kPrecisionRule, "NAME", with_default(what, precision_name(p)));
    }
    void carry_state(bool& carry, const std::string& what = "carry optimizer state across rounds (default: reset each round)") {
        cli_.flag("--carry-state", carry, what);
    }
    /// --checkpoint PATH and --checkpoint-every K (ist::Checkpoint's path and interval; empty: off).
    void checkpoint(std::string& path, std::size_t& every) {
        cli_.text("--checkpoint", path, "PATH",
                  "save a checkpoint every --checkpoint-every rounds; if PATH exists,\n"
                  "resume from it (bit-identical to an unbroken run)");
        cli_.value("--checkpoint-every", every, kCount, "K", with_default("rounds between checkpoints", every));
    }

    /// The run's schedule straight into a trainer's options: workers, local steps, rounds, batch.
    template <class TrainerOptionsT>
    void schedule(TrainerOptionsT& o) {
        workers(o.workers);
        local_steps(o.local_steps);
        rounds(o.rounds);
        batch(o.batch_size);
    }

private:
    static std::string joined(const std::vector<std::size_t>& values) {
        std::string out;
        for (std::size_t v : values) out += (out.empty() ? "" : ",") + std::to_string(v);
        return out;
    }

    Options& cli_;
};

/// Refuses an option given on the command line that this run would ignore, naming it and why:
/// "--keep would be ignored: only --partition bernoulli keeps each neuron with a probability".
inline void refuse_ignored(const Options& cli, const std::string& option, bool ignored, const std::string& why) {
    if (ignored && cli.given(option)) throw ConfigError(option + " would be ignored: " + why);
}

}  // namespace ist::cli
