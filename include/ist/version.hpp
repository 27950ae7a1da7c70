#pragma once
// Generated from cmake/version.hpp.in by CMake's configure step: the version comes from project(VERSION)
// in CMakeLists.txt, its one source. Edit that, not this file (reconfiguring rewrites it).
#include <compare>
#include <string_view>

#define IST_VERSION_MAJOR 0
#define IST_VERSION_MINOR 2
#define IST_VERSION_PATCH 0
#define IST_VERSION_STRING "0.2.0"

namespace ist {

/// A release of ist: ordered, so code can ask `if constexpr (ist::version >= ist::Version{0, 2, 0})`.
/// While the major version is 0 a new minor version may break the API (CHANGELOG.md says how).
struct Version {
    int major;
    int minor;
    int patch;
    friend constexpr auto operator<=>(const Version&, const Version&) = default;
};

/// The ist these headers are.
inline constexpr Version version{IST_VERSION_MAJOR, IST_VERSION_MINOR, IST_VERSION_PATCH};
/// The same, as text: "major.minor.patch".
inline constexpr std::string_view version_string = IST_VERSION_STRING;

}  // namespace ist
