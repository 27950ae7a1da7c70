#pragma once
// Scoped control of the GEMM thread count, when the program is linked against OpenBLAS. OpenBLAS's
// thread count is the library's one knob for both GEMM backends (ist/detail/gemm.hpp): the oneDNN
// backend runs each GEMM with the calling thread's OpenMP thread count set to it.
#include <algorithm>

extern "C" {
// Weak: a program linked against another BLAS simply has no thread control.
void openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
}

namespace ist::detail {

/// Threads a GEMM (and the non-GEMM work of parallel_ranges) may use: OpenBLAS's current count,
/// i.e. OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else the cores, as a BlasThreadsGuard left it;
/// 1 without OpenBLAS.
inline int blas_threads() {
    if (!openblas_get_num_threads) return 1;
    return std::max(1, openblas_get_num_threads());
}

class BlasThreadsGuard {
public:
    explicit BlasThreadsGuard(int threads) {
        if (threads <= 0 || !openblas_set_num_threads || !openblas_get_num_threads) return;
        previous_ = openblas_get_num_threads();
        openblas_set_num_threads(threads);
    }
    ~BlasThreadsGuard() {
        if (previous_ > 0) openblas_set_num_threads(previous_);
    }
    BlasThreadsGuard(const BlasThreadsGuard&) = delete;
    BlasThreadsGuard& operator=(const BlasThreadsGuard&) = delete;

private:
    int previous_ = 0;
};

}  // namespace ist::detail
