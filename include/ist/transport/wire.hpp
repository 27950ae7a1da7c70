#pragma once
// The Wire: all a new transport has to implement. It moves bytes between the ranks of one run
// (one worker per rank; rank 0 also holds the full model); ist::WireTransport
// (exchange/wire_transport.hpp) runs the whole round around it: it cuts, codes and counts the
// packages, sums every all-reduce in worker order (arbitrated by rank 0, the chunks of plain floats
// exchanged between the ranks; bit-identical to the threads and MPI transports), picks the failure a
// round rethrows and agrees on it on every rank.
#include <concepts>
#include <cstddef>
#include <span>
#include <vector>

namespace ist {

/// Requirements:
///  - `rank()`, `size()`: this end's rank in 0..size()-1 and the number of ranks (= workers);
///  - `send(peer, bytes)`: delivers a copy of `bytes` to rank `peer` (it may return before `peer`
///    receives it);
///  - `receive(peer)`: blocks until the next message from rank `peer` has arrived and returns it.
/// Messages between two ranks arrive in the order they were sent. Nothing else is asked: no tags,
/// no collectives, no knowledge of packages or codecs. A send may also wait until its peer
/// receives: WireTransport orders every exchange between two ranks so that this cannot deadlock.
template <class W>
concept Wire = requires(W& w, const W& cw, std::size_t peer, std::span<const char> bytes) {
    { cw.rank() } -> std::convertible_to<std::size_t>;
    { cw.size() } -> std::convertible_to<std::size_t>;
    w.send(peer, bytes);
    { w.receive(peer) } -> std::same_as<std::vector<char>>;
};

}  // namespace ist
