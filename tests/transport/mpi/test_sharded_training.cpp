// IstTrainer over MpiTransport with the sharded parameter node, under mpiexec at S = np (ctest:
// np 2 and 4): the weights, the train loss and the test accuracy are bit-identical to
// ThreadsTransport's (and so to the central node's) for IST with carried momentum, local SGD,
// ResIST with overlapping blocks, GIST and a transformer's vocabulary cut with carried Adam
// state; every rank ends with rank 0's weights; a checkpoint written mid-run on rank 0 holds the
// whole model, and a trainer resumed from it ends where the unbroken run ends; a diverging worker
// fails the round on every rank, and the model keeps its values; ranks launched with different
// parameter nodes, and data parallel with the sharded node, are refused;
// RoundMetrics::bytes counts each byte that crossed the wire once (MPI's own counts, every rank's
// summed), the shards gathered to rank 0 included.
//
//   mpiexec -np 4 ist_mpi_sharded_training
//   mpiexec -np 2 ist_mpi_sharded_training --die     rank 1 dies in round 3: the job must end
//   mpiexec -np 2 ist_mpi_sharded_training --stall   rank 1 stalls in round 3: rank 0 times out
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

#include "../../helpers.hpp"
#include "../../model/transformer/skewed_tokens.hpp"
#include "mpi_check.hpp"

using namespace ist;
using namespace ist::mpi_test;

namespace {

MpiTransport sharded() {
    MpiTransport::Options o;
    o.parameter_node = ParameterNode::Sharded;
    return MpiTransport(o);
}

/// Five short rounds, evaluated every second one and at the end; Carry or Reset optimizer state.
TrainerOptions small_options(std::size_t S, OptimizerState state = OptimizerState::Reset) {
    return {.workers = S, .local_steps = 3, .rounds = 5, .batch_size = 16, .seed = 11, .optimizer_state = state,
            .eval_every = 2};
}

/// Every rank holds rank 0's weights.
template <class Model>
void same_on_every_rank(const Model& net, const std::string& what) {
    std::uint64_t mine = weights_hash(net), root = mine;
    MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    check(mine == root, what + ": this rank ends with the coordinator's weights");
}

/// Trains `init` sharded over MPI and, on rank 0, over ThreadsTransport: both must agree.
template <class Model, class Part, class Opt>
void equivalence(const std::string& name, const Model& init, const Dataset& train, const Dataset& test_set, Part part,
                 Opt opt, TrainerOptions opts) {
    Model reference = init;
    TrainResult ref;
    if (my_rank == 0) ref = IstTrainer(reference, opts, part, opt, HolderAverage{}, ThreadsTransport{}).train(train, test_set);
    Model net = init;
    const TrainResult got = IstTrainer(net, opts, part, opt, HolderAverage{}, sharded()).train(train, test_set);
    check(got.history.size() == opts.rounds, name + ": every rank ran every round");
    if (my_rank == 0) {
        check(test::same_parameters(net, reference), name + ": weights bit-identical to ThreadsTransport");
        bool same = got.history.size() == ref.history.size();
        for (std::size_t r = 0; same && r < got.history.size(); ++r)
            same = got.history[r].train_loss == ref.history[r].train_loss &&
                   got.history[r].test.has_value() == ref.history[r].test.has_value() &&
                   (!got.history[r].test || got.history[r].test->accuracy == ref.history[r].test->accuracy);
        check(same, name + ": train loss and every evaluation equal ThreadsTransport's");
    }
    same_on_every_rank(net, name);
}

void equivalences(std::size_t S) {
    const Dataset blobs = test::blobs(400, 12, 3, 1), held_out = test::blobs(120, 12, 3, 2);
    const Network mlp = make_mlp({12, {16, 16}, 3, Norm::Batch, 5});
    const TrainerOptions carry = small_options(S, OptimizerState::Carry);
    equivalence("IST, carried momentum", mlp, blobs, held_out, NeuronPartition{}, MomentumSgd(0.05f, 0.9f), carry);
    equivalence("local SGD", mlp, blobs, held_out, FullModel{}, Sgd(0.05f), small_options(S));
    ResistOptions resist;
    resist.min_depth = 2;
    equivalence("ResIST", make_residual_mlp({.inputs = 12, .width = 8, .hidden = 8, .classes = 3, .blocks = 5, .seed = 2}),
                blobs, held_out, ResistPartition(resist), Sgd(0.05f), small_options(S));
    const GcnGraph graph(knn_graph(blobs.features, 5));
    Network gcn;
    gcn.add(GraphConv(graph, 12, 16, {.seed = 1})).add(LayerNorm()).add(ReLU()).add(GraphConv(graph, 16, 3, {.seed = 2}));
    std::vector<std::uint32_t> train_rows, test_rows;
    for (std::uint32_t r = 0; r < blobs.size(); ++r) (r % 4 ? test_rows : train_rows).push_back(r);
    TrainerOptions o = carry;
    o.batches = Batches::FullSet;
    equivalence("GIST, split input, carried Adam", gcn, keep_labels(blobs, train_rows), keep_labels(blobs, test_rows),
                GistPartition({.split_input = true}), Adam(0.01f), o);
    // Embedding rows held by several workers, or by none, are sharded like any other unit.
    equivalence("transformer, vocabulary cut of heads and FFN, carried Adam", Transformer(test::vocabulary_shape(9)),
                test::skewed_tokens(150, 8), test::skewed_tokens(20, 9),
                VocabularyCut(TransformerPartition(TransformerCut::Both)), Adam(1e-2f), carry);
}

/// A checkpoint asked for on rank 0 only (a round-end callback) is written with the whole model
/// and carried state; a trainer resumed from it ends with the unbroken run's weights.
void checkpoint_resumes(std::size_t S) {
    const Dataset blobs = test::blobs(400, 12, 3, 1), held_out = test::blobs(120, 12, 3, 2);
    const Network init = make_mlp({12, {16, 16}, 3, Norm::Batch, 5});
    TrainerOptions o = small_options(S, OptimizerState::Carry);
    o.eval_every = 0;  // nothing else gathers the shards before the checkpoint
    const std::string path = "ist_mpi_sharded_training_" + std::to_string(S) + ".npz";
    if (my_rank == 0) std::filesystem::remove(path);
    Network unbroken = init;
    IstTrainer(unbroken, o, NeuronPartition{}, Adam(0.01f), HolderAverage{}, sharded()).train(blobs, held_out);
    Network first = init;
    struct StopAtRound2 {  // so the checkpoint of round 2 is the last one, gathered by nothing else
        bool on_round_end(const RoundMetrics& m) const { return m.round == 2; }
    };
    IstTrainer(first, o, NeuronPartition{}, Adam(0.01f), HolderAverage{}, sharded())
        .train(blobs, held_out, ist::Checkpoint(path, 2), StopAtRound2{});
    MPI_Barrier(MPI_COMM_WORLD);  // rank 0 wrote it
    Network resumed = init;
    IstTrainer trainer(resumed, o, NeuronPartition{}, Adam(0.01f), HolderAverage{}, sharded());
    trainer.load_checkpoint(path);
    check(trainer.rounds_done() == 2, "checkpoint: written after round 2");
    trainer.train(blobs, held_out);
    check(test::same_parameters(resumed, unbroken), "checkpoint: resumed = unbroken (sharded)");
    same_on_every_rank(resumed, "checkpoint");
    MPI_Barrier(MPI_COMM_WORLD);
    if (my_rank == 0) std::filesystem::remove(path);
}

/// A diverging worker (its loss or its package non-finite; each worker checks its own package, as
/// no rank sees the others' whole) fails the round on every rank, and the model keeps its values.
void non_finite_fails_everywhere(std::size_t S) {
    const Dataset blobs = test::blobs(400, 12, 3, 1), held_out = test::blobs(120, 12, 3, 2);
    Network net = make_mlp({12, {16, 16}, 3, Norm::Batch, 5});
    const Network before = net;
    TrainerOptions o = small_options(S);
    o.rounds = 1;
    check_throws([&] { IstTrainer(net, o, NeuronPartition{}, Sgd(1e30f), HolderAverage{}, sharded()).train(blobs, held_out); },
                 "", "a diverging round throws on every rank");
    check(test::same_parameters(net, before), "a failed round leaves this rank's model as it was");
}

/// Summed over the history, RoundMetrics::bytes equals the bytes of subnet pieces and shards
/// every rank's MPI sent, added up over the ranks, and those they received: each byte once.
void bytes_are_the_wire(std::size_t S) {
    using namespace ist::detail::mpi;
    const Dataset blobs = test::blobs(400, 12, 3, 1), held_out = test::blobs(120, 12, 3, 2);
    Network net = make_mlp({12, {16, 16}, 3, Norm::Batch, 5});
    MpiTransport transport = sharded();  // copies share the channel: this one reads the trainer's counters
    IstTrainer trainer(net, small_options(S, OptimizerState::Carry), NeuronPartition{}, Adam(0.01f), HolderAverage{},
                       transport);
    const WireCounters before = transport.wire_counters();
    const TrainResult r = trainer.train(blobs, held_out);  // shards gathered after rounds 2, 4 and 5
    const WireCounters& after = transport.wire_counters();
    std::uint64_t mine[3] = {0, 0, after.received(kGather) - before.received(kGather)}, all[3] = {0, 0, 0};
    for (Tag tag : {kShardDown, kShardUp, kGather}) {
        mine[0] += after.sent(tag) - before.sent(tag);
        mine[1] += after.received(tag) - before.received(tag);
    }
    MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    std::uint64_t counted = 0;
    for (const RoundMetrics& m : r.history) counted += m.bytes;
    check(all[0] == all[1] && all[2] > 0, "bytes: every byte sent was received, shards gathered included");
    check(counted == all[0], "bytes: RoundMetrics::bytes summed (" + std::to_string(counted) + ") = the wire's (" +
                                 std::to_string(all[0]) + ")");
    check(trainer.total_bytes() == counted, "bytes: total_bytes() = the rounds' bytes");
}

/// Ranks launched with different parameter nodes are refused at the handshake, on every rank.
void mismatched_nodes_refused(std::size_t S) {
    Network net = make_mlp({12, {16}, 3});
    check_throws([&] {
        IstTrainer t(net, small_options(S), NeuronPartition{}, Sgd(0.05f), HolderAverage{},
                     my_rank == 0 ? MpiTransport{} : sharded());
    }, "mismatched launch", "central rank 0 with sharded workers");
    check_throws([&] { IstTrainer t(net, small_options(S), FullModel{}, Sgd(0.05f), GradientAllReduce{}, sharded()); },
                 "data parallel keeps a whole replica on every process", "data parallel refused by the sharded node");
}

/// Sgd whose worker on rank 1 dies (exit code 7, no MPI_Finalize) or stalls in round 3.
struct FailingSgd : Sgd {
    bool dies = true;
    explicit FailingSgd(bool die) : Sgd(0.05f), dies(die) {}
    Sgd::Run start(std::span<Parameter* const> params, CarriedState carried = {}) const {
        static int rounds = 0;
        if (my_rank == 1 && ++rounds == 3) {
            if (dies) std::_Exit(7);
            std::this_thread::sleep_for(std::chrono::seconds(40));
        }
        return Sgd::start(params, std::move(carried));
    }
};

/// A rank lost mid-run: the job must end (mpiexec, or rank 0's timeout naming rank 1), not hang.
int lose_rank_1(bool dies) {
    Network net = make_mlp({12, {16, 16}, 3, Norm::Batch, 5});
    IstTrainer(net, small_options(static_cast<std::size_t>(MpiEnvironment::size())), NeuronPartition{},
               FailingSgd(dies), HolderAverage{}, sharded())
        .train(test::blobs(400, 12, 3, 1), test::blobs(120, 12, 3, 2));
    std::puts("training completed without rank 1");
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    MpiEnvironment mpi(argc, argv);
    my_rank = MpiEnvironment::rank();
    const std::string mode = argc > 1 ? argv[1] : "";
    try {
        if (mode == "--die" || mode == "--stall") return lose_rank_1(mode == "--die");
        const auto S = static_cast<std::size_t>(MpiEnvironment::size());
        equivalences(S);
        checkpoint_resumes(S);
        non_finite_fails_everywhere(S);
        mismatched_nodes_refused(S);
        bytes_are_the_wire(S);
    } catch (const std::exception& e) {
        MpiEnvironment::abort(std::string("ist_mpi_sharded_training: uncaught: ") + e.what(), 2);
    }
    std::printf("[rank %d] %d passed, %d failed\n", my_rank, passed, failed);
    return failed ? 1 : 0;
}
