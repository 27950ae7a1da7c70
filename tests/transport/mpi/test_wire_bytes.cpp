// MPI bytes on the wire, under mpiexec at S = np (ctest: S = 2 and 4), for fp32 and q4: per round,
// the transport's byte accounting (RoundMetrics::bytes) equals the codec's formula, and the sizes
// MPI itself reports for the subnet messages (the count of each send, MPI_Get_count of each
// receive, recorded by the channel) equal the same formula plus each message's two scalars.
// Prints the per-round numbers (docs/quantisation.md quotes them). The final model's broadcast after
// the rounds: MPI's count and TrainResult::final_broadcast_bytes against a hand count, and none where
// it is not needed (final_model_everywhere off; data parallel, whose replicas stay equal). Each
// worker's seconds (RoundMetrics::worker_seconds on rank 0) come from its own rank, within the round.
//
//   mpiexec -np 4 ist_mpi_wire_bytes
#include <cstdint>
#include <cstdio>
#include <string>

#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

#include "../../helpers.hpp"
#include "mpi_check.hpp"

namespace {

using ist::detail::mpi::kBroadcast;
using ist::detail::mpi::kDown;
using ist::detail::mpi::kUp;

int passed = 0, failed = 0, my_rank = 0;

void check(bool ok, const std::string& what) {
    if (ok) return void(++passed);
    ++failed;
    std::fprintf(stderr, "[rank %d] FAILED: %s\n", my_rank, what.c_str());
}

constexpr std::size_t kFeatures = 64, kHidden = 256, kClasses = 10, kRounds = 3;
constexpr std::uint64_t kScalarBytes = 2 * sizeof(double);  // every package's loss sum and step count

/// One worker's subnet of the MLP kFeatures-kHidden-kHidden-kClasses at S, coded with `bits`
/// (32: fp32, 4 bytes a value; B < 32: per row 8 header bytes + ceil(cols B / 8)): weights
/// h x 64, h x h, 10 x h and four batch-norm vectors of h (one row each), h = 256 / S.
std::uint64_t subnet_bytes(std::size_t S, unsigned bits) {
    const std::uint64_t h = kHidden / S;
    auto row = [&](std::uint64_t cols) { return bits == 32 ? 4 * cols : 8 + (cols * bits + 7) / 8; };
    return h * row(kFeatures) + 4 * row(h) + h * row(h) + kClasses * row(h);
}

void wire_bytes(std::size_t S, const std::string& codec, unsigned bits) {
    ist::TrainerOptions o{.workers = S, .local_steps = 2, .rounds = kRounds, .batch_size = 16, .seed = 3, .eval_every = 0};
    ist::Network net = ist::make_mlp({kFeatures, {kHidden, kHidden}, kClasses, ist::Norm::Batch, 5});
    ist::MpiTransport transport;  // copies share the channel: this one reads the trainer's counters
    ist::IstTrainer trainer(net, o, ist::NeuronPartition{}, ist::Sgd(0.05f), ist::HolderAverage{}, transport,
                            ist::AnyCodec::parse(codec));
    const auto before = transport.wire_counters();
    const ist::TrainResult r = trainer.train(ist::test::blobs(400, kFeatures, kClasses, 1),
                                             ist::test::blobs(100, kFeatures, kClasses, 2));
    const auto& after = transport.wire_counters();
    const std::uint64_t coded = subnet_bytes(S, bits), message = coded + kScalarBytes;
    const std::string name = codec + " at S = " + std::to_string(S);
    const std::uint64_t down_sent = after.sent(kDown) - before.sent(kDown), up_sent = after.sent(kUp) - before.sent(kUp);
    const std::uint64_t down_got = after.received(kDown) - before.received(kDown);
    const std::uint64_t up_got = after.received(kUp) - before.received(kUp);
    if (my_rank != 0) {  // one subnet down, one back, every round
        check(down_got == kRounds * message, name + ": subnet messages received (MPI_Get_count) = formula + scalars");
        check(up_sent == kRounds * message, name + ": trained packages sent = formula + scalars");
        return;
    }
    for (const auto& m : r.history)
        check(m.bytes == 2 * S * coded, name + ": RoundMetrics::bytes " + std::to_string(m.bytes) + " = 2 S x " +
                                            std::to_string(coded) + " (formula)");
    // Worker 0 lives on rank 0: its subnet never crosses the wire.
    check(down_sent == kRounds * (S - 1) * message, name + ": subnets sent = (S - 1) x (formula + scalars) a round");
    check(up_got == kRounds * (S - 1) * message, name + ": packages received (MPI_Get_count) = (S - 1) x (formula + scalars)");
    std::printf("%-4s S = %zu: per round %llu bytes counted (2 S x %llu, the formula); MPI at rank 0: %llu sent + %llu "
                "received in %zu + %zu messages of %llu bytes (the coded subnet + %llu bytes of scalars)\n",
                codec.c_str(), S, static_cast<unsigned long long>(r.history[0].bytes),
                static_cast<unsigned long long>(coded), static_cast<unsigned long long>(down_sent / kRounds),
                static_cast<unsigned long long>(up_got / kRounds), S - 1, S - 1,
                static_cast<unsigned long long>(message), static_cast<unsigned long long>(kScalarBytes));
}

/// The full MLP kFeatures-kHidden-kHidden-kClasses's bytes, by hand: weights 256 x 64, 256 x 256,
/// 10 x 256 and four batch-norm vectors of 256, 4 bytes each.
constexpr std::uint64_t kModelBytes = 4 * (kHidden * kFeatures + kHidden * kHidden + kClasses * kHidden + 4 * kHidden);

/// The final model after train(): with TrainerOptions::final_model_everywhere, rank 0 broadcasts it
/// (MPI: each other rank receives exactly the model) and TrainResult::final_broadcast_bytes counts
/// (S - 1) x the model; every rank then holds rank 0's weights. Without it, or under data parallel
/// (whose replicas are everywhere already), nothing is broadcast and nothing is counted; data
/// parallel's ranks still end with equal weights.
template <class Trainer>
void final_model(std::size_t S, const std::string& name, bool everywhere, bool broadcast_expected) {
    ist::TrainerOptions o{.workers = S, .local_steps = 2, .rounds = 2, .batch_size = 16, .seed = 3, .eval_every = 0};
    o.final_model_everywhere = everywhere;
    ist::Network net = ist::make_mlp({kFeatures, {kHidden, kHidden}, kClasses, ist::Norm::Batch, 5});
    ist::MpiTransport transport;
    Trainer trainer(net, o, {}, ist::Sgd(0.05f), {}, transport);
    const auto before = transport.wire_counters();
    const ist::TrainResult r = trainer.train(ist::test::blobs(400, kFeatures, kClasses, 1),
                                             ist::test::blobs(100, kFeatures, kClasses, 2));
    const auto& after = transport.wire_counters();
    const std::uint64_t expected = broadcast_expected ? kModelBytes : 0;
    const std::uint64_t moved = my_rank == 0 ? after.sent(kBroadcast) - before.sent(kBroadcast)
                                             : after.received(kBroadcast) - before.received(kBroadcast);
    check(moved == (my_rank == 0 ? (S - 1) * expected : expected),
          name + ": the final broadcast's bytes at this rank (MPI's count) " + std::to_string(moved) + ", by hand " +
              std::to_string(my_rank == 0 ? (S - 1) * expected : expected));
    check(r.final_broadcast_bytes == (S - 1) * expected,
          name + ": TrainResult::final_broadcast_bytes " + std::to_string(r.final_broadcast_bytes) + " = (S - 1) x " +
              std::to_string(expected));
    if (my_rank == 0)  // each worker's local work, timed on its own rank, within the round rank 0 timed
        for (const ist::RoundMetrics& m : r.history)
            for (std::size_t s = 0; s < S; ++s)
                check(m.worker_seconds.size() == S && m.worker_seconds[s] > 0 && m.worker_seconds[s] <= m.round_seconds,
                      name + ": round " + std::to_string(m.round) + ": worker " + std::to_string(s) +
                          "'s seconds are in (0, the round's " + std::to_string(m.round_seconds) + " s]");
    if (everywhere) {  // by the broadcast, or (data parallel) by equal replicas without one
        const auto mine = static_cast<unsigned long long>(ist::mpi_test::weights_hash(net));
        unsigned long long low = mine, high = mine;
        MPI_Allreduce(&mine, &low, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(&mine, &high, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
        check(low == high, name + ": every rank ends with the same weights");
    }
}

}  // namespace

int main(int argc, char** argv) {
    ist::MpiEnvironment mpi(argc, argv);
    my_rank = ist::MpiEnvironment::rank();
    const auto S = static_cast<std::size_t>(ist::MpiEnvironment::size());
    try {
        wire_bytes(S, "fp32", 32);
        wire_bytes(S, "q4", 4);
        using Ist = ist::IstTrainer<ist::Network, ist::NeuronPartition, ist::Sgd, ist::HolderAverage, ist::MpiTransport>;
        using DataParallel = ist::DataParallelTrainer<ist::Network, ist::Sgd, ist::MpiTransport>;
        final_model<Ist>(S, "IST, final model everywhere", true, true);
        final_model<Ist>(S, "IST, final model on rank 0 only", false, false);
        final_model<DataParallel>(S, "data parallel", true, false);
    } catch (const std::exception& e) {
        ist::MpiEnvironment::abort(std::string("ist_mpi_wire_bytes: uncaught: ") + e.what(), 2);
    }
    std::printf("[rank %d] %d passed, %d failed\n", my_rank, passed, failed);
    return failed ? 1 : 0;
}
