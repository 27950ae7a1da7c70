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

}  // namespace

TEST_CASE("package coding: coded updates with error feedback match a hand-written loop over 4 rounds") {
    const std::size_t rows = 3, cols = 10, worker = 2;
    const std::uint64_t seed = 9;
    const Uniform codec(3);
    Tensor weights = toy_tensor(rows, cols, 0.0f);      // the coordinator's
    std::vector<Tensor> kept{xt::zeros<float>({rows, cols})};  // the worker's residual between rounds
    std::vector<float> oracle_weights = flat(weights), oracle_residual(rows * cols, 0.0f);
    for (std::uint64_t round = 1; round <= 4; ++round) {
        PackageCoding<Uniform> coding;
        coding.codec = codec;
        coding.values = CodedValues::Updates;
        coding.seed = seed, coding.round = round, coding.worker = worker;
        coding.residual = kept;
        coding.keep_residual = [&](const std::vector<Tensor>& r) { kept = r; };
        // The library: out to the worker, a local "training" step, back to the coordinator.
        Tensor package = weights;
        Tensor* pointer = &package;
        coding.deliver(std::span<Tensor* const>(&pointer, 1));
        const Tensor step = toy_tensor(rows, cols, static_cast<float>(round)) * 0.1f;
        package += step;
        coding.bring_back(std::span<Tensor* const>(&pointer, 1));
        weights = package;
        // The oracle.
        CodingRng down = coding_stream(seed, round, worker, Direction::ToWorker);
        const std::vector<float> base = code_and_decode(codec, oracle_weights, cols, down);
        std::vector<float> update(base.size());
        for (std::size_t k = 0; k < update.size(); ++k)
            update[k] = ((base[k] + step.data()[k]) - base[k]) + oracle_residual[k];
        CodingRng up = coding_stream(seed, round, worker, Direction::ToCoordinator);
        const std::vector<float> decoded = code_and_decode(codec, update, cols, up);
        for (std::size_t k = 0; k < update.size(); ++k) {
            oracle_residual[k] = update[k] - decoded[k];
            oracle_weights[k] = decoded[k] + base[k];
        }
        CHECK_MESSAGE(flat(weights) == oracle_weights, "round " << round);
        CHECK_MESSAGE(flat(kept[0]) == oracle_residual, "round " << round);
    }
}
