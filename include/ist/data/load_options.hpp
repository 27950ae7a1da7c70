#pragma once
// Limits a loader applies before it allocates, so a corrupt or hostile file is refused with a
// message instead of exhausting memory.
#include <cstddef>

namespace ist {

struct LoadOptions {
    /// The most bytes one archive member (its declared size, and the array its header
    /// describes) may take; larger ones are refused before anything is allocated. 64 GiB by
    /// default: generous for real data, and a fuzzer or a service can set a tight one.
    std::size_t max_bytes = std::size_t{1} << 36;
    /// Threads a parser that can split its input (CSV, by blocks of lines) uses; 0 = every hardware
    /// thread. 1 by default: a trainer already keeps the cores busy, and a library that starts
    /// threads unasked competes with it. The result is bit-identical for every count.
    std::size_t threads = 1;
};

}  // namespace ist
