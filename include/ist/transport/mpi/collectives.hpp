#pragma once
// The collectives MpiTransport offers beside its rounds: the coordinator's decision, a model
// broadcast and a gather of per-worker tensors. Each runs on every rank of a Session whose
// handshake is done, through the coordinator (rank 0), with the Session's timeouts.
#include <span>
#include <string>
#include <vector>

#include "ist/core/tensor.hpp"
#include "ist/transport/mpi/session.hpp"
#include "ist/transport/pack.hpp"

namespace ist::detail::mpi {

/// The coordinator's decision, on every rank.
inline bool agree(Session& session, bool decision) {
    char value = decision ? 1 : 0;
    if (session.channel.rank() == 0)
        session.send_to_workers(&value, 1, kAgree, "a decision to be taken by the workers");
    else
        session.channel.receive_exact(0, kAgree, &value, 1, "the coordinator's decision");
    return value != 0;
}

/// Overwrites `tensors` on every rank with the coordinator's values (same shapes everywhere).
inline void broadcast(Session& session, std::span<Tensor* const> tensors) {
    std::vector<char> buffer(tensor_bytes(tensors));
    if (session.channel.rank() == 0) {
        pack_tensors(tensors, buffer.data());
        session.send_to_workers(buffer.data(), buffer.size(), kBroadcast, "the model broadcast to be taken by the workers");
    } else {
        session.channel.receive_exact(0, kBroadcast, buffer.data(), buffer.size(), "the model broadcast");
        unpack_tensors(tensors, buffer.data());
    }
}

/// Rank k (1..S-1) sends `per_worker[k]`; the coordinator overwrites its own `per_worker[k]` with
/// it (same shapes on every rank), and its own entry stays.
inline void gather_to_coordinator(Session& session, std::span<std::vector<Tensor>> per_worker) {
    const auto pointers = [&](int k) {
        std::vector<Tensor*> out;
        for (Tensor& t : per_worker[static_cast<std::size_t>(k)]) out.push_back(&t);
        return out;
    };
    const int me = session.channel.rank();
    if (me != 0) {
        const std::vector<Tensor*> mine = pointers(me);
        std::vector<char> buffer(tensor_bytes(mine));
        pack_tensors(mine, buffer.data());
        session.channel.send(buffer.data(), buffer.size(), 0, kGather, "tensors gathered by the coordinator");
        return;
    }
    for (int k = 1; k < session.channel.size(); ++k) {
        const std::vector<Tensor*> theirs = pointers(k);
        std::vector<char> buffer(tensor_bytes(theirs));
        session.channel.receive_exact(k, kGather, buffer.data(), buffer.size(),
                                      "worker " + std::to_string(k) + "'s gathered tensors");
        unpack_tensors(theirs, buffer.data());
    }
}

}  // namespace ist::detail::mpi
