#pragma once
// What every program of ist prints for --version (support/cli.hpp's Options for the programs with an
// option parser, support/version_flag.cpp for the others; ist_program() in CMakeLists.txt gives each
// program one of the two, and ctest `version: <program>` checks it).
#include <string>
#include <string_view>

#include <ist/version.hpp>

namespace ist::program {

/// "<program> (ist) <version>", the GNU form: the program's name, then the release it belongs to.
inline std::string version_line(std::string_view program) {
    return std::string(program) + " (ist) " + std::string(ist::version_string);
}

}  // namespace ist::program
