// --version for the programs without an option parser (the feature examples, ist-micro): linked into
// them by ist_program() in CMakeLists.txt, so a new program cannot forget it and its examples stay the
// few lines they teach. `<program> --version`, as the only argument, prints support/version.hpp's
// line and exits 0 before main runs; any other command line goes to main untouched.
//
// glibc calls the functions of .init_array with main's argc, argv and envp (a documented ELF/glibc
// convention; GCC's constructor attribute does not declare those parameters). It runs before the
// program's own static objects are built, std::cout's among them, so it prints through C's stdio.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "version.hpp"

namespace {

void answer_version(int argc, char** argv, char** /*envp*/) {
    if (argc != 2 || std::strcmp(argv[1], "--version") != 0) return;
    {  // freed before exit, which leaves this frame's objects alive (LeakSanitizer would see them)
        const std::string line = ist::program::version_line(std::filesystem::path(argv[0]).filename().string());
        std::printf("%s\n", line.c_str());
    }
    std::fflush(stdout);
    std::exit(0);
}

[[gnu::section(".init_array"), gnu::used]] void (*answer_version_at_start)(int, char**, char**) = answer_version;

}  // namespace
