#pragma once
// Data parallel's gradient all-reduce through a lossy Codec (quantised communication as in QSGD,
// Alistarh et al. 2017; error feedback as in EF-SGD, Karimireddy et al. 2019). Each worker codes
// its gradient (plus, with error feedback, what its last coding lost) and sends the bytes; the
// coordinator decodes and averages them and sends the mean back coded, drawn from a stream every
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
#include "ist/transport/reduction_coding.hpp"
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

/// A codec's side of one parameter's coded all-reduce (what Communicator::allreduce_coded_mean
/// needs of it): messages of a rows x cols tensor, the mean coded from the shared stream `mean_stream`.
template <Codec C>
class GradientCoding final : public ReductionCoding {
public:
    GradientCoding(const C& codec, RowShape shape, CodingRng& mean_stream)
        : codec_(codec), shape_(shape), mean_stream_(mean_stream) {}

    std::size_t message_bytes() const override { return codec_.coded_bytes(shape_.rows, shape_.cols); }
    void decode(std::span<const char> message, std::span<float> out) const override {
        require(message.size() == message_bytes() && out.size() == shape_.rows * shape_.cols,
                "GradientCoding: a message or tensor of the wrong size");
        codec_.decode(message.data(), shape_.cols, out);
    }
    void encode_mean(std::span<const float> mean, std::vector<char>& message) override {
        message.clear();
        codec_.encode(mean, shape_.cols, message, mean_stream_);
    }

private:
    const C& codec_;
    RowShape shape_;
    CodingRng& mean_stream_;
};

/// Adds `residual` (error feedback: what the last coding lost) to `values` before they are coded.
inline void add_residual(std::span<float> values, std::span<const float> residual) {
    for (std::size_t k = 0; k < residual.size(); ++k) values[k] += residual[k];
}

/// Worker `comm.worker()`'s all-reduce of the gradients of `params` at global step `step`.
/// `residuals` (one per parameter, full size) is the worker's error feedback, or null.
/// Each gradient travels as its coding, codec.coded_bytes each way (Communicator::allreduce_coded_mean).
template <Codec C>
void coded_allreduce_mean(const C& codec, std::span<Parameter* const> params, std::vector<Tensor>* residuals,
                          std::uint64_t seed, std::uint64_t step, Communicator& comm) {
    const std::size_t s = comm.worker();
    CodingRng up = gradient_stream(seed, step, s, Direction::ToCoordinator);
    // The same on every worker; only the coordinator's draws (it codes the mean).
    CodingRng down = gradient_stream(seed, step, comm.workers(), Direction::ToWorker);
    std::vector<char> contribution;
    for (std::size_t i = 0; i < params.size(); ++i) {
        Tensor& g = params[i]->grad;
        const RowShape shape = row_shape(g);
        // Element loops, not xtensor's compound assignment, which may give g new storage.
        const std::span<float> values(g.data(), g.size());
        std::span<float> residual;
        if (residuals) {
            Tensor& r = residuals->at(i);
            require(r.size() == g.size(), "coded all-reduce: error-feedback residual of the wrong size");
            residual = std::span<float>(r.data(), r.size());
            add_residual(values, residual);
        }
        require_codable_gradient(values, step, s, i, codec.name());
        contribution.clear();
        codec.encode(std::span<const float>(values), shape.cols, contribution, up);
        if (!residual.empty()) {  // what coding lost is sent next step
            std::copy(values.begin(), values.end(), residual.begin());
            codec.decode(contribution.data(), shape.cols, values);
            for (std::size_t k = 0; k < residual.size(); ++k) residual[k] -= values[k];
        }
        GradientCoding<C> coding(codec, shape, down);
        comm.allreduce_coded_mean(contribution, values, coding);
    }
}

}  // namespace ist::detail
