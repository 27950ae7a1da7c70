// Data parallel's coded all-reduce under mpiexec at S = np (ctest: S = 2 and 4), for fp32, q8 and
// q4 (+ error feedback): the gradients cross the wire as the codec's bytes (the sizes MPI itself
// reports for the reduction's messages equal the codec's formula, and RoundMetrics::bytes is
// unchanged; fp32 goes by direct exchange: 8-byte lengths to rank 0, the chunks between workers), the weights are bit-identical to ThreadsTransport's on every rank, and a coded
// contribution of the wrong length is refused on every rank, over MPI as over threads, before
// anything is decoded. Prints the per-step message sizes (docs/quantisation.md quotes them).
//
//   mpiexec -np 4 ist_mpi_coded_reduce
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <ist/exchange/coded_all_reduce.hpp>
#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

#include "../../helpers.hpp"
#include "mpi_check.hpp"

using namespace ist;
using namespace ist::mpi_test;
using ist::detail::mpi::kReduce;
using ist::detail::mpi::kReduceChunk;
using ist::detail::mpi::kResult;

namespace {

constexpr std::size_t kFeatures = 64, kHidden = 256, kClasses = 10, kSteps = 3, kRounds = 2;

Network dp_mlp() { return make_mlp({kFeatures, {kHidden, kHidden}, kClasses, Norm::Batch, 5}); }

/// One message of a step: every parameter's gradient coded (rows along the first axis).
template <Codec C>
std::uint64_t coded_model_bytes(const Network& net, const C& codec) {
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        const auto [rows, cols] = detail::row_shape(net.parameter(i).value);
        bytes += codec.coded_bytes(rows, cols);
    }
    return bytes;
}

/// Trains kRounds of data parallel with `codec` over MPI and (rank 0) threads, checking the bytes
/// MPI moved against the formula; returns one worker's message a step (the coded model).
std::uint64_t coded_data_parallel(std::size_t S, const std::string& codec_name, bool error_feedback) {
    const AnyCodec codec = AnyCodec::parse(codec_name);
    TrainerOptions o{.workers = S, .local_steps = kSteps, .rounds = kRounds, .batch_size = 16, .seed = 3,
                     .eval_every = 0};
    o.error_feedback = error_feedback;
    const std::string name = codec_name + (error_feedback ? " + error feedback" : "") + " at S = " + std::to_string(S);
    const Dataset train = test::blobs(400, kFeatures, kClasses, 1), test_set = test::blobs(100, kFeatures, kClasses, 2);
    const Network init = dp_mlp();
    Network reference = init, net = init;
    TrainResult ref;
    if (my_rank == 0)
        ref = IstTrainer(reference, o, FullModel{}, Sgd(0.05f), GradientAllReduce{}, ThreadsTransport{}, codec)
                  .train(train, test_set);
    MpiTransport transport;  // copies share the channel: this one reads the trainer's counters
    const auto before = transport.wire_counters();
    const TrainResult got =
        IstTrainer(net, o, FullModel{}, Sgd(0.05f), GradientAllReduce{}, transport, codec).train(train, test_set);
    const auto& after = transport.wire_counters();
    const std::uint64_t message = coded_model_bytes(init, codec), steps = kRounds * kSteps;
    const std::uint64_t contributions_sent = after.sent(kReduce) - before.sent(kReduce);
    const std::uint64_t contributions_got = after.received(kReduce) - before.received(kReduce);
    const std::uint64_t means_sent = after.sent(kResult) - before.sent(kResult);
    const std::uint64_t means_got = after.received(kResult) - before.received(kResult);
    std::uint64_t mine = weights_hash(net), root = mine;
    MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    check(mine == root, name + ": every replica ends with the coordinator's weights");
    if (codec.exact()) {  // fp32: each step's length announced to rank 0, the floats exchanged directly
        const auto r = static_cast<std::uint64_t>(my_rank), n = message / sizeof(float);
        const std::uint64_t chunk = n * (r + 1) / S - n * r / S, exchanged = sizeof(float) * (n - chunk + (S - 1) * chunk);
        const std::uint64_t chunks_sent = after.sent(kReduceChunk) - before.sent(kReduceChunk);
        const std::uint64_t chunks_got = after.received(kReduceChunk) - before.received(kReduceChunk);
        check(chunks_sent == steps * exchanged && chunks_got == steps * exchanged,
              name + ": chunks sent and received (MPI's counts) " + std::to_string(chunks_sent) + " and " +
                  std::to_string(chunks_got) + " = (n - |chunk|) + (S - 1) |chunk| floats a step, " +
                  std::to_string(steps * exchanged));
        const std::uint64_t announced = my_rank == 0 ? contributions_got : contributions_sent;
        check(announced == steps * sizeof(std::uint64_t) * (my_rank == 0 ? S - 1 : 1),
              name + ": a length of 8 bytes announced to rank 0 a step, per worker");
        check(means_sent == 0 && means_got == 0, name + ": no mean's floats travel through rank 0");
    } else if (my_rank != 0) {
        check(contributions_sent == steps * message, name + ": contributions sent (bytes MPI moved) = the coded model a step");
        check(means_got == steps * message, name + ": means received (MPI_Get_count) = the coded model a step");
    } else {
        check(contributions_got == steps * (S - 1) * message, name + ": contributions received = (S - 1) x the coded model");
        check(means_sent == steps * (S - 1) * message, name + ": means sent = (S - 1) x the coded model");
    }
    if (my_rank != 0) return message;
    check(test::same_parameters(net, reference), name + ": weights bit-identical to ThreadsTransport");
    for (std::size_t r = 0; r < got.history.size(); ++r)
        check(got.history[r].bytes == ref.history[r].bytes && got.history[r].bytes == S * kSteps * 2 * message,
              name + ": RoundMetrics::bytes " + std::to_string(got.history[r].bytes) + " = S x l x 2 x " +
                  std::to_string(message) + " (threads " + std::to_string(ref.history[r].bytes) + ")");
    return message;
}

/// Every worker codes 6 x 16 values with q8, but the last one with q4: its contribution has the
/// wrong length for the coordinator, which refuses it (std::logic_error) before decoding it.
void allreduce_toy(Communicator& comm, bool mismatched) {
    const std::size_t rows = 6, cols = 16, s = comm.worker();
    std::vector<float> values(rows * cols);
    for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(s) + 0.01f * static_cast<float>(i);
    const Uniform codec(mismatched && s + 1 == comm.workers() ? 4 : 8);
    CodingRng up = coding_stream(1, 0, s, Direction::ToCoordinator), down = coding_stream(1, 0, 0, Direction::ToWorker);
    std::vector<char> contribution;
    codec.encode(values, cols, contribution, up);
    detail::GradientCoding<Uniform> coding(codec, {rows, cols}, down);
    comm.allreduce_coded_mean(contribution, values, coding);
}

template <class T>
void wrong_length_refused(T transport, std::size_t S, const std::string& over) {
    transport.handshake(S, 0, 0);
    const bool coordinator = transport.is_coordinator();
    auto round = [&](bool mismatched) {
        return transport.round(S, [&](std::size_t s) { return make_toy(s, coordinator); },
                               [&](Toy&, Communicator& comm) { allreduce_toy(comm, mismatched); }, Replicas::Persistent);
    };
    const std::string expected = "allreduce_coded_mean: worker " + std::to_string(S - 1) +
                                 " sent a coded contribution of 96 bytes, 144 expected";
    check_throws([&] { round(true); }, expected, over + ": a coded contribution of the wrong length");
    round(false);
    check(true, over + ": a coded all-reduce after the refused one works");
}

}  // namespace

int main(int argc, char** argv) {
    return run_on_every_rank(argc, argv, "ist_mpi_coded_reduce", [](std::size_t S) {
        const std::uint64_t fp32 = coded_data_parallel(S, "fp32", false);
        const std::uint64_t q8 = coded_data_parallel(S, "q8", false);
        const std::uint64_t q4 = coded_data_parallel(S, "q4", true);
        check(q4 * 7 < fp32, "a q4 step's messages are under 1/7 of fp32's");
        if (my_rank == 0)
            std::printf("data parallel, %zu-%zu-%zu-%zu MLP, S = %zu: one worker's message a step (MPI's counts checked at "
                        "rank 0): fp32 %llu, q8 %llu (%.3f of fp32), q4 %llu (%.3f of fp32) bytes, each way\n",
                        kFeatures, kHidden, kHidden, kClasses, S, static_cast<unsigned long long>(fp32),
                        static_cast<unsigned long long>(q8), static_cast<double>(q8) / static_cast<double>(fp32),
                        static_cast<unsigned long long>(q4), static_cast<double>(q4) / static_cast<double>(fp32));
        wrong_length_refused(MpiTransport{}, S, "MPI");
        if (my_rank == 0) wrong_length_refused(ThreadsTransport{}, S, "threads");
    });
}
