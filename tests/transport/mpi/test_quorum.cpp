// A quorum the MPI job could never reach (quorum > S) is refused on every rank, naming both
// numbers, before any message is sent: by the handshake and by a round that starts without one.
// A quorum of exactly S is accepted and waits for every worker.
#include <ist/transport/mpi/mpi_transport.hpp>

#include "mpi_check.hpp"

int main(int argc, char** argv) {
    using namespace ist;
    using namespace ist::mpi_test;
    return run_on_every_rank(argc, argv, "ist_mpi_quorum", [](std::size_t S) {
        const std::string refusal = "MpiTransport: quorum = " + std::to_string(S + 1) + " but a round has only S = " +
                                    std::to_string(S) + " workers";
        auto work = [](Toy&, Communicator&) {};
        check_throws([&] { MpiTransport({.quorum = S + 1}).handshake(S, 0, 0); }, refusal,
                     "a quorum of S + 1 is refused by the handshake");
        check_throws(
            [&] {
                MpiTransport t({.quorum = S + 1});
                t.round(S, [&](std::size_t s) { return make_toy(s, t.is_coordinator()); }, work, Replicas::PerRound);
            },
            refusal, "a quorum of S + 1 is refused by a round");
        MpiTransport all({.quorum = S});
        all.handshake(S, 0, 0);
        const auto result =
            all.round(S, [&](std::size_t s) { return make_toy(s, all.is_coordinator()); }, work, Replicas::PerRound);
        check(result.dropped.empty(), "a quorum of S drops nobody");
        if (all.is_coordinator())
            check(result.completed_workers().size() == S, "a quorum of S: every worker's package is back");
    });
}
