#pragma once
// --data under --transport mpi: with an npy: source dealt in disjoint shards, rank 0 (the parameter
// node: it evaluates, so it keeps the test set) loads the sets as every program does, and every
// other rank maps the feature file and reads only its worker's rows, so its resident memory is
// its shard. Rank 0 sends the standardisation (per-feature mean and deviation) and the class
// count, so every rank trains on the very values a whole load gives: the same final weights.
// Other sources and samplings load whole on every rank. Not part of the library, like cli_data.hpp.
#include <mpi.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "cli_data.hpp"

namespace ist::cli {

/// The sets of this MPI rank (see the top of the file). Collective: every rank calls it. A rank
/// that fails to load throws, and ist-train's MPI abort ends the job (no rank waits for it).
inline std::pair<Dataset, Dataset> load_data_mpi(const DataChoice& c, const TrainerOptions& options,
                                                 const std::string& program, std::ostream* notes, RawData* raw = nullptr) {
    int rank = 0, ranks = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    // np != S is refused by the transport's handshake, with its own message: load whole until then.
    if (!shardable(c, options) || static_cast<std::size_t>(ranks) != options.workers) return load_data(c, program, notes, raw);
    std::pair<Dataset, Dataset> sets;
    std::vector<std::uint32_t> filled;
    if (rank == 0) sets = load_sets(c, program, notes);
    else sets.first = load_worker_shard(c, options, static_cast<std::size_t>(rank), filled);
    const std::size_t features = sets.first.feature_count();
    std::vector<float> statistics(2 * features);  // mean, then deviation
    std::uint64_t classes = 0;
    if (rank == 0) {
        const Standardization s = standardize_sets(sets, raw ? &raw->test : nullptr);
        if (raw) raw->standardization = s;
        std::copy(s.mean.begin(), s.mean.end(), statistics.begin());
        std::copy(s.sd.begin(), s.sd.end(), statistics.begin() + static_cast<std::ptrdiff_t>(features));
        classes = std::max(sets.first.classes, sets.second.classes);
    }
    MPI_Bcast(statistics.data(), static_cast<int>(statistics.size()), MPI_FLOAT, 0, MPI_COMM_WORLD);
    MPI_Bcast(&classes, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    if (rank == 0) return sets;
    xt::xtensor<float, 1> mean = xt::zeros<float>({features}), sd = xt::zeros<float>({features});
    std::copy(statistics.begin(), statistics.begin() + static_cast<std::ptrdiff_t>(features), mean.begin());
    std::copy(statistics.begin() + static_cast<std::ptrdiff_t>(features), statistics.end(), sd.begin());
    Standardization(std::move(mean), std::move(sd)).apply(sets.first, filled);
    sets.first.classes = classes;
    // Only rank 0 evaluates; the trainer still checks a test set fits the model: one training row.
    sets.second = subset(sets.first, {filled.at(0)});
    sets.second.name = "(the test set is on rank 0)";
    return sets;
}

}  // namespace ist::cli
