#pragma once
// The Transport policy: runs a round's workers and moves subnets between them and the
// coordinator that holds the full model. The whole contract is here: the required members
// (the Transport concept, with a readable message for each one a type misses:
// detail::check_transport) and every optional hook, each a named concept:
//   RunsInProcess         one process runs every worker (else one worker per process)
//   HasStragglers         wait_idle(): dropped workers may still be running
//   GathersToCoordinator  gather_to_coordinator(per_worker): checkpoints of what only workers hold
//   ShardsParameters      a parameter node that shards the model among the processes
//   MergesDuringRound     round(..., merges): the coordinator merges each package as it is back
// What the library does around a transport, so a transport need not: it cuts and codes the
// packages (a package's coding runs in pack/unpack, or, for a journey no bytes made, in the
// trainer: detail::deliver_in_process / return_in_process), sums all-reduces in worker order
// (detail::OrderedMean, MessageMean), and runs the round's steps every transport shares
// (round_ledger.hpp: a worker's work timed and its failure caught, the packages and their bytes,
// the verdict: detail::judge, the one failure policy, and the RoundResult; with one worker per
// rank, both sides of the round over a transport's links). The built-in transports keep only how
// packages or bytes move and their own features (ThreadsTransport: in process, no copy;
// MpiTransport: stragglers over a network, a sharded parameter node).
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <numeric>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ist/core/fingerprint.hpp"
#include "ist/core/tensor.hpp"
#include "ist/aggregate/replicas.hpp"
#include "ist/transport/pack.hpp"
#include "ist/transport/reduction_coding.hpp"
#include "ist/transport/shard_layout.hpp"

namespace ist {

/// What a worker's code sees of the transport during a round.
class Communicator {
public:
    virtual ~Communicator() = default;
    virtual std::size_t worker() const = 0;
    virtual std::size_t workers() const = 0;
    /// Replaces `data` by its element-wise mean over all workers. Every worker must call it the
    /// same number of times with the same lengths. The sum runs over workers 0..S-1 in order
    /// (detail::OrderedMean, shared by every transport), so the result is identical on all of them.
    virtual void allreduce_mean(std::span<float> data) = 0;
    /// Whether every worker shares this process's memory (ThreadsTransport): an all-reduce then
    /// moves no bytes over a wire, so a caller gains nothing by packing small buffers into one.
    virtual bool in_process() const { return false; }
    /// The same through a lossy codec (data parallel with a codec): `contribution` is this
    /// worker's values coded (coding.message_bytes() long). The coordinator decodes every worker's,
    /// averages them as allreduce_mean does, codes the mean (coding.encode_mean) and every worker
    /// decodes that into `mean`. Only the bytes travel, and the traffic counts them each way; a
    /// contribution of another length is refused (std::logic_error) before anything is decoded.
    virtual void allreduce_coded_mean(std::span<const char> contribution, std::span<float> mean,
                                      ReductionCoding& coding) = 0;
};

namespace detail {
/// Worker `worker`'s Communicator in a round whose all-reduces `Group` carries out
/// (`group.allreduce_mean(worker, data)` and `group.allreduce_coded_mean(worker, contribution,
/// mean, coding)`, called by every worker).
template <class Group>
class GroupCommunicator final : public Communicator {
public:
    GroupCommunicator(Group& group, std::size_t worker, std::size_t workers)
        : group_(group), worker_(worker), workers_(workers) {}
    std::size_t worker() const override { return worker_; }
    std::size_t workers() const override { return workers_; }
    void allreduce_mean(std::span<float> data) override { group_.allreduce_mean(worker_, data); }
    bool in_process() const override {
        if constexpr (requires { Group::in_process; }) return Group::in_process;
        else return false;
    }
    void allreduce_coded_mean(std::span<const char> contribution, std::span<float> mean,
                              ReductionCoding& coding) override {
        group_.allreduce_coded_mean(worker_, contribution, mean, coding);
    }

private:
    Group& group_;
    std::size_t worker_, workers_;
};
}  // namespace detail

/// Bytes each worker received from and sent to the rest of the system in one round.
struct RoundTraffic {
    std::vector<std::uint64_t> received, sent;
    explicit RoundTraffic(std::size_t workers = 0) : received(workers, 0), sent(workers, 0) {}
    std::uint64_t total() const {
        return std::accumulate(received.begin(), received.end(), std::uint64_t{0}) +
               std::accumulate(sent.begin(), sent.end(), std::uint64_t{0});
    }
};

/// What travels: a worker's subnet (and optimizer state), as a list of tensors plus scalars.
template <class P>
concept Package = std::movable<P> && requires(P& p) {
    { p.tensors() } -> std::same_as<std::vector<Tensor*>>;
    { p.scalars() } -> std::convertible_to<std::span<double>>;
};

/// The bytes a package's transfer counts: its tensors as they travel, coded or not (scalars
/// are bookkeeping, not counted).
template <Package P>
std::uint64_t payload_bytes(P& package) {
    return detail::tensor_payload_bytes(package);
}

/// Result of one round: one package per worker that finished it, in worker order, on the
/// coordinator (and on every process when replicas persist; none elsewhere).
template <class P>
struct RoundResult {
    std::vector<P> packages;
    RoundTraffic traffic;  ///< one entry per worker of the round
    /// The workers that did not finish the round, the one list of who finished (every other
    /// worker did), alike on every process: a distributed transport lists every worker that did
    /// not complete it, so the other processes replay the draws of all the rest.
    std::vector<std::size_t> dropped;
    std::vector<std::string> failures;   ///< why, one line per dropped worker
    std::vector<double> worker_seconds;  ///< per worker, its work's seconds (empty: not measured)

    std::size_t workers() const { return traffic.sent.size(); }

    /// Whether worker s finished the round.
    bool completed(std::size_t s) const { return std::find(dropped.begin(), dropped.end(), s) == dropped.end(); }

    /// The workers that finished, in order: packages[k] (where packages are returned) is theirs.
    std::vector<std::size_t> completed_workers() const {
        std::vector<std::size_t> out;
        for (std::size_t s = 0; s < workers(); ++s)
            if (completed(s)) out.push_back(s);
        return out;
    }
};

namespace detail {

struct ArchetypePackage {
    std::vector<Tensor*> tensors() { return {}; }
    std::span<double> scalars() { return {}; }
};
}  // namespace detail

/// Requirements:
///  - `round(S, extract, work, replicas)`: for every worker s, the package `extract(s)`
///    (made on the coordinator from the full model) reaches worker s, `work(package,
///    communicator)` trains it there, and it comes back; returns the packages in worker order
///    on the coordinator. With `Replicas::Persistent` (data parallel) every process keeps its
///    replica: the exchange is bookkeeping only and not counted, and a distributed transport may
///    return the packages on every process (each its own replica's copies) so every process can
///    merge. A worker's exception is rethrown (on every process): the first real failure in
///    worker order, else the first RoundAborted.
///  - `is_coordinator()`: whether this process holds the full model (always, in-process).
///  - `handshake(S, parameter_count, config_fingerprint)`: called once by the trainer before
///    training; a distributed transport checks that every process agrees (no-op in-process).
///  - `agree(decision)`: the coordinator's decision, returned on every process (identity in-process).
///  - `broadcast(tensors)`: the coordinator's values of `tensors` copied to every process.
template <class T>
concept Transport = requires(T& t, std::size_t workers,
                             std::function<detail::ArchetypePackage(std::size_t)> extract,
                             std::function<void(detail::ArchetypePackage&, Communicator&)> work,
                             std::span<Tensor* const> tensors) {
    { t.round(workers, extract, work, Replicas::PerRound) } -> std::same_as<RoundResult<detail::ArchetypePackage>>;
    { t.is_coordinator() } -> std::convertible_to<bool>;
    t.handshake(workers, std::uint64_t{0}, std::uint64_t{0});
    { t.agree(true) } -> std::convertible_to<bool>;
    t.broadcast(tensors);
};

/// The caller's merge of the workers' packages during a round (the MergesDuringRound hook), so
/// that merging what is back overlaps the others' work and transfers.
template <class P>
class RoundMerge {
public:
    virtual ~RoundMerge() = default;
    /// Merges worker `worker`'s trained package (one call at a time, in worker order, on a thread of
    /// the round's own).
    virtual void merge(std::size_t worker, P& package) = 0;
    /// The round failed: undoes merge(worker, package) (for every merged worker, the latest first).
    virtual void undo(std::size_t worker, P& package) = 0;
};

namespace detail {

/// Whether `T` says it has the MergesDuringRound hook (`static constexpr bool merges_during_round = true`).
template <class T>
concept DeclaresMergesDuringRound = requires {
    { T::merges_during_round } -> std::convertible_to<bool>;
    requires T::merges_during_round;
};

template <class T>
concept HasMergingRound = requires(T& t, std::size_t workers,
                                   std::function<ArchetypePackage(std::size_t)> extract,
                                   std::function<void(ArchetypePackage&, Communicator&)> work,
                                   RoundMerge<ArchetypePackage>* merges) {
    { t.round(workers, extract, work, Replicas::PerRound, merges) } -> std::same_as<RoundResult<ArchetypePackage>>;
};

}  // namespace detail

/// Optional hook: `static constexpr bool merges_during_round = true` and `round(workers, extract,
/// work, replicas, merges)`: the round above, in which the coordinator (with Replicas::PerRound)
/// hands each worker's package to `merges->merge(k, package)` as soon as it and every earlier
/// worker's is in, in worker order (worker 0's once its own work is done, while the others still
/// train or travel), stopping at the first worker whose package is not in. If the round fails it
/// calls `merges->undo` for each of them, the latest first, before it rethrows. The packages are
/// returned as without the hook (a merged one holds what merge left in it); the caller merges the
/// rest. `merges` may be null: nothing is merged during the round.
template <class T>
concept MergesDuringRound = detail::DeclaresMergesDuringRound<T> && detail::HasMergingRound<T>;

namespace detail {

/// The Transport requirements one by one, each with what a type that misses it lacks (IstTrainer
/// checks its transport with this, so the first missing member is named in plain words).
template <class T>
consteval bool check_transport() {
    static_assert(requires(T& t) { { t.is_coordinator() } -> std::convertible_to<bool>; },
                  "ist::Transport: missing `bool is_coordinator()`: whether this process holds the full model "
                  "(true in-process; rank 0 of a distributed transport)");
    static_assert(requires(T& t) { t.handshake(std::size_t{0}, std::uint64_t{0}, std::uint64_t{0}); },
                  "ist::Transport: missing `handshake(std::size_t workers, std::uint64_t parameter_count, "
                  "std::uint64_t config_fingerprint)`: called once before training (a no-op in-process)");
    static_assert(requires(T& t) { { t.agree(true) } -> std::convertible_to<bool>; },
                  "ist::Transport: missing `bool agree(bool decision)`: the coordinator's decision on every "
                  "process (the identity in-process)");
    static_assert(requires(T& t, std::span<Tensor* const> tensors) { t.broadcast(tensors); },
                  "ist::Transport: missing `broadcast(std::span<Tensor* const>)`: the coordinator's values on "
                  "every process (a no-op in-process)");
    static_assert(requires(T& t, std::function<ArchetypePackage(std::size_t)> extract,
                           std::function<void(ArchetypePackage&, Communicator&)> work) {
                      { t.round(std::size_t{1}, extract, work, Replicas::PerRound) }
                          -> std::same_as<RoundResult<ArchetypePackage>>;
                  },
                  "ist::Transport: missing `RoundResult<P> round(std::size_t workers, Extract extract, Work work, "
                  "Replicas replicas)` for any package type P = extract(s)'s: see the Transport concept");
    if constexpr (DeclaresMergesDuringRound<T>)
        static_assert(HasMergingRound<T>,
                      "ist::Transport: declares `merges_during_round` but lacks `RoundResult<P> round(std::size_t "
                      "workers, Extract extract, Work work, Replicas replicas, RoundMerge<P>* merges)`: see the "
                      "MergesDuringRound hook");
    return true;
}

}  // namespace detail

/// Optional hook: `static constexpr bool in_process = true` declares that one process runs every
/// worker, so the trainer holds all of the workers' state itself (error-feedback residuals need no
/// gathering for a checkpoint). A transport without it runs one worker per process.
template <class T>
concept RunsInProcess = requires {
    { T::in_process } -> std::convertible_to<bool>;
    requires T::in_process;
};

/// Optional hook: `wait_idle()` blocks until workers a fault-tolerant transport dropped from a
/// round (stragglers still running in the background) have finished.
template <class T>
concept HasStragglers = requires(T& t) { t.wait_idle(); };

/// Optional hook: `gather_to_coordinator(per_worker)`, collective: rank k (1..S-1) sends
/// `per_worker[k]` and the coordinator's `per_worker[k]` takes it (same shapes on every rank).
/// Checkpoints of a distributed run with error feedback need it (the residuals live on the
/// workers' ranks); without it such a checkpoint is refused with a ConfigError.
template <class T>
concept GathersToCoordinator = requires(T& t, std::span<std::vector<Tensor>> per_worker) {
    t.gather_to_coordinator(per_worker);
};

/// Optional hook: a parameter node that shards the model among the processes (each rank merges
/// only its shard; detail::ParameterShards drives it).
template <class T>
concept ShardsParameters = requires(T& t, const T& ct, std::vector<ParameterShape> shapes,
                                    std::vector<std::size_t> owners, const Plan& plan,
                                    std::span<Tensor* const> full) {
    { ct.sharded() } -> std::convertible_to<bool>;  // this run shards (else the node is central)
    t.set_shard_layout(shapes, owners, plan);       // before each round: who owns what
    { t.gather_shards(full) } -> std::convertible_to<std::uint64_t>;  // collective: the coordinator gets every
                                                                      // shard of `full`; the bytes gathered
};

}  // namespace ist
