#pragma once
// --checkpoint's resume, shared by the programs that take the option (ist-train, xml-train).
#include <cstddef>
#include <filesystem>
#include <iostream>
#include <string>

namespace ist::cli {

/// A checkpoint already at `path` resumes `trainer` where it was saved (saying so unless `quiet`);
/// returns the rounds it had done (0: no file, or no --checkpoint: a fresh run).
template <class Trainer>
std::size_t resume_from_checkpoint(Trainer& trainer, const std::string& path, bool quiet) {
    if (path.empty() || !std::filesystem::exists(path)) return 0;
    trainer.load_checkpoint(path);
    if (!quiet) std::cout << "resuming from " << path << " after round " << trainer.rounds_done() << '\n';
    return trainer.rounds_done();
}

}  // namespace ist::cli
