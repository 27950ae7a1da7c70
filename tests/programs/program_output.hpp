#pragma once
// Runs one of ist's programs as a user would and returns what it printed.
#include <doctest/doctest.h>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace ist_test {

/// Runs `exe` with `args` (through the shell: the paths here have no spaces) and returns its
/// standard output and error together, then "exit N".
inline std::string run_program(const std::string& exe, const std::string& args) {
    const std::string command = exe + " " + args + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::string out;
    std::array<char, 4096> buffer{};
    while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), pipe)) out.append(buffer.data(), n);
    const int status = ::pclose(pipe);
    return out + "exit " + std::to_string(WEXITSTATUS(status));
}

/// The 16 hex digits after "weights checksum ", or what was printed instead.
inline std::string checksum_of(const std::string& output) {
    const std::size_t at = output.find("weights checksum ");
    return at == std::string::npos ? "none in: " + output : output.substr(at + 17, 16);
}

}  // namespace ist_test
