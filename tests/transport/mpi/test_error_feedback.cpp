// Coded updates with error feedback over MPI against a hand-written loop and the threads
// transport (issue 36; tests/exchange/test_package_coding.cpp is the in-process counterpart): over
// 4 rounds each worker receives its weights coded (ToWorker stream), adds a step, and returns
// decode(code(update + residual)) (ToCoordinator stream), keeping residual = (update + residual)
// - decoded on its own rank. The coordinator's weights after every round are bit-identical over
// MPI, over threads and in the loop; every rank's kept residuals equal the loop's.
//
//   mpiexec -np 2 ist_mpi_error_feedback
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include <ist/codec/uniform.hpp>
#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

#include "mpi_check.hpp"

using namespace ist;
using namespace ist::mpi_test;

namespace {

constexpr std::size_t kRows = 3, kCols = 10, kRounds = 4;
constexpr std::uint64_t kSeed = 9;
const Uniform kCodec(3);

/// A package of one tensor that travels coded (the CodedPackage hooks, as WorkerPackage has them).
struct CodedTensor {
    Tensor weights;
    std::array<double, 1> stat{};
    PackageCoding<Uniform> coding;

    std::vector<Tensor*> tensors() { return {&weights}; }
    std::span<double> scalars() { return stat; }
    bool coded() const { return coding.active(); }
    std::size_t coded_tensor_bytes() { return coding.bytes(tensors()); }
    void encode_tensors(std::vector<char>& out) { coding.encode(tensors(), out); }
    void decode_tensors(const char* in) { coding.decode(tensors(), in); }
    void deliver() { coding.deliver(tensors()); }
    void bring_back() { coding.bring_back(tensors()); }
};

std::vector<float> wave(std::size_t n, float phase, float scale) {
    std::vector<float> out(n);
    for (std::size_t k = 0; k < n; ++k) out[k] = scale * std::sin(0.61f * static_cast<float>(k) + phase);
    return out;
}

Tensor as_tensor(const std::vector<float>& values) {
    Tensor t = xt::zeros<float>({kRows, kCols});
    std::copy(values.begin(), values.end(), t.data());
    return t;
}

std::vector<float> flat(const Tensor& t) { return {t.data(), t.data() + t.size()}; }

/// Worker s's initial weights and its local "training" step of a round.
std::vector<float> initial_weights(std::size_t s) { return wave(kRows * kCols, 0.3f * static_cast<float>(s), 1.0f); }
std::vector<float> local_step(std::size_t round, std::size_t s) {
    return wave(kRows * kCols, static_cast<float>(round) + 0.5f * static_cast<float>(s), 0.1f);
}

std::vector<float> code_and_decode(const std::vector<float>& values, CodingRng rng) {
    std::vector<char> bytes;
    kCodec.encode(values, kCols, bytes, rng);
    std::vector<float> out(values.size());
    kCodec.decode(bytes.data(), kCols, out);
    return out;
}

/// Weights and residual of every worker after each round, as the definition says.
struct Trace {
    std::vector<std::vector<std::vector<float>>> weights, residuals;  // [round][worker]
};

Trace hand_written_loop(std::size_t S) {
    Trace trace;
    std::vector<std::vector<float>> weights, residual(S, std::vector<float>(kRows * kCols, 0.0f));
    for (std::size_t s = 0; s < S; ++s) weights.push_back(initial_weights(s));
    for (std::size_t round = 1; round <= kRounds; ++round) {
        for (std::size_t s = 0; s < S; ++s) {
            const std::vector<float> base = code_and_decode(weights[s], coding_stream(kSeed, round, s, Direction::ToWorker));
            const std::vector<float> step = local_step(round, s);
            std::vector<float> update(base.size());
            for (std::size_t k = 0; k < update.size(); ++k) update[k] = ((base[k] + step[k]) - base[k]) + residual[s][k];
            const std::vector<float> decoded = code_and_decode(update, coding_stream(kSeed, round, s, Direction::ToCoordinator));
            for (std::size_t k = 0; k < update.size(); ++k) {
                residual[s][k] = update[k] - decoded[k];
                weights[s][k] = decoded[k] + base[k];
            }
        }
        trace.weights.push_back(weights);
        trace.residuals.push_back(residual);
    }
    return trace;
}

/// The same rounds run by `transport`: the coordinator's weights and this process's kept
/// residuals (workers run elsewhere keep zeros here) after each round.
template <class T>
Trace transported_rounds(T transport, std::size_t S) {
    transport.handshake(S, 0, 0);
    const bool coordinator = transport.is_coordinator();
    Trace trace;
    std::vector<Tensor> weights, kept;
    for (std::size_t s = 0; s < S; ++s) weights.push_back(as_tensor(initial_weights(s)));
    for (std::size_t s = 0; s < S; ++s) kept.push_back(xt::zeros<float>({kRows, kCols}));
    for (std::size_t round = 1; round <= kRounds; ++round) {
        auto extract = [&](std::size_t s) {
            CodedTensor pkg{coordinator ? weights[s] : Tensor(xt::zeros<float>({kRows, kCols})), {}, {}};
            pkg.coding.codec = kCodec;
            pkg.coding.values = CodedValues::Updates;
            pkg.coding.seed = kSeed, pkg.coding.round = round, pkg.coding.worker = s;
            pkg.coding.residual = {kept[s]};  // this rank's: the worker's own when it runs here
            pkg.coding.keep_residual = [&kept, s](const std::vector<Tensor>& r) { kept[s] = r[0]; };
            return pkg;
        };
        auto work = [&](CodedTensor& pkg, Communicator& comm) {
            detail::deliver_in_process(pkg);
            pkg.weights += as_tensor(local_step(round, comm.worker()));
        };
        RoundResult<CodedTensor> result = transport.round(S, extract, work, Replicas::PerRound);
        if (coordinator) {
            const std::vector<std::size_t> returned = result.completed_workers();
            for (std::size_t k = 0; k < returned.size(); ++k) {
                detail::return_in_process(result.packages[k]);
                weights[returned[k]] = result.packages[k].weights;
            }
        }
        trace.weights.emplace_back();
        trace.residuals.emplace_back();
        for (std::size_t s = 0; s < S; ++s) {
            trace.weights.back().push_back(flat(weights[s]));
            trace.residuals.back().push_back(flat(kept[s]));
        }
    }
    return trace;
}

/// Every round's weights (if `weights`: the coordinator holds them) and the residuals of worker
/// `residuals_of` (S: of every worker, all run in this process) against the loop's.
void check_rounds(const Trace& got, const Trace& oracle, std::size_t S, const std::string& over, bool weights,
                  std::size_t residuals_of) {
    for (std::size_t r = 0; r < kRounds; ++r)
        for (std::size_t s = 0; s < S; ++s) {
            const std::string where = over + ", round " + std::to_string(r + 1) + ", worker " + std::to_string(s);
            if (weights) check(got.weights[r][s] == oracle.weights[r][s], where + ": weights = the hand-written loop's");
            if (s == residuals_of || residuals_of == S)
                check(got.residuals[r][s] == oracle.residuals[r][s], where + ": residual = the hand-written loop's");
        }
}

}  // namespace

int main(int argc, char** argv) {
    return run_on_every_rank(argc, argv, "ist_mpi_error_feedback", [](std::size_t S) {
        const Trace oracle = hand_written_loop(S);
        // The residuals must have driven later rounds, or the check would not see them.
        bool some_residual = false;
        for (float v : oracle.residuals.front().back()) some_residual |= v != 0.0f;
        check(some_residual, "q3 leaves a coding error for error feedback to carry");
        // S = np: worker s runs on rank s, so this rank keeps worker my_rank's residuals.
        const Trace mpi = transported_rounds(MpiTransport{}, S);
        check_rounds(mpi, oracle, S, "MPI", my_rank == 0, static_cast<std::size_t>(my_rank));
        if (my_rank == 0) check_rounds(transported_rounds(ThreadsTransport{}, S), oracle, S, "threads", true, S);
    });
}
