#pragma once
// Run-wide settings of IstTrainer (the policies carry their own hyper-parameters).
#include <cstdint>
#include <string>

#include "ist/core/error.hpp"
#include "ist/core/precision.hpp"

namespace ist {

/// Where each worker draws its mini-batches from.
enum class Sampling {
    Shards,    ///< the training rows are dealt into S disjoint shards, one per worker (cluster-like)
    WholeSet,  ///< every worker samples the whole training set (the reference IST code)
    Clients,   ///< federated: each round S of the clients (IstTrainer::set_clients) are sampled, and
               ///< worker s trains on the rows of the client it serves; a client's rows never move
};

/// Sampling::Clients: how the S clients of a round are drawn (without replacement).
enum class ClientSelection {
    Uniform,  ///< every client equally likely
    BySize,   ///< in proportion to its number of rows (FedAvg's weighting)
};

/// What one local step trains on.
enum class Batches {
    Rows,      ///< batch_size rows drawn at random (without replacement within a pass)
    FullSet,   ///< every row of the training set, in order: full-graph GCN training (GIST), gradient descent
    Clusters,  ///< the rows of clusters_per_batch clusters (Dataset::clusters): Cluster-GCN
};

/// What happens to the local optimizer's state (momentum, Adam moments) between rounds.
enum class OptimizerState {
    Reset,  ///< fresh state every round, as the reference implementations do
    Carry,  ///< state is extracted and merged with its parameters, so held slices keep it
};

/// What a worker sends back when the exchange is coded (a lossy codec; see ist/codec).
enum class CodedValues : std::uint8_t {
    Weights,  ///< its trained weights
    Updates,  ///< trained minus received: small and centred, so a codec's rows are narrow
};

struct TrainerOptions {
    std::size_t workers = 4;       ///< S
    std::size_t local_steps = 20;  ///< l, local SGD iterations per round
    std::size_t rounds = 50;       ///< T, synchronisation rounds
    std::size_t batch_size = 128;
    std::uint64_t seed = 42;       ///< partition RNG (shared by every rank) and worker data streams
    Sampling sampling = Sampling::Shards;  ///< with Batches::Clusters, shards are of clusters
    Batches batches = Batches::Rows;
    std::size_t clusters_per_batch = 1;    ///< Batches::Clusters only
    ClientSelection client_selection = ClientSelection::Uniform;  ///< Sampling::Clients only
    OptimizerState optimizer_state = OptimizerState::Reset;
    bool scale_activations = false;  ///< multiply subnet pre-activations by full/held width
    std::size_t eval_every = 1;      ///< evaluate the full model every this many rounds (0 = only at the end)
    std::size_t eval_batch = 1000;   ///< evaluation batch (batch statistics are taken over it); with
                                     ///< Batches::FullSet or Clusters evaluation takes the whole set at once
    CodedValues coded_values = CodedValues::Weights;  ///< lossy codecs only
    bool error_feedback = false;  ///< add the last coding's residual to the next coded update (Updates
                                  ///< only) or, under data parallel, to the next coded gradient
    /// Coded updates only: the coordinator adds each decoded update to its fp32 values from before
    /// the downlink coding (a master copy) instead of to what the worker received, so the downlink's
    /// rounding is not written into the model round after round (it is fed back, not kept).
    bool master_copy = false;
    /// The arithmetic of every GEMM of the workers' local steps and of evaluation (bf16: bfloat16
    /// inputs, fp32 accumulation; ist/core/precision.hpp). A run setting, not the model's: the same
    /// model trains, saves and resumes in either, and only the trainer runs its GEMMs.
    Precision precision = Precision::Fp32;
    /// Distributed transports: whether every process ends train() with the coordinator's model (a
    /// broadcast of the model and carried optimizer state after the last round, its bytes in
    /// TrainResult::final_broadcast_bytes). false: only the coordinator's model is the trained one and
    /// the other processes keep what they last held; a program whose other processes neither save nor
    /// evaluate (ist-train) saves a full-model transfer. Data parallel's replicas are everywhere
    /// already (no broadcast either way); in-process transports share the one model.
    bool final_model_everywhere = true;

    void validate() const {
        detail::require(workers > 0, "TrainerOptions: workers (S) must be at least 1, got 0");
        detail::require(local_steps > 0, "TrainerOptions: local_steps (l) must be at least 1, got 0");
        detail::require(rounds > 0, "TrainerOptions: rounds must be at least 1, got 0");
        detail::require(batch_size > 1, "TrainerOptions: batch_size must be at least 2 (batch statistics), got " +
                                            std::to_string(batch_size));
        detail::require(eval_batch > 1, "TrainerOptions: eval_batch must be at least 2");
        detail::require(batches != Batches::Clusters || clusters_per_batch > 0,
                        "TrainerOptions: clusters_per_batch must be at least 1");
        // error_feedback's requirements depend on the aggregator: ExchangeCoding::validate checks them.
    }
};

}  // namespace ist
