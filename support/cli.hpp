#pragma once
// Command-line parsing shared by ist's programs (examples/cli: ist-train, resist-train, gist-train,
// ...; bench: ist-bench, gist-memory, ...; the options they share: training_options.hpp). Not part of the library and never installed; it lives outside
// examples/ and bench/ so that neither includes a header of the other.
//
// CLI11 provides the option table, --help (from the same table), flags and unknown-option
// detection. The values are converted here rather than by CLI11 so that
//  * every malformed value names the option and the value ("--rounds: 'x' is not a positive
//    integer", "--hidden: 'abc' in '8,abc' is not a width"), and
//  * numbers are read exactly as before (std::stof / std::stod; CLI11 reads floats through long
//    double, which may round differently), so a command line gives bit-identical results.
#include <charconv>
#include <concepts>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <unistd.h>

#include <ist/core/error.hpp>

#include "version.hpp"

namespace ist::cli {

// ----------------------------------------------------------------------------------------------
// Kinds of value: each parses one text (nullopt: malformed) and says what it expected.

/// Decimal digits only (no sign, no spaces), at least `minimum`.
struct Integer {
    std::uint64_t minimum = 0;
    const char* expected = "a non-negative integer";
    std::optional<std::uint64_t> operator()(const std::string& text) const {
        std::uint64_t n = 0;
        const char* end = text.data() + text.size();
        const auto [stop, error] = std::from_chars(text.data(), end, n);
        if (text.empty() || error != std::errc() || stop != end || n < minimum) return std::nullopt;
        return n;
    }
};
inline constexpr Integer kCount{};
inline constexpr Integer kPositive{1, "a positive integer"};
inline constexpr Integer kWidth{1, "a width"};

/// A float or double as std::stof / std::stod read it, the whole text; optionally > 0.
template <std::floating_point T>
struct Real {
    bool positive = false;
    const char* expected = "a number";
    std::optional<T> operator()(const std::string& text) const {
        std::size_t used = 0;
        T x{};
        try {
            if constexpr (std::same_as<T, float>) x = std::stof(text, &used);
            else x = std::stod(text, &used);
        } catch (const std::exception&) {
            return std::nullopt;  // not a number, or out of range
        }
        if (used != text.size() || (positive && !(x > 0))) return std::nullopt;
        return x;
    }
};
inline constexpr Real<float> kFloat{};
inline constexpr Real<float> kPositiveFloat{true, "a positive number"};
inline constexpr Real<double> kDouble{};
inline constexpr Real<double> kPositiveDouble{true, "a positive number"};

/// A float in [0, 1), as std::stof reads it (a dropout rate).
struct Rate {
    const char* expected = "a rate in [0, 1)";
    std::optional<float> operator()(const std::string& text) const {
        const auto x = kFloat(text);
        return x && *x >= 0.0f && *x < 1.0f ? x : std::nullopt;
    }
};
inline constexpr Rate kRate{};

/// Any non-empty text (a name the program checks later, e.g. a section of the network).
struct Name {
    const char* expected = "a name";
    std::optional<std::string> operator()(const std::string& text) const {
        return text.empty() ? std::nullopt : std::optional<std::string>(text);
    }
};
inline constexpr Name kName{};

/// A kind of value: text -> optional value, with the `expected` wording of its error.
template <class K>
concept ValueKind = requires(const K& kind, const std::string& text) {
    { kind(text).value() };
    { kind.expected } -> std::convertible_to<const char*>;
};

// ----------------------------------------------------------------------------------------------
// Conversions: the error names the option, the text and what was expected.

template <ValueKind K>
auto convert(const K& kind, const std::string& option, const std::string& text) {
    if (auto value = kind(text)) return *value;
    throw ConfigError(option + ": '" + text + "' is not " + kind.expected);
}

/// "a,b,c" -> {"a", "b", "c"}; "" -> {}.
inline std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream in(text);
    for (std::string item; std::getline(in, item, ',');) items.push_back(item);
    return items;
}

/// A comma-separated list of values of one kind; at least one.
template <class T, ValueKind K>
std::vector<T> convert_list(const K& kind, const std::string& option, const std::string& text) {
    std::vector<T> out;
    for (const std::string& item : split(text)) {
        const auto value = kind(item);
        if (!value) throw ConfigError(option + ": '" + item + "' in '" + text + "' is not " + kind.expected);
        out.push_back(static_cast<T>(*value));
    }
    if (out.empty()) throw ConfigError(option + ": '" + text + "' is not a comma-separated list");
    return out;
}

/// Whether `item` is one of `allowed`; the error names the option, the item (and the list it is
/// in, if any) and the allowed values.
inline void check_choice(const std::string& option, const std::string& item, const std::string& text,
                         const std::vector<std::string>& allowed) {
    for (const std::string& a : allowed)
        if (item == a) return;
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    throw ConfigError(option + ": '" + item + (item == text ? "'" : "' in '" + text + "'") + " is not one of " + list);
}

// ----------------------------------------------------------------------------------------------
// The option table

/// A program's options on top of CLI11: values go straight into the caller's variables, through
/// the conversions above. Options keep the last of repeated values (as the programs always did).
class Options {
public:
    Options(std::string program, std::string description) : app_(std::move(description), std::move(program)) {
        app_.allow_extras();  // reported by parse() as "unknown option ...", naming it
        app_.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
        app_.get_formatter()->column_width(27);
        app_.set_version_flag("--version", program::version_line(app_.get_name()),
                              "Print the program's name and ist's version, then exit");
        target_ = &app_;
    }

    /// Later options belong to the subcommand `name` (required): `ist-bench compare [options]`.
    void subcommand(const std::string& name, const std::string& description) {
        target_ = app_.add_subcommand(name, description);
        app_.require_subcommand(1);
    }
    /// Later options are listed under this heading of --help.
    void group(std::string heading) { group_ = std::move(heading); }

    template <class T, ValueKind K>
    CLI::Option* value(const std::string& name, T& target, const K& kind, const std::string& label,
                       const std::string& help) {
        return add(name, label, help, [&target, kind, name](const std::string& text) {
            target = static_cast<T>(convert(kind, name, text));
        });
    }
    template <class T, ValueKind K>
    CLI::Option* list(const std::string& name, std::vector<T>& target, const K& kind, const std::string& label,
                      const std::string& help) {
        return add(name, label, help,
                   [&target, kind, name](const std::string& text) { target = convert_list<T>(kind, name, text); });
    }
    CLI::Option* text(const std::string& name, std::string& target, const std::string& label, const std::string& help) {
        return add(name, label, help, [&target](const std::string& text) { target = text; });
    }
    CLI::Option* choice(const std::string& name, std::string& target, std::vector<std::string> allowed,
                        const std::string& label, const std::string& help) {
        return add(name, label, help, [&target, allowed = std::move(allowed), name](const std::string& text) {
            check_choice(name, text, text, allowed);
            target = text;
        });
    }
    /// A comma-separated list of choices, kept as the text.
    CLI::Option* choices(const std::string& name, std::string& target, std::vector<std::string> allowed,
                         const std::string& label, const std::string& help) {
        return add(name, label, help, [&target, allowed = std::move(allowed), name](const std::string& text) {
            for (const std::string& item : split(text)) check_choice(name, item, text, allowed);
            target = text;
        });
    }
    CLI::Option* flag(const std::string& name, bool& target, const std::string& help) {
        return target_->add_flag(name, target, help)->group(group_);
    }

    /// Parses the command line into the bound variables. --help prints the help (of the
    /// subcommand, if given) and exits 0, as --version does its line; anything malformed throws
    /// ConfigError naming it.
    void parse(int argc, char** argv) {
        try {
            app_.parse(argc, argv);
        } catch (const CLI::CallForHelp&) {
            std::cout << help();
            std::exit(0);
        } catch (const CLI::CallForVersion& e) {
            std::cout << e.what() << '\n';
            std::exit(0);
        } catch (const CLI::ArgumentMismatch& e) {  // CLI11 says "--rounds: 1 required T missing"
            const std::string what = e.what();
            throw ConfigError(what.substr(0, what.find(':')) + " needs a value (see --help)");
        } catch (const CLI::ParseError& e) {
            throw ConfigError(std::string(e.what()) + " (see --help)");
        }
        for (const std::string& extra : app_.remaining(true)) {
            if (extra.size() > 1 && extra[0] == '-') throw ConfigError("unknown option " + extra + " (see --help)");
            throw ConfigError("unexpected argument '" + extra + "' (see --help)");
        }
    }

    /// Whether the option appeared on the command line.
    bool given(const std::string& name) const { return target_->count(name) > 0; }

    /// The help of the program, or of its subcommand when that was given ("ist-bench compare --help").
    std::string help() const { return app_.help(); }

private:
    template <class Store>
    CLI::Option* add(const std::string& name, const std::string& label, const std::string& help, Store store) {
        return target_->add_option_function<std::string>(name, std::move(store), help)->type_name(label)->group(group_);
    }

    CLI::App app_;
    CLI::App* target_ = nullptr;
    std::string group_ = "Options";
};

/// Throws ConfigError naming `option` unless a file can be written at `path`: not a directory,
/// in a directory that exists and may be written, not an existing file that may not. Programs
/// call it for every output path before any work, so a run does not end, after its training, on a
/// file it cannot write. Nothing is created ("-", standard output, and "" pass).
inline void check_writable(const std::string& option, const std::string& path) {
    namespace fs = std::filesystem;
    if (path.empty() || path == "-") return;
    std::error_code ec;
    const fs::path file(path);
    const fs::path dir = file.has_parent_path() ? file.parent_path() : fs::path(".");
    const std::string cannot = option + ": cannot write " + path + ": ";
    if (fs::is_directory(file, ec)) throw ConfigError(cannot + "it is a directory");
    if (!fs::is_directory(dir, ec)) throw ConfigError(cannot + "directory " + dir.string() + " does not exist");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) throw ConfigError(cannot + "directory " + dir.string() + " is not writable");
    if (fs::exists(file, ec) && ::access(file.c_str(), W_OK) != 0) throw ConfigError(cannot + "the file is not writable");
}

/// The one-line error of a program: "<program>: error: <what>".
inline std::string error_line(const std::string& program, const std::exception& e) {
    return program + ": error: " + e.what();
}

/// Runs a program's main body: any exception becomes its error line on stderr and exit code 2.
template <class Body>
int run_main(const std::string& program, Body&& body) {
    try {
        return body();
    } catch (const std::exception& e) {
        std::cerr << error_line(program, e) << '\n';
        return 2;
    }
}

}  // namespace ist::cli
