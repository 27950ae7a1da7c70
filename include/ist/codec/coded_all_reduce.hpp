#pragma once
// Data parallel's gradient all-reduce through a lossy Codec (quantised communication as in QSGD,
// Alistarh et al. 2017; error feedback as in EF-SGD, Karimireddy et al. 2019). Each worker codes
// its gradient (plus, with error feedback, what its last coding lost), the decoded gradients are
// averaged, and the mean travels back coded too. The mean's coding draws from one stream every
// worker shares, so every replica decodes the same bits and the replicas stay identical.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "ist/codec/codec.hpp"
#include "ist/core/error.hpp"
#include "ist/core/tensor.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail {

/// The rounding streams of one gradient step: a worker's own for its contribution, and one that
/// all workers share for the mean. Pure functions of (seed, step, worker), like coding_stream.
inline CodingRng gradient_stream(std::uint64_t seed, std::uint64_t step, std::uint64_t worker, Direction direction) {
    constexpr std::uint64_t kGradientStreams = 0x6AD1E47ull;  // apart from the subnet exchange's streams
    return coding_stream(derive_seed(seed, kGradientStreams), step, worker, direction);
}

/// Throws TrainingError if `gradient` holds a value no codec can encode (NaN, infinity).
inline void require_codable_gradient(std::span<const float> gradient, std::size_t step, std::size_t worker,
                                     std::size_t parameter, const std::string& codec) {
    bool finite = true;
    for (float v : gradient) finite &= std::abs(v) <= 3.4028235e38f;  // false for NaN and infinity
    if (!finite)
        throw TrainingError("step " + std::to_string(step) + ", worker " + std::to_string(worker) + ": the gradient of "
                            "parameter " + std::to_string(parameter) + " holds a non-finite value, which codec " +
                            codec + " cannot encode; lower the learning rate");
}

/// `values` replaced by its coding decoded (the bytes `scratch` holds afterwards).
template <Codec C>
void code_in_place(const C& codec, std::span<float> values, std::size_t cols, CodingRng& rng, std::vector<char>& scratch) {
    scratch.clear();
    codec.encode(std::span<const float>(values.data(), values.size()), cols, scratch, rng);
    codec.decode(scratch.data(), cols, values);
}

/// Worker `comm.worker()`'s all-reduce of the gradients of `params` at global step `step`.
/// `residuals` (one per parameter, full size) is the worker's error feedback, or null.
/// The transport counts each gradient's coded bytes each way (codec.coded_bytes).
template <Codec C>
void coded_allreduce_mean(const C& codec, std::span<Parameter* const> params, std::vector<Tensor>* residuals,
                          std::uint64_t seed, std::uint64_t step, Communicator& comm) {
    const std::size_t s = comm.worker();
    CodingRng up = gradient_stream(seed, step, s, Direction::ToCoordinator);
    CodingRng down = gradient_stream(seed, step, comm.workers(), Direction::ToWorker);  // the same on every worker
    std::vector<char> scratch;
    for (std::size_t i = 0; i < params.size(); ++i) {
        Tensor& g = params[i]->grad;
        const auto [rows, cols] = row_shape(g);
        // Element loops, not xtensor's compound assignment, which may give g new storage.
        const std::span<float> values(g.data(), g.size());
        std::span<float> residual;
        if (residuals) {
            Tensor& r = residuals->at(i);
            require(r.size() == g.size(), "coded all-reduce: error-feedback residual of the wrong size");
            residual = std::span<float>(r.data(), r.size());
            for (std::size_t k = 0; k < values.size(); ++k) values[k] += residual[k];
        }
        require_codable_gradient(values, step, s, i, codec.name());
        if (!residual.empty()) std::copy(values.begin(), values.end(), residual.begin());
        code_in_place(codec, values, cols, up, scratch);
        for (std::size_t k = 0; k < residual.size(); ++k) residual[k] -= values[k];  // what coding lost: sent next step
        comm.allreduce_mean(values, codec.coded_bytes(rows, cols));
        code_in_place(codec, values, cols, down, scratch);
    }
}

}  // namespace ist::detail
