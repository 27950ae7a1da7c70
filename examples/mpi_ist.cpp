// IST over MPI: one worker per process (mpiexec -n 2 ./mpi_ist), rank 0 holding and merging the
// model. Every rank loads the same data and builds the same network from the same seed; the
// partition RNG is seeded alike on every rank, so all agree on the plan without sending it.
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>  // needs MPI: not part of <ist/ist.hpp>

int main(int argc, char** argv) {
    ist::MpiEnvironment mpi(argc, argv);  // MPI_Init_thread ... MPI_Finalize
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {128, 128}, 10});
    ist::TrainerOptions options{.local_steps = 10, .rounds = 30, .batch_size = 64, .eval_every = 0};
    options.workers = ist::MpiEnvironment::size();  // S = the number of processes
    ist::IstTrainer trainer(net, options, ist::NeuronPartition(), ist::Sgd(0.05f), ist::HolderAverage(),
                            ist::MpiTransport());
    const ist::TrainResult result = trainer.train(train, test);
    if (ist::MpiEnvironment::rank() != 0) return 0;  // rank 0 holds the model and its evaluation
    std::cout << "MPI, " << options.workers << " processes: final test accuracy " << result.final_test->accuracy
              << ", " << result.history.back().total_bytes << " bytes exchanged\n";
    return result.final_test->accuracy > 0.9 ? 0 : 1;
}
