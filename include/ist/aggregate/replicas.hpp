#pragma once
// Where the workers' models live between rounds. The aggregator decides it (aggregate/aggregator.hpp:
// an aggregator that averages every step's gradients keeps the replicas identical), and the
// transport's round moves what that leaves to move.

namespace ist {

enum class Replicas {
    PerRound,    ///< subnets are cut, sent and returned every round, and their bytes counted (IST, local SGD)
    Persistent,  ///< every process keeps its replica: nothing travels but gradients (data parallel)
};

}  // namespace ist
