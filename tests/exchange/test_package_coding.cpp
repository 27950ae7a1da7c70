// A coded package's two journeys with error feedback against a hand-written loop (issue 36): over
// four rounds the coordinator gets base + decode(code(update + residual)), and the worker keeps
// residual = (update + residual) - decoded, with the worker's weights coded from the round's
// ToWorker stream and its update from the ToCoordinator stream.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <ist/codec/uniform.hpp>
#include <ist/exchange/package_coding.hpp>

using namespace ist;

namespace {

Tensor toy_tensor(std::size_t rows, std::size_t cols, float phase) {
    Tensor t = Tensor::from_shape({rows, cols});
    for (std::size_t k = 0; k < t.size(); ++k) t.data()[k] = std::sin(0.61f * static_cast<float>(k) + phase);
    return t;
}

std::vector<float> code_and_decode(const Uniform& codec, const std::vector<float>& values, std::size_t cols, CodingRng& rng) {
    std::vector<char> bytes;
    codec.encode(values, cols, bytes, rng);
    std::vector<float> out(values.size());
    codec.decode(bytes.data(), cols, out);
    return out;
}

std::vector<float> flat(const Tensor& t) { return {t.data(), t.data() + t.size()}; }

/// The oracle's round: what the worker receives (`sent` coded with the ToWorker stream), its
/// update (its trained values minus that, plus `residual`) and the update decoded (ToCoordinator).
struct OracleRound {
    std::vector<float> received, update, decoded;
};
OracleRound oracle_round(const Uniform& codec, std::uint64_t seed, std::uint64_t round, std::uint64_t worker,
                         const std::vector<float>& sent, std::size_t cols, const Tensor& step,
                         const std::vector<float>& residual) {
    OracleRound o;
    CodingRng down = coding_stream(seed, round, worker, Direction::ToWorker);
    o.received = code_and_decode(codec, sent, cols, down);
    o.update.resize(sent.size());
    for (std::size_t k = 0; k < sent.size(); ++k)
        o.update[k] = ((o.received[k] + step.data()[k]) - o.received[k]) + residual[k];
    CodingRng up = coding_stream(seed, round, worker, Direction::ToCoordinator);
    o.decoded = code_and_decode(codec, o.update, cols, up);
    return o;
}

/// A package's coding for updates in `round`, keeping its residual in `kept` if given.
PackageCoding<Uniform> updates_coding(const Uniform& codec, std::uint64_t seed, std::uint64_t round,
                                      std::uint64_t worker, std::vector<Tensor>* kept) {
    PackageCoding<Uniform> coding;
    coding.codec = codec;
    coding.values = CodedValues::Updates;
    coding.seed = seed, coding.round = round, coding.worker = worker;
    if (kept) {
        coding.residual = *kept;
        coding.keep_residual = [kept](const std::vector<Tensor>& r) { *kept = r; };
    }
    return coding;
}

/// The library's round: `weights` out to the worker, a local "training" step, back to the
/// coordinator; returns what the coordinator then holds.
Tensor library_round(PackageCoding<Uniform>& coding, const Tensor& weights, const Tensor& step) {
    Tensor package = weights;
    Tensor* pointer = &package;
    coding.deliver(std::span<Tensor* const>(&pointer, 1));
    package += step;
    coding.bring_back(std::span<Tensor* const>(&pointer, 1));
    return package;
}

}  // namespace

TEST_CASE("package coding: coded updates with error feedback match a hand-written loop over 4 rounds") {
    const std::size_t rows = 3, cols = 10, worker = 2;
    const std::uint64_t seed = 9;
    const Uniform codec(3);
    Tensor weights = toy_tensor(rows, cols, 0.0f);      // the coordinator's
    std::vector<Tensor> kept{xt::zeros<float>({rows, cols})};  // the worker's residual between rounds
    std::vector<float> oracle_weights = flat(weights), oracle_residual(rows * cols, 0.0f);
    for (std::uint64_t round = 1; round <= 4; ++round) {
        PackageCoding<Uniform> coding = updates_coding(codec, seed, round, worker, &kept);
        const Tensor step = toy_tensor(rows, cols, static_cast<float>(round)) * 0.1f;
        weights = library_round(coding, weights, step);
        const OracleRound o = oracle_round(codec, seed, round, worker, oracle_weights, cols, step, oracle_residual);
        for (std::size_t k = 0; k < o.update.size(); ++k) {
            oracle_residual[k] = o.update[k] - o.decoded[k];
            oracle_weights[k] = o.decoded[k] + o.received[k];
        }
        CHECK_MESSAGE(flat(weights) == oracle_weights, "round " << round);
        CHECK_MESSAGE(flat(kept[0]) == oracle_residual, "round " << round);
    }
}

TEST_CASE("package coding: a master copy: the coordinator adds decoded updates to its fp32 values, over 4 rounds") {
    // The coordinator keeps m (fp32); each round the worker receives d = decode(code(m)), trains to
    // d + step, and sends u = step (+ residual); the coordinator sets m = m + decode(code(u)), so
    // the downlink's rounding m - d never enters m. Without the copy it would be d + decode(...).
    // Per tensor and per row, stochastic and nearest, with and without error feedback.
    const std::size_t rows = 3, cols = 10, worker = 1;
    const std::uint64_t seed = 4;
    for (const Uniform& codec : {Uniform(3, Rounding::Stochastic, Scaling::PerTensor), Uniform(4, Rounding::Nearest),
                                 Uniform(2, Rounding::Nearest, Scaling::PerTensor)})
        for (bool error_feedback : {false, true}) {
            Tensor weights = toy_tensor(rows, cols, 0.3f);
            std::vector<Tensor> kept{xt::zeros<float>({rows, cols})};
            std::vector<float> master = flat(weights), residual(rows * cols, 0.0f);
            for (std::uint64_t round = 1; round <= 4; ++round) {
                PackageCoding<Uniform> coding = updates_coding(codec, seed, round, worker, error_feedback ? &kept : nullptr);
                coding.master_copy = true;
                const Tensor step = toy_tensor(rows, cols, static_cast<float>(round)) * 0.2f;
                weights = library_round(coding, weights, step);
                const OracleRound o = oracle_round(codec, seed, round, worker, master, cols, step, residual);
                bool rounding_entered = false;  // with the decoded downlink as base, m would differ
                for (std::size_t k = 0; k < o.update.size(); ++k) {
                    if (error_feedback) residual[k] = o.update[k] - o.decoded[k];
                    rounding_entered |= o.decoded[k] + o.received[k] != o.decoded[k] + master[k];
                    master[k] = o.decoded[k] + master[k];
                }
                CHECK_MESSAGE(flat(weights) == master, codec.name() << ", round " << round << ", ef " << error_feedback);
                CHECK(rounding_entered);
                if (error_feedback) CHECK(flat(kept[0]) == residual);
            }
        }
}
