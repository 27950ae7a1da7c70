// The sharded parameter node's exchange under mpiexec at S = np (ctest: np 2 and 4), for IST,
// ResIST with overlapping blocks and GIST with a shared last layer, each with two carried
// optimizer-state tensors per parameter. Every rank poisons (NaN) all it does not own, then:
//  - the subnet it gathers from the owners is bit-identical to the central node's cut of the
//    clean model (so no value came from outside its owner's shard);
//  - after simulated training and the return of every piece, its merged shard is bit-identical to
//    the central merge of the same trained packages (merge_packages, as ThreadsTransport's rounds);
//  - the bytes MPI moved for the exchange at this rank equal ist::sharded_traffic's formula.
//
//   mpiexec -np 4 ist_mpi_shard
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include <ist/ist.hpp>
#include <ist/partition/any_partition.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>
#include <ist/transport/mpi/shard.hpp>

namespace {

using ist::detail::mpi::kShardDown;
using ist::detail::mpi::kShardUp;
using Package = ist::WorkerPackage<ist::Network>;

int passed = 0, failed = 0, my_rank = 0;

void check(bool ok, const std::string& what) {
    if (ok) return void(++passed);
    ++failed;
    std::fprintf(stderr, "[rank %d] FAILED: %s\n", my_rank, what.c_str());
}

constexpr std::size_t K = 2;  // carried optimizer-state tensors per parameter (Adam's m and v)

/// Carried state derived from the parameters, so every rank builds the same.
std::vector<ist::Tensor> carried_state(const ist::Network& net) {
    std::vector<ist::Tensor> out;
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        for (std::size_t k = 0; k < K; ++k) out.push_back(net.parameter(i).value * (0.5f + static_cast<float>(k)));
    return out;
}

/// The full model's tensors in package order (parameters, then K states each).
std::vector<ist::Tensor*> full_tensors(ist::Network& net, std::vector<ist::Tensor>& carried) {
    std::vector<ist::Tensor*> out = ist::parameter_values(net);
    for (auto& t : carried) out.push_back(&t);
    return out;
}

/// Calls visit(tensor j, offset, count) for every run of the full tensors owned by `owner`
/// (the pieces of a worker that held everything).
template <class Visit>
void for_owned(ist::Network& net, std::vector<ist::Tensor>& carried, const ist::Plan& plan, std::size_t owner, Visit visit) {
    const auto shapes = ist::parameter_shapes(net);
    const auto owners = ist::package_owners(net, K, true);
    const std::vector<ist::Tensor*> full = full_tensors(net, carried);
    const ist::WorkerPlan everything{std::vector<ist::IndexSet>(net.dimensions().size())};
    for (std::size_t j = 0; j < full.size(); ++j) {
        const ist::ParameterShape& p = shapes[owners[j]];
        const ist::PieceBounds b = ist::piece_bounds(p, everything, ist::shard_axis(p, plan), plan.size());
        ist::for_each_piece_run(*full[j], b, owner, [&](std::size_t at, std::size_t n) { visit(j, at, n); });
    }
}

std::vector<Package> cut(const ist::Network& net, const std::vector<ist::Tensor>& carried, const ist::Plan& plan) {
    std::vector<Package> out;
    for (const auto& wp : plan) out.push_back(ist::extract_package(net, carried, K, wp, true));
    return out;
}

void train_simulated(Package& pkg, std::size_t worker) {
    for (ist::Tensor* t : pkg.tensors()) *t += 0.125f * static_cast<float>(worker + 1);
}

bool same_bits(std::vector<ist::Tensor*> a, std::vector<ist::Tensor*> b) {
    if (a.size() != b.size()) return false;
    for (std::size_t j = 0; j < a.size(); ++j)
        if (a[j]->shape() != b[j]->shape() || std::memcmp(a[j]->data(), b[j]->data(), a[j]->size() * sizeof(float)) != 0)
            return false;
    return true;
}

void exchange_case(const std::string& name, const ist::Network& clean, const ist::AnyPartition& partition) {
    const auto S = static_cast<std::size_t>(ist::MpiEnvironment::size());
    const auto me = static_cast<std::size_t>(my_rank);
    ist::PartitionRng rng(11);
    partition.validate(clean.dimensions(), S);
    ist::Plan plan = partition.plan(clean.dimensions(), S, rng);
    ist::derive_indices(clean.dimensions(), plan);
    ist::Network reference = clean, local = clean;
    std::vector<ist::Tensor> reference_state = carried_state(clean), local_state = reference_state;
    for (std::size_t other = 0; other < S; ++other)  // this rank knows only its shard
        if (other != me)
            for_owned(local, local_state, plan, other, [&](std::size_t j, std::size_t at, std::size_t n) {
                float* v = full_tensors(local, local_state)[j]->data() + at;
                std::fill(v, v + n, std::nanf(""));
            });

    std::size_t poisoned = 0;
    for (const ist::Tensor* t : full_tensors(local, local_state))
        for (float v : *t) poisoned += std::isnan(v) ? 1 : 0;
    check(poisoned > 0, name + ": the other ranks' shards are poisoned here");

    ist::detail::mpi::Channel channel(MPI_COMM_WORLD, 60.0);
    ist::detail::mpi::ShardedExchange exchange(
        channel, ist::detail::mpi::package_bounds(ist::parameter_shapes(clean), ist::package_owners(clean, K, true), plan));
    std::vector<Package> served = cut(local, local_state, plan), central = cut(reference, reference_state, plan);
    std::vector<std::vector<ist::Tensor*>> served_tensors;
    for (auto& pkg : served) served_tensors.push_back(pkg.tensors());
    Package mine = ist::extract_package(local, local_state, K, plan[me], true);
    exchange.gather(served_tensors, mine.tensors());
    check(same_bits(mine.tensors(), central[me].tensors()), name + ": the gathered subnet is the central node's cut");

    train_simulated(mine, me);
    exchange.give_back(mine.tensors(), served_tensors);
    for (std::size_t s = 0; s < S; ++s) train_simulated(central[s], s);
    ist::HolderAverage merge_here, merge_central;
    ist::merge_packages(local, local_state, K, merge_here, plan, served);
    ist::merge_packages(reference, reference_state, K, merge_central, plan, central);
    bool same = true;
    const std::vector<ist::Tensor*> want = full_tensors(reference, reference_state);
    for_owned(local, local_state, plan, me, [&](std::size_t j, std::size_t at, std::size_t n) {
        same = same && std::memcmp(full_tensors(local, local_state)[j]->data() + at, want[j]->data() + at,
                                   n * sizeof(float)) == 0;
    });
    check(same, name + ": this rank's merged shard is bit-identical to the central merge");

    const auto& wire = channel.counters();
    const std::uint64_t moved = wire.sent(kShardDown) + wire.received(kShardDown) + wire.sent(kShardUp) + wire.received(kShardUp);
    const ist::RankTraffic formula = ist::sharded_traffic(ist::parameter_shapes(clean), plan, K + 1);
    check(moved == formula.total(me), name + ": MPI moved " + std::to_string(moved) + " bytes at this rank, the formula " +
                                          std::to_string(formula.total(me)));
    if (me == 0)
        std::printf("%s, S = %zu: rank 0 moves %llu bytes sharded (formula), %llu central\n", name.c_str(), S,
                    static_cast<unsigned long long>(moved),
                    static_cast<unsigned long long>(ist::central_traffic(ist::parameter_shapes(clean), plan, K + 1).total(0)));
}

ist::Network small_gcn() {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> edges;
    for (std::uint32_t i = 0; i < 20; ++i) edges.emplace_back(i, (i + 1) % 20);
    const ist::GcnGraph g(ist::Graph::from_edges(20, edges));
    ist::Network net;
    net.add(ist::GraphConv(g, 6, 12, {.seed = 1})).add(ist::LayerNorm()).add(ist::ReLU());
    net.add(ist::GraphConv(g, 12, 8, {.seed = 2})).add(ist::LayerNorm()).add(ist::ReLU());
    net.add(ist::GraphConv(g, 8, 3, {.seed = 3}));
    return net;
}

}  // namespace

int main(int argc, char** argv) {
    ist::MpiEnvironment mpi(argc, argv);
    my_rank = ist::MpiEnvironment::rank();
    try {
        exchange_case("IST", ist::make_mlp({10, {12, 9}, 4, ist::Norm::Batch, 5}), ist::NeuronPartition{});
        exchange_case("ResIST, min depth 2",
                      ist::make_residual_mlp({.inputs = 6, .width = 8, .hidden = 5, .classes = 3, .blocks = 6, .seed = 2}),
                      ist::ResistPartition({.sections = {}, .min_depth = 2}));
        exchange_case("GIST, last hidden kept", small_gcn(), ist::GistPartition({.keep_last_hidden = true}));
    } catch (const std::exception& e) {
        ist::MpiEnvironment::abort(std::string("ist_mpi_shard: uncaught: ") + e.what(), 2);
    }
    std::printf("[rank %d] %d passed, %d failed\n", my_rank, passed, failed);
    return failed ? 1 : 0;
}
