#pragma once
// The Transport policy: runs a round's workers and moves subnets between them and the
// coordinator that holds the full model.
#include <concepts>
#include <cstdint>
#include <functional>
#include <numeric>
#include <span>
#include <vector>

#include "ist/core/tensor.hpp"

namespace ist {

/// What a worker's code sees of the transport during a round.
class Communicator {
public:
    virtual ~Communicator() = default;
    virtual std::size_t worker() const = 0;
    virtual std::size_t workers() const = 0;
    /// Replaces `data` by its element-wise mean over all workers. Every worker must call it the
    /// same number of times with the same lengths. The sum runs over workers 0..S-1 in order, so
    /// the result is identical on every transport.
    virtual void allreduce_mean(std::span<float> data) = 0;
};

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

template <Package P>
std::uint64_t payload_bytes(P& package) {
    std::uint64_t n = 0;
    for (const Tensor* t : package.tensors()) n += t->size() * sizeof(float);
    return n;
}

/// Result of one round on the coordinator: one package per worker (empty elsewhere).
template <class P>
struct RoundResult {
    std::vector<P> packages;
    RoundTraffic traffic;
};

namespace detail {
struct ArchetypePackage {
    std::vector<Tensor*> tensors() { return {}; }
    std::span<double> scalars() { return {}; }
};
}  // namespace detail

/// Requirements:
///  - `round(S, extract, work, count_exchange)`: for every worker s, the package `extract(s)`
///    (made on the coordinator from the full model) reaches worker s, `work(package,
///    communicator)` trains it there, and it comes back; returns the packages in worker order
///    on the coordinator. `count_exchange = false` when replicas persist (data parallel): the
///    exchange is then bookkeeping only and not counted. A worker's exception is rethrown.
///  - `is_coordinator()`: whether this process holds the full model (always, in-process).
template <class T>
concept Transport = requires(T& t, std::size_t workers,
                             std::function<detail::ArchetypePackage(std::size_t)> extract,
                             std::function<void(detail::ArchetypePackage&, Communicator&)> work) {
    { t.round(workers, extract, work, true) } -> std::same_as<RoundResult<detail::ArchetypePackage>>;
    { t.is_coordinator() } -> std::convertible_to<bool>;
};

}  // namespace ist
