#pragma once
// The Transport policy: runs a round's workers and moves subnets between them and the
// coordinator that holds the full model.
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ist/core/fingerprint.hpp"
#include "ist/core/tensor.hpp"
#include "ist/exchange/replicas.hpp"
#include "ist/transport/pack.hpp"
#include "ist/transport/reduction_coding.hpp"

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

/// Optional hook: `wait_idle()` blocks until workers a fault-tolerant transport dropped from a
/// round (stragglers still running in the background) have finished.
template <class T>
concept HasStragglers = requires(T& t) { t.wait_idle(); };

}  // namespace ist
