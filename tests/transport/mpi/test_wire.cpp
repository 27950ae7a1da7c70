// WireTransport over real processes: a Wire of four members on MPI point-to-point messages
// (what a user would write for sockets or any other byte pipe) runs IST, data parallel and a q8
// coded exchange under mpiexec at S = np, and every rank ends with ThreadsTransport's weights and
// rank 0 with its bytes of every round.
//
//   mpiexec -np 4 ist_mpi_wire
#include <mpi.h>

#include <string>
#include <vector>

#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

#include "../../helpers.hpp"
#include "mpi_check.hpp"

using namespace ist;
using namespace ist::mpi_test;

namespace {

/// Bytes between ranks as MPI messages, on a communicator of its own.
class MpiWire {
public:
    MpiWire() { MPI_Comm_dup(MPI_COMM_WORLD, &comm_); }
    std::size_t rank() const { return static_cast<std::size_t>(query(MPI_Comm_rank)); }
    std::size_t size() const { return static_cast<std::size_t>(query(MPI_Comm_size)); }
    void send(std::size_t peer, std::span<const char> bytes) {
        MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, static_cast<int>(peer), 0, comm_);
    }
    std::vector<char> receive(std::size_t peer) {
        MPI_Status status;
        MPI_Probe(static_cast<int>(peer), 0, comm_, &status);
        int count = 0;
        MPI_Get_count(&status, MPI_BYTE, &count);
        std::vector<char> message(static_cast<std::size_t>(count));
        MPI_Recv(message.data(), count, MPI_BYTE, static_cast<int>(peer), 0, comm_, MPI_STATUS_IGNORE);
        return message;
    }

private:
    int query(int (*what)(MPI_Comm, int*)) const {
        int value = 0;
        what(comm_, &value);
        return value;
    }
    MPI_Comm comm_;
};
static_assert(Wire<MpiWire>);

template <class P, class A, class C = Fp32>
void same_as_threads(std::size_t S, P partitioner, A aggregator, const std::string& name, C codec = C()) {
    const Dataset train = test::blobs(400, 12, 3, 1), test_set = test::blobs(90, 12, 3, 2);
    const TrainerOptions o = test::test_options(S, 4, 4, 16, 11);
    Network wired = make_mlp({12, {16, 16}, 3, Norm::Batch, 5}), reference = wired;
    IstTrainer<Network, P, Sgd, A, WireTransport<MpiWire>, C> trainer(wired, o, partitioner, Sgd(0.05f), aggregator,
                                                                      WireTransport(MpiWire()), codec);
    const TrainResult got = trainer.train(train, test_set);
    IstTrainer<Network, P, Sgd, A, ThreadsTransport, C> threads(reference, o, partitioner, Sgd(0.05f), aggregator,
                                                                ThreadsTransport(), codec);
    const TrainResult expected = threads.train(train, test_set);
    check(weights_hash(wired) == weights_hash(reference), name + ": this rank's weights are the threads run's");
    if (my_rank != 0) return;
    bool same_bytes = got.history.size() == expected.history.size();
    for (std::size_t k = 0; same_bytes && k < got.history.size(); ++k)
        same_bytes = got.history[k].bytes == expected.history[k].bytes;
    check(same_bytes, name + ": the bytes of every round are the threads run's");
    check(got.final_test->accuracy == expected.final_test->accuracy, name + ": the accuracy is the threads run's");
}

}  // namespace

int main(int argc, char** argv) {
    return run_on_every_rank(argc, argv, "ist_mpi_wire", [](std::size_t S) {
        same_as_threads(S, NeuronPartition(), HolderAverage(), "IST");
        same_as_threads(S, FullModel(), GradientAllReduce(), "data parallel");
        same_as_threads(S, NeuronPartition(), HolderAverage(), "IST, q8", Uniform(8));
    });
}
