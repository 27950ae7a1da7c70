#pragma once
// Finite-difference checks for the transformer's layers (used outside a Network: they work on
// token rows and need a SequenceMask) and for whole Transformer models.
#include <doctest/doctest.h>

#include "helpers.hpp"

namespace ist::test {

/// The closest of several central differences of `loss` in `value` to `exact` (a step may cross
/// a kink of the loss; a wrong gradient disagrees at every step size).
template <class Loss>
double closest_difference(float& value, double exact, Loss&& loss) {
    const float steps[] = {4e-3f, 1e-3f, 3e-4f};
    double best = 1e9, numeric = 0.0;
    for (float h : steps) {
        const float saved = value;
        value = saved + h;
        const double up = loss();
        value = saved - h;
        const double down = loss();
        value = saved;
        const double estimate = (up - down) / (2.0 * h);
        if (std::abs(exact - estimate) < best) best = std::abs(exact - estimate), numeric = estimate;
    }
    return numeric;
}

inline void check_close(double exact, double numeric, const std::string& what) {
    INFO(what << ": numeric " << numeric << " analytic " << exact);
    CHECK(std::abs(exact - numeric) <= 2e-3 + 2e-2 * std::abs(numeric));
}

/// Checks every parameter gradient and (with `check_input`) dL/dx of `layer` on input `x` for the
/// loss sum(y o weights), weights a fixed random matrix.
template <Layer L>
void check_layer_gradients(L layer, Matrix x, bool check_input, std::uint64_t seed) {
    Matrix y, dx;
    layer.forward(x, y, Mode::Train);
    const Matrix weights = random_matrix(y.shape()[0], y.shape()[1], seed);
    layer.backward(x, y, weights, check_input ? &dx : nullptr);
    std::vector<Tensor> analytic;
    for (const Parameter& p : layer.parameters()) analytic.push_back(p.grad);
    auto loss = [&] {
        Matrix out;
        layer.forward(x, out, Mode::Train);
        double sum = 0.0;
        for (std::size_t i = 0; i < out.size(); ++i) sum += static_cast<double>(out.data()[i]) * weights.data()[i];
        return sum;
    };
    for (std::size_t i = 0; i < layer.parameters().size(); ++i) {
        Tensor& w = layer.parameters()[i].value;
        REQUIRE(analytic[i].shape() == w.shape());
        for (std::size_t k = 0; k < w.size(); ++k)
            check_close(analytic[i].data()[k], closest_difference(w.data()[k], analytic[i].data()[k], loss),
                        layer.parameters()[i].name + " entry " + std::to_string(k));
    }
    if (!check_input) return;
    REQUIRE(dx.shape() == x.shape());
    for (std::size_t k = 0; k < x.size(); ++k)
        check_close(dx.data()[k], closest_difference(x.data()[k], dx.data()[k], loss), "input entry " + std::to_string(k));
}

/// Checks every parameter gradient of a model's loss_and_gradient on `tokens`, `labels`.
template <Model M>
void check_model_gradients(M model, const Matrix& tokens, const Labels& labels) {
    model.loss_and_gradient(tokens, labels);
    std::vector<Tensor> analytic;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) analytic.push_back(model.parameter(i).grad);
    auto loss = [&] { return static_cast<double>(model.loss_and_gradient(tokens, labels)); };
    for (std::size_t i = 0; i < model.parameter_count(); ++i) {
        Tensor& w = model.parameter(i).value;
        REQUIRE(analytic[i].shape() == w.shape());
        for (std::size_t k = 0; k < w.size(); ++k)
            check_close(analytic[i].data()[k], closest_difference(w.data()[k], analytic[i].data()[k], loss),
                        model.parameter(i).name + " #" + std::to_string(i) + " entry " + std::to_string(k));
    }
}

/// Token ids in [1, vocabulary) with each row's last `padding[row]` positions padded.
inline Matrix token_batch(std::size_t rows, std::size_t length, std::size_t vocabulary,
                          const std::vector<std::size_t>& padding, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Matrix ids = Matrix::from_shape({rows, length});
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t t = 0; t < length; ++t)
            ids(r, t) = t + padding[r] >= length ? 0.0f : static_cast<float>(1 + rng() % (vocabulary - 1));
    return ids;
}

}  // namespace ist::test
