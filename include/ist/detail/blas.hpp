#pragma once
// Kept for the headers that include it: the GEMM helpers (gemm, column_sums) live in
// ist/detail/gemm.hpp, the library's one GEMM entry.
#include "ist/detail/gemm.hpp"
