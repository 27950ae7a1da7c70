#pragma once
// Scratch files of the tests: one directory per area and test process, so that ctest's parallel
// runs (and the same area's tests in two processes) never write the same path.
#include <unistd.h>

#include <filesystem>
#include <string>

namespace ist::test {

/// <temp>/ist_<area>_<pid>/<name>; the directory is created.
inline std::filesystem::path scratch_path(const std::string& area, const std::string& name) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("ist_" + area + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return dir / name;
}

}  // namespace ist::test
