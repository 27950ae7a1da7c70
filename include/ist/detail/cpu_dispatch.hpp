#pragma once
// Hot coding loops built twice: for the baseline x86-64 (SSE2) and for AVX2, picked once at run
// time, so a portable build (no -march=native) still gets 8-lane vectors and AVX2's 32-bit
// multiply. Only AVX2 is enabled, not FMA: every operation rounds exactly as in the baseline
// build, so both give the same bits.
#include <utility>

namespace ist::detail {

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define IST_CPU_DISPATCH 1
/// `loop` compiled for AVX2: it must be a lambda declared IST_INLINE_LOOP, so that its body is
/// inlined (and vectorised) here.
template <class Loop, class... Args>
[[gnu::target("avx2")]] void run_avx2(Loop& loop, Args... args) {
    loop(args...);
}
#define IST_INLINE_LOOP __attribute__((always_inline))
#else
#define IST_INLINE_LOOP
#endif

/// Calls loop(args...) in its AVX2 build when the CPU has AVX2. `loop` is a lambda declared
/// IST_INLINE_LOOP that captures nothing: pointers and counts come in as arguments, so stores
/// through a byte pointer cannot alias them (which would stop vectorisation).
template <class Loop, class... Args>
void run_vectorised(Loop&& loop, Args... args) {
#ifdef IST_CPU_DISPATCH
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return run_avx2(loop, args...);
#endif
    loop(args...);
}

}  // namespace ist::detail
