#pragma once
// The baselines every IST result is compared with, as policy choices of the same trainer.
#include "ist/aggregate/gradient_all_reduce.hpp"
#include "ist/partition/full_model.hpp"
#include "ist/train/trainer.hpp"

namespace ist {

/// Data parallel: every worker holds the full model and gradients are all-reduced after every
/// step; replicas stay identical, so a "round" is only a reporting interval.
template <Model M = Network, LocalOptimizer O = Sgd, class T = ThreadsTransport>
using DataParallelTrainer = IstTrainer<M, FullModel, O, GradientAllReduce, T>;

/// Local SGD: full models trained l steps independently, then averaged.
template <Model M = Network, LocalOptimizer O = Sgd, class T = ThreadsTransport>
using LocalSgdTrainer = IstTrainer<M, FullModel, O, HolderAverage, T>;

}  // namespace ist
