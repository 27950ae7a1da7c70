#pragma once
// --codec, --code-updates, --error-feedback, --master-copy: how ist-train, resist-train and gist-train code the
// subnets they exchange (ist/codec). One AnyCodec trainer instantiation serves every codec.
#include <string>

#include <ist/codec/any_codec.hpp>
#include <ist/core/trainer_options.hpp>

#include "cli.hpp"

namespace ist::cli {

struct CodecOptions {
    std::string codec = "fp32";
    bool code_updates = false, error_feedback = false, master_copy = false;

    /// Adds the four options to a program's table under their own heading (so call it last).
    void add_to(Options& cli) {
        cli.group("Exchange coding");
        cli.choice("--codec", codec, AnyCodec::names(), "NAME",
                   "how subnets travel, both ways: fp32 (default, exact) | fp16 | bf16 |\n"
                   "qB = B-bit per-row uniform, stochastic rounding (B = 8..2);\n"
                   "qB-tensor: one scale per tensor; qB-nearest, qB-tensor-nearest: round to nearest;\n"
                   "data-parallel: the gradients all-reduced every step");
        cli.flag("--code-updates", code_updates, "workers send trained minus received weights (needs a lossy --codec)");
        cli.flag("--error-feedback", error_feedback,
                 "add what coding lost of each worker's last update to its next one\n"
                 "(needs --code-updates; data-parallel: of its last gradient)");
        cli.flag("--master-copy", master_copy,
                 "the coordinator adds decoded updates to its fp32 values, not to the\n"
                 "decoded downlink, so downlink rounding does not build up (needs --code-updates)");
    }

    /// Checks the combination and sets the trainer options' coding fields (after parsing).
    /// `codes_gradients`: data parallel, whose all-reduced gradients the codec codes.
    void apply(TrainerOptions& options, bool codes_gradients = false) const {
        if (codes_gradients && code_updates)
            throw ConfigError("--code-updates: data-parallel codes its gradients, not updates; drop --code-updates");
        if (codes_gradients && error_feedback && codec == "fp32")
            throw ConfigError("--error-feedback needs a lossy --codec (fp16, bf16, q8 .. q2)");
        if (code_updates && codec == "fp32")
            throw ConfigError("--code-updates needs a lossy --codec (fp16, bf16, q8 .. q2); fp32 sends the weights exactly");
        if (error_feedback && !code_updates && !codes_gradients) throw ConfigError("--error-feedback needs --code-updates");
        if (master_copy && !code_updates)
            throw ConfigError("--master-copy needs --code-updates (the coordinator adds decoded updates to its master copy)");
        options.coded_values = code_updates ? CodedValues::Updates : CodedValues::Weights;
        options.error_feedback = error_feedback;
        options.master_copy = master_copy;
    }

    AnyCodec make() const { return AnyCodec::parse(codec); }

    /// ", codec q4 updates" for a program's header line; empty for fp32.
    std::string describe() const {
        if (codec == "fp32") return "";
        return ", codec " + codec + (code_updates ? " updates" : "") + (error_feedback ? " + error feedback" : "") +
               (master_copy ? " + master copy" : "");
    }
};

}  // namespace ist::cli
