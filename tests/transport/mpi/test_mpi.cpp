// MpiTransport under mpiexec (2 or 4 ranks): bit-identity with ThreadsTransport for IST, local
// SGD, data parallel and a transformer's vocabulary cut; bytes per worker; failures rethrown on
// every rank; stop agreement; wrong launches. A plain main: prints "N passed, M failed" on rank 0,
// exits non-zero on failure.
//
//   mpiexec -np 4 ist_mpi_tests            the checks
//   mpiexec -np 2 ist_mpi_tests --stall    rank 1 never joins: rank 0 must time out and abort
//   mpiexec -np 2 ist_mpi_tests --die      rank 1 dies mid-training: the job must end
//   mpiexec -np 2 ist_mpi_tests --stall-dropped   rank 1 is dropped as late and never comes back:
//                                          rank 0 must time out waiting for its late result
// The straggler checks (round_timeout, quorum, drop_failed_workers) are in test_stragglers.cpp.
//   mpiexec -np 2 ist_mpi_tests --mismatched-codec   rank 1 expects q4 messages, rank 0 sends q8:
//                                          refused by length before decoding, the job ends
#include <array>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
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

void transport_checks(MpiTransport& transport, std::size_t S) {
    const bool coordinator = transport.is_coordinator();
    const std::size_t me = static_cast<std::size_t>(transport.rank());
    // Exchange round: each worker sees the coordinator's values, trains, and they come back.
    for (Replicas replicas : {Replicas::PerRound, Replicas::Persistent}) {
        const bool exchange = replicas == Replicas::PerRound;
        bool saw_coordinator_values = true, mean_ok = true;
        auto result = transport.round(
            S, [&](std::size_t s) { return make_toy(s, coordinator); },
            [&](Toy& p, Communicator& comm) {
                if (exchange)
                    for (auto& x : p.ts)
                        for (std::size_t i = 0; i < x.size(); ++i)
                            saw_coordinator_values &= x.data()[i] == static_cast<float>(100 * comm.worker() + i);
                for (auto& x : p.ts) x += 1.0f;
                std::vector<float> v{static_cast<float>(comm.worker()), 1.0f, -2.5f};
                comm.allreduce_mean(v);
                mean_ok = v[0] == static_cast<float>(S - 1) * 0.5f && v[1] == 1.0f && v[2] == -2.5f;
                p.stat[0] = 10.0 * static_cast<double>(comm.worker());
            },
            replicas);
        const std::string tag = exchange ? "exchange round" : "replica round";
        check(saw_coordinator_values, tag + ": worker saw the coordinator's values");
        check(mean_ok, tag + ": allreduce_mean is the mean over workers");
        const std::uint64_t reduce = 3 * sizeof(float);
        if (coordinator) {
            check(result.packages.size() == S, tag + ": S packages on the coordinator");
            for (std::size_t s = 0; s < S; ++s) {
                const std::uint64_t expect = (exchange ? toy_bytes(s) : 0) + reduce;
                check(result.traffic.received[s] == expect && result.traffic.sent[s] == expect,
                      tag + ": bytes of worker " + std::to_string(s) + " = " + std::to_string(result.traffic.received[s]) +
                          "/" + std::to_string(result.traffic.sent[s]) + ", expected " + std::to_string(expect));
                check(result.packages[s].stat[0] == 10.0 * static_cast<double>(s), tag + ": scalars come back");
                if (exchange)
                    check(result.packages[s].ts[0](0, 0) == static_cast<float>(100 * s + 1), tag + ": trained values come back");
            }
        } else {
            check(result.packages.size() == (exchange ? 0 : S), tag + ": packages on a worker rank");
            const std::uint64_t expect = (exchange ? toy_bytes(me) : 0) + reduce;
            check(result.traffic.received[me] == expect && result.traffic.sent[me] == expect, tag + ": own bytes");
        }
    }

    // A worker's failure is rethrown on every rank, with the same type and message, in an
    // exchange round and while the others wait in allreduce_mean (worker 0 failing included).
    for (std::size_t bad : {S - 1, std::size_t{0}})
        for (bool sync : {false, true}) {
            const std::string what = "failure of worker " + std::to_string(bad) + (sync ? " during allreduce" : "");
            try {
                transport.round(
                    S, [&](std::size_t s) { return make_toy(s, coordinator); },
                    [&](Toy&, Communicator& comm) {
                        std::vector<float> v{1.0f};
                        if (sync && comm.worker() != bad) comm.allreduce_mean(v);
                        if (comm.worker() == bad) throw TrainingError("boom from worker " + std::to_string(bad));
                        if (sync) comm.allreduce_mean(v);
                    },
                    sync ? Replicas::Persistent : Replicas::PerRound);
                check(false, what + ": nothing thrown");
            } catch (const TrainingError& e) {
                check(std::string(e.what()) == "boom from worker " + std::to_string(bad), what + ": message " + e.what());
            } catch (const std::exception& e) {
                check(false, what + ": wrong exception " + e.what());
            }
        }
    // And the transport is usable afterwards.
    auto after = transport.round(
        S, [&](std::size_t s) { return make_toy(s, coordinator); },
        [&](Toy&, Communicator& comm) { std::vector<float> v{1.0f}; comm.allreduce_mean(v); }, Replicas::PerRound);
    check(!coordinator || after.packages.size() == S, "a round after failures works");
}

TrainerOptions small_options(std::size_t S) {
    TrainerOptions o;
    o.workers = S;
    o.local_steps = 3;
    o.rounds = 4;
    o.batch_size = 16;
    o.seed = 11;
    o.eval_every = 2;
    return o;
}

/// Trains `init` on `train` with MpiTransport and, on rank 0, with ThreadsTransport: both must agree.
template <class Model, class Part, class Agg, class Opt>
void equivalence(const std::string& name, const Model& init, const Dataset& train, const Dataset& test_set, Part part,
                 Agg agg, Opt opt, TrainerOptions opts) {
    Model reference = init;
    TrainResult ref;
    if (my_rank == 0) {
        IstTrainer threads(reference, opts, part, opt, agg, ThreadsTransport{});
        ref = threads.train(train, test_set);
    }
    Model net = init;
    IstTrainer mpi(net, opts, part, opt, agg, MpiTransport{});
    const TrainResult got = mpi.train(train, test_set);
    check(got.history.size() == opts.rounds, name + ": every rank ran every round");
    if (my_rank == 0) {
        check(test::same_parameters(net, reference), name + ": weights bit-identical to ThreadsTransport");
        bool bytes_equal = got.history.size() == ref.history.size();
        for (std::size_t r = 0; bytes_equal && r < got.history.size(); ++r)
            bytes_equal = got.history[r].bytes == ref.history[r].bytes &&
                          got.history[r].max_worker_bytes == ref.history[r].max_worker_bytes &&
                          got.history[r].train_loss == ref.history[r].train_loss;
        check(bytes_equal, name + ": bytes per round and train loss equal ThreadsTransport's");
        check(got.final_test && ref.final_test && got.final_test->accuracy == ref.final_test->accuracy,
              name + ": same final test accuracy");
    }
    // Every rank ends with the coordinator's weights.
    std::uint64_t mine = weights_hash(net), root = mine;
    MPI_Bcast(&root, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
    check(mine == root, name + ": this rank ends with the coordinator's weights");
}

template <class Part, class Agg, class Opt>
void equivalence(const std::string& name, Part part, Agg agg, Opt opt, TrainerOptions opts) {
    equivalence(name, make_mlp({12, {16, 16}, 3, Norm::Batch, 5}), test::blobs(400, 12, 3, 1), test::blobs(120, 12, 3, 2),
                part, agg, opt, opts);
}

/// ResIST (overlapping blocks: absent blocks travel as empty tensors) and GIST on a whole graph.
void resist_and_gist_equivalence(std::size_t S) {
    const Dataset blobs = test::blobs(400, 12, 3, 1);
    ResistOptions resist;
    resist.min_depth = 2;
    equivalence("ResIST", make_residual_mlp({.inputs = 12, .width = 8, .hidden = 8, .classes = 3, .blocks = 5, .seed = 2}),
                blobs, test::blobs(120, 12, 3, 2), ResistPartition(resist), HolderAverage{}, Sgd(0.05f),
                small_options(S));
    const GcnGraph graph(knn_graph(blobs.features, 5));
    Network gcn;
    gcn.add(GraphConv(graph, 12, 16, {.seed = 1})).add(LayerNorm()).add(ReLU()).add(GraphConv(graph, 16, 3, {.seed = 2}));
    std::vector<std::uint32_t> train_rows, test_rows;
    for (std::uint32_t r = 0; r < blobs.size(); ++r) (r % 4 ? test_rows : train_rows).push_back(r);
    TrainerOptions o = small_options(S);
    o.batches = Batches::FullSet;
    equivalence("GIST, split input", gcn, keep_labels(blobs, train_rows), keep_labels(blobs, test_rows),
                GistPartition({.split_input = true}), HolderAverage{}, Adam(0.01f), o);
}

/// Quantised exchange: MPI sends the coded bytes and decodes them as ThreadsTransport does in
/// memory, so both give the same weights, and the bytes per round are `bytes_per_round`.
template <Codec C>
void coded_equivalence(const std::string& name, C codec, TrainerOptions opts, std::uint64_t bytes_per_round,
                       OptimizerState state = OptimizerState::Reset) {
    opts.optimizer_state = state;
    const Network init = make_mlp({12, {16, 16}, 3, Norm::Batch, 5});
    const Dataset train = test::blobs(400, 12, 3, 1), test_set = test::blobs(120, 12, 3, 2);
    Network reference = init, net = init;
    TrainResult ref;
    if (my_rank == 0)
        ref = IstTrainer(reference, opts, NeuronPartition{}, MomentumSgd(0.05f, 0.9f), HolderAverage{},
                         ThreadsTransport{}, codec).train(train, test_set);
    const TrainResult got = IstTrainer(net, opts, NeuronPartition{}, MomentumSgd(0.05f, 0.9f), HolderAverage{},
                                       MpiTransport{}, codec).train(train, test_set);
    if (my_rank != 0) return;
    check(test::same_parameters(net, reference), name + ": weights bit-identical to ThreadsTransport");
    bool bytes_equal = got.history.size() == ref.history.size();
    for (std::size_t r = 0; bytes_equal && r < got.history.size(); ++r)
        bytes_equal = got.history[r].bytes == ref.history[r].bytes && ref.history[r].bytes == bytes_per_round;
    check(bytes_equal, name + ": bytes per round " + std::to_string(got.history[0].bytes) + " (threads " +
                           std::to_string(ref.history[0].bytes) + "), formula " + std::to_string(bytes_per_round));
}

/// q8 and fp16 weights, q4 updates with error feedback and carried momentum, against the
/// formula: per worker and direction, fp16 2 bytes a value; qB rows x (8 + ceil(cols B / 8)).
void codec_checks(std::size_t S) {
    const std::size_t h = 16 / S;
    const std::uint64_t floats = h * 12 + h + h + h * h + h + h + 3 * h;
    auto uniform = [&](unsigned bits) {  // weights h x 12, h x h, 3 x h; four batch-norm vectors of h
        auto row = [&](std::size_t cols) { return 8 + (cols * bits + 7) / 8; };
        return h * row(12) + 4 * row(h) + h * row(h) + 3 * row(h);
    };
    coded_equivalence("IST q8", Uniform(8), small_options(S), S * 2 * uniform(8));
    coded_equivalence("IST fp16", Fp16{}, small_options(S), S * 2 * floats * 2);
    TrainerOptions ef = small_options(S);
    ef.coded_values = CodedValues::Updates;
    ef.error_feedback = true;
    // Momentum state travels too, coded like the weights: twice the tensors.
    coded_equivalence("IST q4 updates, error feedback, carried momentum", AnyCodec::parse("q4"), ef,
                      S * 2 * 2 * uniform(4), OptimizerState::Carry);
    // Per-tensor scale: one header per tensor, every value packed (the same 7 tensors as above);
    // a master copy on the coordinator, with and without error feedback.
    auto per_tensor = [&](unsigned bits) {
        std::uint64_t n = 0;
        for (std::uint64_t values : {h * 12, h, h, h * h, h, h, 3 * h}) n += 8 + (values * bits + 7) / 8;
        return n;
    };
    TrainerOptions master = ef;
    master.master_copy = true;
    coded_equivalence("IST q3-tensor updates, error feedback, master copy", AnyCodec::parse("q3-tensor"), master,
                      S * 2 * per_tensor(3));
    master.error_feedback = false;
    coded_equivalence("IST q4-tensor-nearest updates, master copy", AnyCodec::parse("q4-tensor-nearest"), master,
                      S * 2 * per_tensor(4));
    // A rank with another codec: refused at the handshake.
    check_throws([&] { Network net = make_mlp({12, {16}, 3}); IstTrainer t(net, small_options(S), NeuronPartition{}, Sgd(0.05f), HolderAverage{}, MpiTransport{}, Uniform(my_rank == 0 ? 8 : 4)); },
                 "differs from rank 0 in its training configuration", "a rank with another codec is refused");
}

/// Rank 1 expects q4 subnets, rank 0 sends q8 ones: rank 1 refuses the message by its length.
int mismatched_codec() {
    const auto S = static_cast<std::size_t>(MpiEnvironment::size());
    MpiTransport transport;
    transport.handshake(S, 0, 0);
    const Network net = make_mlp({12, {16}, 3});
    transport.round(
        S,
        [&](std::size_t) {
            WorkerPackage<Network, Uniform> p{net, {}, {}, {}};
            p.coding.codec = Uniform(my_rank == 1 ? 4 : 8);
            return p;
        },
        [](WorkerPackage<Network, Uniform>&, Communicator&) {}, Replicas::PerRound);
    return 1;
}

int run_checks() {
    const int np = MpiEnvironment::size();
    const auto S = static_cast<std::size_t>(np);

    MpiTransport transport;
    transport.handshake(S, 0, 0);
    transport_checks(transport, S);

    equivalence("IST", NeuronPartition{}, HolderAverage{}, Sgd(0.05f), small_options(S));
    equivalence("IST bernoulli masks", BernoulliMasks(0.6f), HolderAverage{}, Sgd(0.05f), small_options(S));
    equivalence("local SGD", FullModel{}, HolderAverage{}, Sgd(0.05f), small_options(S));
    equivalence("data parallel", FullModel{}, GradientAllReduce{}, Sgd(0.05f), small_options(S));
    TrainerOptions carry = small_options(S);
    carry.optimizer_state = OptimizerState::Carry;
    equivalence("IST, carried momentum", NeuronPartition{}, HolderAverage{}, MomentumSgd(0.05f, 0.9f), carry);
    resist_and_gist_equivalence(S);
    // The vocabulary cut plans on the round's batches: every rank peeks every worker's batches
    // from its own copies of the streams, so all ranks cut the same embedding rows.
    equivalence("transformer, vocabulary cut of heads and FFN, Adam", Transformer(test::vocabulary_shape(9)),
                test::skewed_tokens(150, 8), test::skewed_tokens(20, 9),
                VocabularyCut(TransformerPartition(TransformerCut::Both)), HolderAverage{}, Adam(1e-2f), small_options(S));
    straggler_checks(S);
    codec_checks(S);

    // IST bytes per worker are the subnet sizes: hidden 16/S neurons per layer.
    {
        const std::size_t h = 16 / S;
        const std::uint64_t per_worker = (h * 12 + h + h + h * h + h + h + 3 * h) * sizeof(float);
        Network net = make_mlp({12, {16, 16}, 3});
        TrainerOptions o = small_options(S);
        o.rounds = 1;
        IstTrainer trainer(net, o, NeuronPartition{}, Sgd(0.05f), HolderAverage{}, MpiTransport{});
        const TrainResult r = trainer.train(test::blobs(400, 12, 3, 1), test::blobs(120, 12, 3, 2));
        if (my_rank == 0) {
            check(r.history[0].bytes == S * 2 * per_worker, "IST bytes per round = S x 2 x subnet size");
            check(r.history[0].max_worker_bytes == 2 * per_worker, "IST bytes per worker = 2 x subnet size");
        }
    }

    // A callback on the coordinator stops training; every rank stops after the same round.
    {
        Network net = make_mlp({12, {16}, 3});
        TrainerOptions o = small_options(S);
        o.rounds = 20;
        IstTrainer trainer(net, o, NeuronPartition{}, Sgd(0.05f), HolderAverage{}, MpiTransport{});
        struct StopAt3 {
            bool on_round_end(const RoundMetrics& m) { return m.round == 3; }
        };
        const TrainResult r = trainer.train(test::blobs(400, 12, 3, 1), test::blobs(120, 12, 3, 2), StopAt3{});
        check(r.history.size() == 3 && r.stopped_early, "a coordinator's stop is taken by every rank");
    }

    // np != S: a ConfigError on every rank, naming both.
    check_throws([&] { Network net = make_mlp({12, {16}, 3}); IstTrainer t(net, small_options(S + 1), NeuronPartition{}, Sgd(0.05f), HolderAverage{}, MpiTransport{}); },
                 "S = " + std::to_string(S + 1) + " workers but the MPI job has np = " + std::to_string(np),
                 "np != S is refused");
    // A rank with other options: a mismatched-launch ConfigError on every rank.
    {
        TrainerOptions o = small_options(S);
        if (my_rank == np - 1) o.seed = 12;
        check_throws([&] { Network net = make_mlp({12, {16}, 3}); IstTrainer t(net, o, NeuronPartition{}, Sgd(0.05f), HolderAverage{}, MpiTransport{}); },
                     "rank " + std::to_string(np - 1) + " differs from rank 0 in its training configuration",
                     "a rank with another seed is refused");
    }

    int counts[2] = {passed, failed}, total[2] = {0, 0};
    MPI_Allreduce(counts, total, 2, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (my_rank == 0) std::printf("%d ranks: %d passed, %d failed\n", np, total[0], total[1]);
    return total[1] == 0 ? 0 : 1;
}

/// Rank 1 never joins; the others must time out (IST_MPI_TIMEOUT) and abort the job.
int stall() {
    if (my_rank == 1) {
        std::this_thread::sleep_for(std::chrono::seconds(40));
        return 0;
    }
    MpiTransport transport;
    transport.handshake(static_cast<std::size_t>(MpiEnvironment::size()), 0, 0);
    std::puts("handshake completed without rank 1");
    return 1;
}

/// Rank 1 dies in the middle of training; the job must end, not hang.
int die() {
    const auto S = static_cast<std::size_t>(MpiEnvironment::size());
    MpiTransport transport;
    transport.handshake(S, 0, 0);
    for (int r = 0; r < 5; ++r)
        transport.round(
            S, [&](std::size_t s) { return make_toy(s, transport.is_coordinator()); },
            [&](Toy&, Communicator& comm) {
                if (r == 2 && comm.worker() == 1) std::_Exit(7);
                std::vector<float> v{1.0f};
                comm.allreduce_mean(v);
            },
            Replicas::PerRound);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    MpiEnvironment mpi(argc, argv);
    my_rank = MpiEnvironment::rank();
    const std::string mode = argc > 1 ? argv[1] : "";
    try {
        if (mode == "--stall") return stall();
        if (mode == "--die") return die();
        if (mode == "--stall-dropped") return stall_after_drop();
        if (mode == "--mismatched-codec") return mismatched_codec();
        return run_checks();
    } catch (const std::exception& e) {
        MpiEnvironment::abort(std::string("ist_mpi_tests: uncaught: ") + e.what(), 2);
    }
}
