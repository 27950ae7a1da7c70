#pragma once
// The arithmetic of the library's matrix products (TrainerOptions::precision).
//
// Bf16 is mixed precision as CPUs and PyTorch's autocast do it: each GEMM rounds its two inputs
// (activations, weights, gradients flowing back) to bfloat16, multiplies them exactly and
// accumulates and writes in fp32. Everything else stays fp32: the master weights, the gradients
// (accumulated by the GEMMs in fp32), the bias gradients' column sums, BatchNorm, the loss, the
// optimizer and its state, checkpoints, model files and what travels between workers.
//
// No loss scaling: bfloat16 keeps fp32's 8-bit exponent (smallest normal 2^-126, about 1.2e-38),
// so a gradient small enough to flush in bf16 would flush in fp32 too; fp16's 5-bit exponent
// (smallest normal 2^-14) is why fp16 training scales its loss. docs/benchmarks.md gives the
// smallest nonzero gradient of a run against that.
#include <cstdint>
#include <string>
#include <string_view>

#include "ist/core/error.hpp"

namespace ist {

enum class Precision : std::uint8_t {
    Fp32,  ///< fp32 GEMMs (the default)
    Bf16,  ///< bfloat16 GEMM inputs, fp32 accumulation and output (oneDNN backend only)
};

inline const char* precision_name(Precision p) { return p == Precision::Bf16 ? "bf16" : "fp32"; }

/// "fp32" or "bf16"; anything else is refused, naming what was given.
inline Precision parse_precision(std::string_view name) {
    detail::require(name == "fp32" || name == "bf16", "precision '" + std::string(name) + "' is not one of fp32, bf16");
    return name == "bf16" ? Precision::Bf16 : Precision::Fp32;
}

}  // namespace ist
