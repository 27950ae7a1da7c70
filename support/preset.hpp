#pragma once
// `--preset NAME` for ist's programs: a named set of options (e.g. the settings of the reference
// code a program's method comes from). The preset's options are placed before the user's, and
// options keep their last value (cli.hpp), so an explicit option always wins over the preset.
// Expanding the command line, rather than setting fields after parsing, means a preset's value is
// read by the very conversion (and error wording) of the option it sets.
#include <string>
#include <vector>

#include "cli.hpp"

namespace ist::cli {

/// One preset: its name, the options it sets (as typed on a command line) and where they come from.
struct Preset {
    std::string name;
    std::vector<std::string> arguments;
    std::string source;  ///< what the values match, e.g. "BinhangYuan/IST_Release, the 2-layer script"
};

/// The presets' lines of --help: each name, what it sets and where the values come from.
inline std::string preset_help(const std::vector<Preset>& presets) {
    std::string text;
    for (const Preset& p : presets) {
        text += (text.empty() ? "" : "\n") + p.name + ":";
        for (const std::string& a : p.arguments) text += " " + a;
        text += "\n  (" + p.source + ")";
    }
    return text;
}

/// A command line with every `--preset NAME` (or `--preset=NAME`) replaced by the preset's options,
/// which go right after the first `skip` arguments (the program name, and a subcommand if any) so
/// that every option the user gave comes later and wins.
class PresetArguments {
public:
    PresetArguments(int argc, char** argv, const std::vector<Preset>& presets, int skip = 1) {
        std::vector<std::string> given, inserted;
        for (int i = skip; i < argc; ++i) {
            std::string arg = argv[i], name;
            if (arg == "--preset") {
                if (i + 1 >= argc) throw ConfigError("--preset needs a value (see --help)");
                name = argv[++i];
            } else if (arg.rfind("--preset=", 0) == 0) {
                name = arg.substr(9);
            } else {
                given.push_back(std::move(arg));
                continue;
            }
            const Preset& preset = find(presets, name);
            inserted.insert(inserted.end(), preset.arguments.begin(), preset.arguments.end());
        }
        for (int i = 0; i < skip && i < argc; ++i) args_.emplace_back(argv[i]);
        args_.insert(args_.end(), inserted.begin(), inserted.end());
        args_.insert(args_.end(), given.begin(), given.end());
        for (std::string& a : args_) pointers_.push_back(a.data());
        pointers_.push_back(nullptr);
    }
    int argc() const { return static_cast<int>(args_.size()); }
    char** argv() { return pointers_.data(); }

private:
    static const Preset& find(const std::vector<Preset>& presets, const std::string& name) {
        std::vector<std::string> names;
        for (const Preset& p : presets) {
            if (p.name == name) return p;
            names.push_back(p.name);
        }
        check_choice("--preset", name, name, names);  // throws, naming the presets there are
        throw ConfigError("--preset: no presets");
    }

    std::vector<std::string> args_;
    std::vector<char*> pointers_;
};

/// Registers `--preset` in the option table, so that --help lists it with what each preset sets
/// (PresetArguments has already expanded it by the time the table parses).
inline void add_preset_option(Options& cli, const std::vector<Preset>& presets) {
    static std::string ignored;
    std::vector<std::string> names;
    for (const Preset& p : presets) names.push_back(p.name);
    cli.choice("--preset", ignored, names, "NAME", "defaults from a named set of options; an explicit option wins\n"
                                                       "wherever it stands:\n" +
                                                       preset_help(presets));
}

}  // namespace ist::cli
