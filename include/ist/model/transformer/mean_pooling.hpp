#pragma once
// Mean pooling: one row per sequence, the mean of its token rows (padding left out).
#include <span>
#include <string>

#include "ist/model/layer.hpp"
#include "ist/model/transformer/sequence_mask.hpp"

namespace ist {

/// (B * T) x width token rows -> B x width: each sequence's mean over its real tokens (a
/// sequence of padding only gives zeros).
class MeanPooling {
public:
    static constexpr bool opens_dimension = false;

    void set_sequences(const SequenceMask& mask) { mask_ = mask; }

    void forward(const Matrix& x, Matrix& y, Mode) {
        mask_.check_rows("MeanPooling", x.shape()[0]);
        const std::size_t length = mask_.length, width = x.shape()[1];
        y.resize({mask_.sequences(), width});
        y.fill(0.0f);
        for (std::size_t b = 0; b < mask_.sequences(); ++b) {
            float* out = y.data() + b * width;
            for (std::size_t t = 0; t < length; ++t) {
                if (!mask_.real[b * length + t]) continue;
                const float* in = x.data() + (b * length + t) * width;
                for (std::size_t j = 0; j < width; ++j) out[j] += in[j];
            }
            const float inv = 1.0f / static_cast<float>(std::max<std::size_t>(tokens(b), 1));
            for (std::size_t j = 0; j < width; ++j) out[j] *= inv;
        }
    }

    void backward(const Matrix&, const Matrix&, const Matrix& dy, Matrix* dx) {
        if (!dx) return;
        const std::size_t length = mask_.length, width = dy.shape()[1];
        dx->resize({mask_.real.size(), width});
        for (std::size_t b = 0; b < mask_.sequences(); ++b) {
            const float inv = 1.0f / static_cast<float>(std::max<std::size_t>(tokens(b), 1));
            const float* g = dy.data() + b * width;
            for (std::size_t t = 0; t < length; ++t) {
                float* out = dx->data() + (b * length + t) * width;
                const float weight = mask_.real[b * length + t] ? inv : 0.0f;
                for (std::size_t j = 0; j < width; ++j) out[j] = weight * g[j];
            }
        }
    }

    std::span<Parameter> parameters() { return {}; }
    std::span<const Parameter> parameters() const { return {}; }

private:
    std::size_t tokens(std::size_t sequence) const {
        std::size_t n = 0;
        for (std::size_t t = 0; t < mask_.length; ++t) n += mask_.real[sequence * mask_.length + t];
        return n;
    }

    SequenceMask mask_;
};

}  // namespace ist
