#pragma once
// How a package's tensors travel when the exchange is coded (a lossy Codec, see ist/codec): both
// directions, weights or updates, with optional error feedback (quantised exchange as in
// ResIST, Dun et al. 2022; error feedback as in EF-SGD, Karimireddy et al. 2019).
//
// A package makes two journeys: coordinator -> worker (always its weights), then worker ->
// coordinator (its weights, or its update: what it returns minus what it received). Each journey
// is encode on the sender, decode on the receiver. The sender of the first journey decodes its
// own bytes too, so both ends hold exactly what the worker received (the base of an update).
// With error feedback the worker adds the residual of its last coding to the update it codes.
// With a master copy the coordinator adds a decoded update to the values it had before coding
// them for the worker, so the downlink's rounding never enters the model.
#include <cmath>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ist/codec/codec.hpp"
#include "ist/core/error.hpp"
#include "ist/core/trainer_options.hpp"

namespace ist {

/// A package's coding state (one per package, set by the trainer when it cuts the package).
template <Codec C>
struct PackageCoding {
    C codec{};
    CodedValues values = CodedValues::Weights;
    std::uint64_t seed = 0, round = 0, worker = 0;
    bool master_copy = false;  ///< Updates only: the coordinator's base is its fp32 values (master_)
    /// Error feedback: this worker's residuals sliced to the package's tensors, and where they
    /// go back to after the update is coded (empty: no error feedback).
    std::vector<Tensor> residual;
    std::function<void(const std::vector<Tensor>&)> keep_residual;

    bool active() const { return !codec.exact(); }

    /// Exact bytes of `tensors` coded (the same both ways: same shapes).
    std::size_t bytes(std::span<Tensor* const> tensors) const {
        std::size_t n = 0;
        for (const Tensor* t : tensors) {
            const auto [rows, cols] = detail::row_shape(*t);
            n += codec.coded_bytes(rows, cols);
        }
        return n;
    }

    /// The sender's side of the next journey: appends `tensors` coded to `out`.
    void encode(std::span<Tensor* const> tensors, std::vector<char>& out) {
        if (leg_ == Direction::ToWorker) {
            if (master_copy && values == CodedValues::Updates)
                for (const Tensor* t : tensors) master_.push_back(*t);  // only the sender (coordinator) gets here
            encode_list(tensors, out, Direction::ToWorker);
            received(tensors, out.data() + out.size() - bytes(tensors));  // the sender keeps what the worker gets
            return;
        }
        if (values == CodedValues::Weights) return encode_list(tensors, out, Direction::ToCoordinator);
        std::vector<Tensor> update(tensors.size());
        std::vector<Tensor*> pointers;
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            update[i] = *tensors[i] - base_[i];
            if (!residual.empty()) update[i] += residual[i];
            pointers.push_back(&update[i]);
        }
        const std::size_t start = out.size();
        encode_list(pointers, out, Direction::ToCoordinator);
        if (keep_residual) keep_coding_error(update, out.data() + start);
    }

    /// The receiver's side of the next journey: overwrites `tensors` from their coding at `in`.
    void decode(std::span<Tensor* const> tensors, const char* in) {
        if (leg_ == Direction::ToWorker) return received(tensors, in);
        returned_ = true;
        decode_list(tensors, in);
        if (values != CodedValues::Updates) return;
        const std::vector<Tensor>& base = master_copy ? master_ : base_;
        for (std::size_t i = 0; i < tensors.size(); ++i) *tensors[i] += base[i];
    }

    /// The first journey, in-process (no bytes moved it): `tensors` as the worker receives them.
    /// Nothing happens if they already arrived (decoded from a message).
    void deliver(std::span<Tensor* const> tensors) {
        if (leg_ != Direction::ToWorker) return;
        std::vector<char> bytes;
        bytes.reserve(this->bytes(tensors));
        encode(tensors, bytes);  // the sender keeps what the worker gets: decoded in place
    }

    /// The way back, in-process: `tensors` as the coordinator decodes them. Nothing happens if
    /// they came back as a message already (decoded by decode()).
    void bring_back(std::span<Tensor* const> tensors) {
        if (leg_ != Direction::ToCoordinator || returned_) return;
        std::vector<char> bytes;
        bytes.reserve(this->bytes(tensors));
        encode(tensors, bytes);
        decode(tensors, bytes.data());
    }

private:
    /// The worker's first message arrived (or was sent): decode it and remember the base.
    void received(std::span<Tensor* const> tensors, const char* in) {
        decode_list(tensors, in);
        if (values == CodedValues::Updates)
            for (Tensor* t : tensors) base_.push_back(*t);
        leg_ = Direction::ToCoordinator;
    }

    void encode_list(std::span<Tensor* const> tensors, std::vector<char>& out, Direction direction) const {
        CodingRng rng = coding_stream(seed, round, worker, direction);
        for (std::size_t i = 0; i < tensors.size(); ++i) {
            const Tensor& t = *tensors[i];
            require_finite(t, i);
            codec.encode(std::span<const float>(t.data(), t.size()), detail::row_shape(t).cols, out, rng);
        }
    }

    void decode_list(std::span<Tensor* const> tensors, const char* in) const {
        for (Tensor* t : tensors) {
            const auto [rows, cols] = detail::row_shape(*t);
            codec.decode(in, cols, std::span<float>(t->data(), t->size()));
            in += codec.coded_bytes(rows, cols);
        }
    }

    /// Error feedback: what the coding lost of `update` (update - decoded) is added next time.
    void keep_coding_error(std::vector<Tensor>& update, const char* coded) {
        std::vector<Tensor> decoded(update);
        std::vector<Tensor*> pointers;
        for (Tensor& t : decoded) pointers.push_back(&t);
        decode_list(pointers, coded);
        for (std::size_t i = 0; i < update.size(); ++i) residual[i] = update[i] - decoded[i];
        keep_residual(residual);
    }

public:
    /// Throws TrainingError naming the worker if `tensors` hold a value no codec can encode (NaN,
    /// infinity); the trainer checks before a worker's package leaves, the encoder again.
    void check_encodable(std::span<Tensor* const> tensors) const {
        for (std::size_t i = 0; i < tensors.size(); ++i) require_finite(*tensors[i], i);
    }

private:
    void require_finite(const Tensor& t, std::size_t index) const {
        bool finite = true;
        for (float v : t) finite &= std::abs(v) <= 3.4028235e38f;  // false for NaN and infinity
        if (!finite)
            throw TrainingError("round " + std::to_string(round) + ", worker " + std::to_string(worker) + ": tensor " +
                                std::to_string(index) + " holds a non-finite value, which codec " + codec.name() +
                                " cannot encode; lower the learning rate");
    }

    Direction leg_ = Direction::ToWorker;  ///< the next journey
    bool returned_ = false;                ///< the way back is over: the coordinator holds the decoded values
    std::vector<Tensor> base_;             ///< what the worker received (Updates only)
    std::vector<Tensor> master_;           ///< the coordinator's values before coding (master_copy only)
};

}  // namespace ist
