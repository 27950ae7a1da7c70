// doctest's main, plus --gemm=openblas|onednn: every test of the program then runs with that GEMM
// backend (ctest's gemm-openblas.<area> entries run whole areas with OpenBLAS in a oneDNN build).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <exception>
#include <string_view>
#include <vector>

#include <ist/detail/gemm.hpp>

int main(int argc, char** argv) {
    std::vector<char*> doctest_args;
    ist::detail::GemmBackend backend = ist::detail::gemm_backend();
    constexpr std::string_view gemm_option = "--gemm=";
    try {
        for (int i = 0; i < argc; ++i) {
            const std::string_view arg = argv[i];
            if (arg.starts_with(gemm_option)) backend = ist::detail::parse_gemm_backend(arg.substr(gemm_option.size()));
            else doctest_args.push_back(argv[i]);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: error: --gemm: %s\n", argv[0], e.what());
        return 2;
    }
    const ist::detail::GemmBackendGuard gemm(backend);
    doctest::Context context(static_cast<int>(doctest_args.size()), doctest_args.data());
    return context.run();
}
