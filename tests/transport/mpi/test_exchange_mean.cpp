// allreduce_mean by direct exchange over MpiTransport under mpiexec at S = np (ctest: 2, 3, 4):
// bit for bit a hand-written ordered sum at lengths shorter than S, S - 1, S + 1 and large; the
// bytes counted; a wrong length (a worker's, or worker 0's) and a worker that leaves mid-reduction
// end the round with today's errors on every rank, and the transport reduces afterwards. The checks
// are tests/transport/exchange_mean_checks.hpp's, which WireTransport's tests run too.
//
//   mpiexec -np 3 ist_mpi_exchange_mean
#include "../exchange_mean_checks.hpp"
#include "mpi_check.hpp"

int main(int argc, char** argv) {
    return ist::mpi_test::run_on_every_rank(argc, argv, "ist_mpi_exchange_mean", [](std::size_t S) {
        ist::MpiTransport transport;
        transport.handshake(S, 0, 0);
        const auto failed = ist::exchange_mean_test::failures(transport, S, static_cast<std::size_t>(transport.rank()));
        for (const std::string& what : failed) ist::mpi_test::check(false, what);
        ist::mpi_test::check(true, "allreduce_mean by direct exchange");
    });
}
