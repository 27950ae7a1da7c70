#pragma once
// Scoped control of OpenBLAS's thread count, when the program is linked against OpenBLAS.

extern "C" {
// Weak: a program linked against another BLAS simply has no thread control.
void openblas_set_num_threads(int) __attribute__((weak));
int openblas_get_num_threads(void) __attribute__((weak));
}

namespace ist::detail {

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
