#pragma once
// Inverted dropout, which the GIST reference uses (Wolfe et al. 2021: 0.5 on whole graphs, 0.2
// with Cluster-GCN batches).
#include <algorithm>
#include <bit>
#include <cstdint>
#include <span>
#include <string>

#include <xtensor/xtensor.hpp>

#include "ist/core/error.hpp"
#include "ist/detail/random.hpp"
#include "ist/detail/seed.hpp"
#include "ist/model/layer.hpp"

namespace ist {

/// In training, zeroes each entry with probability `rate` and scales the survivors by
/// 1 / (1 - rate), so evaluation (which passes x through unchanged) sees the same expected
/// activations.
///
/// The mask of a pass is drawn (detail/random.hpp) from an engine seeded with the layer's seed,
/// the pass's number in this copy and a hash of the batch's values. Runs therefore reproduce bit
/// for bit, and yet every worker, round and local step draws its own mask without the trainer
/// handing layers a stream: workers differ in their batches or, with the same batch, in the
/// subnet they hold, and each round's subnets are fresh copies whose inputs have moved on. (Two
/// workers with identical parameters and identical batches, as local SGD with whole-set batches
/// has in its first step, draw identical masks.)
class Dropout {
public:
    static constexpr bool opens_dimension = false;

    explicit Dropout(float rate, std::uint64_t seed = 0) : rate_(rate), seed_(seed) {
        detail::require(rate >= 0.0f && rate < 1.0f, "Dropout: rate must be in [0, 1), got " + std::to_string(rate));
    }

    void forward(const Matrix& x, Matrix& y, Mode mode) {
        masked_ = mode == Mode::Train && rate_ > 0.0f;
        if (y.shape() != x.shape()) y.resize(x.shape());
        if (!masked_) {
            std::copy(x.begin(), x.end(), y.begin());
            return;
        }
        if (!(hold_ && mask_.shape() == x.shape())) draw_mask(x);
        const float* m = mask_.data();
        const float* in = x.data();
        float* out = y.data();
        for (std::size_t i = 0; i < x.size(); ++i) out[i] = in[i] * m[i];
    }

    void backward(const Matrix&, const Matrix&, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        if (dx->shape() != dy.shape()) dx->resize(dy.shape());
        if (!masked_) {
            std::copy(dy.begin(), dy.end(), dx->begin());
            return;
        }
        const float* m = mask_.data();
        const float* g = dy.data();
        float* out = dx->data();
        for (std::size_t i = 0; i < dy.size(); ++i) out[i] = g[i] * m[i];
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

    float rate() const { return rate_; }
    std::uint64_t seed() const { return seed_; }
    /// Keeps the last mask for every following pass of the same shape (finite-difference checks
    /// need the same mask on every perturbed input).
    void hold_mask(bool hold) { hold_ = hold; }
    /// The last mask: 0 or 1 / (1 - rate) per entry.
    const Matrix& mask() const { return mask_; }

private:
    void draw_mask(const Matrix& x) {
        std::uint64_t content = 0xcbf29ce484222325ull;  // FNV-1a over the values' bit patterns
        for (const float v : x) content = (content ^ std::bit_cast<std::uint32_t>(v)) * 0x100000001b3ull;
        detail::RandomEngine rng(detail::derive_seed(detail::derive_seed(seed_, passes_++), content));
        const float scale = 1.0f / (1.0f - rate_);
        if (mask_.shape() != x.shape()) mask_.resize(x.shape());
        for (float& m : mask_) m = detail::uniform01<float>(rng) < rate_ ? 0.0f : scale;
    }

    float rate_;
    std::uint64_t seed_;
    std::uint64_t passes_ = 0;  // training passes of this copy, part of each mask's seed
    bool hold_ = false, masked_ = false;
    Matrix mask_;
};

}  // namespace ist
