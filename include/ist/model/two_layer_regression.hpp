#pragma once
// The two-layer ReLU regression network of the over-parameterised analyses (Du et al. 2019; the
// masked-neuron theory of Liao & Kyrillidis 2022, on the talk's slides):
//
//     f(W, x) = (1 / sqrt(m)) * sum_{r = 1..m} a_r relu(<w_r, x>)
//
// with m hidden neurons, output signs a_r drawn once from {-1, +1} and never trained, and only
// the first layer W (m x d, rows w_r ~ N(0, kappa^2 I)) trained, on squared error. IST cuts the
// hidden neurons: a subnet holds its rows of W and their signs and keeps the full model's
// 1 / sqrt(m); with scale_activations its output is multiplied by m / held (an unbiased estimate
// of the full output, the masked surrogate scaled by the inverse keep rate).
//
// It trains on a RegressionSet (real targets). Computed with plain loops, accumulated in double in
// a fixed order, so it gives the same bits under every GEMM backend and thread count.
#include <array>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "ist/core/dimension.hpp"
#include "ist/core/error.hpp"
#include "ist/core/plan.hpp"
#include "ist/core/tensor.hpp"
#include "ist/detail/gather.hpp"
#include "ist/detail/random.hpp"
#include "ist/model/squared_error.hpp"

namespace ist {

struct TwoLayerRegressionShape {
    std::size_t inputs = 0;  ///< d
    std::size_t hidden = 0;  ///< m
    float init_sd = 1.0f;    ///< kappa: each entry of W is N(0, kappa^2)
};

class TwoLayerRegression {
public:
    /// W and the signs a are drawn from `seed`.
    explicit TwoLayerRegression(TwoLayerRegressionShape shape, std::uint64_t seed = 0)
        : dims_(std::make_shared<DimensionTable>(DimensionTable{
              features_dimension("input", shape.inputs, false), features_dimension("hidden", shape.hidden, true),
              features_dimension("output", 1, false)})) {
        detail::require(shape.inputs > 0 && shape.hidden > 0,
                        "TwoLayerRegression: needs at least one input and one hidden neuron, got d = " +
                            std::to_string(shape.inputs) + ", m = " + std::to_string(shape.hidden));
        detail::require(shape.init_sd > 0.0f && std::isfinite(shape.init_sd),
                        "TwoLayerRegression: init_sd (kappa) must be positive, got " + std::to_string(shape.init_sd));
        detail::RandomEngine rng(seed);
        weight_.name = "weight";
        weight_.axes = {Axis::Out, Axis::In};
        weight_.value = Tensor::from_shape({shape.hidden, shape.inputs});
        for (float& w : weight_.value) w = static_cast<float>(detail::normal(rng, 0.0, shape.init_sd));
        weight_.grad = xt::zeros<float>(weight_.value.shape());
        signs_ = Tensor::from_shape({shape.hidden});
        for (float& a : signs_) a = detail::bernoulli(rng, 0.5) ? 1.0f : -1.0f;
        output_scale_ = 1.0 / std::sqrt(static_cast<double>(shape.hidden));
    }

    const DimensionTable& dimensions() const { return *dims_; }
    std::size_t parameter_count() const { return 1; }
    Parameter& parameter(std::size_t i) { return check_index(i), weight_; }
    const Parameter& parameter(std::size_t i) const { return check_index(i), weight_; }
    /// W: hidden x input.
    std::span<const DimId> parameter_dims(std::size_t i) const {
        static const std::array<DimId, 2> axes{1, 0};
        return check_index(i), std::span<const DimId>(axes);
    }

    /// The fixed output signs a_r (one per held neuron).
    const Tensor& output_signs() const { return signs_; }
    /// What the sum over neurons is multiplied by: 1 / sqrt(m) of the full model (times m / held
    /// for a subnet cut with scale_activations).
    double output_scale() const { return output_scale_; }

    /// The network holding only the plan's hidden neurons (their rows of W and their signs).
    TwoLayerRegression subnet(const WorkerPlan& plan, bool scale_activations = false) const {
        detail::require(plan.dims.size() == 3, "TwoLayerRegression::subnet: plan has " + std::to_string(plan.dims.size()) +
                                                   " dimensions, the network 3");
        TwoLayerRegression sub(*this, Shell{});
        auto held = std::make_shared<DimensionTable>(*dims_);
        (*held)[1].size = plan.held(1, (*dims_)[1].size);
        sub.dims_ = held;
        sub.weight_.value = detail::slice_for(weight_.value, {1, 0}, {}, plan);
        sub.weight_.grad = xt::zeros<float>(sub.weight_.value.shape());
        sub.signs_ = detail::slice_for(signs_, {1}, {}, plan);
        if (scale_activations)
            sub.output_scale_ = output_scale_ * (static_cast<double>((*dims_)[1].size) / static_cast<double>((*held)[1].size));
        return sub;
    }

    /// u = f(W, x) for every row of x: rows x 1.
    const Matrix& forward(const Matrix& x, Mode = Mode::Eval) {
        const std::size_t n = x.shape()[0], m = hidden(), d = inputs();
        detail::require<DataError>(x.shape()[1] == d, "TwoLayerRegression: " + std::to_string(x.shape()[1]) +
                                                          " features, the model takes " + std::to_string(d));
        pre_.resize({n, m});
        predictions_.resize({n, 1});
        for (std::size_t i = 0; i < n; ++i) {
            double sum = 0.0;
            for (std::size_t r = 0; r < m; ++r) {
                const float z = dot(&weight_.value(r, 0), &x(i, 0), d);
                pre_(i, r) = z;
                if (z > 0.0f) sum += static_cast<double>(signs_(r)) * z;
            }
            predictions_(i, 0) = static_cast<float>(output_scale_ * sum);
        }
        return predictions_;
    }

    /// Squared error (squared_error: half the mean over rows) and its gradient in W:
    /// dL/dw_r = scale * a_r * sum_i g_i 1{<w_r, x_i> > 0} x_i, g = dL/du.
    float loss_and_gradient(const Matrix& x, const Matrix& targets) {
        forward(x, Mode::Train);
        const float loss = squared_error(predictions_, targets, &dpredictions_);
        const std::size_t n = x.shape()[0], m = hidden(), d = inputs();
        std::vector<double> row(d);
        for (std::size_t r = 0; r < m; ++r) {
            std::fill(row.begin(), row.end(), 0.0);
            const double coefficient = output_scale_ * static_cast<double>(signs_(r));
            for (std::size_t i = 0; i < n; ++i) {
                if (!(pre_(i, r) > 0.0f)) continue;
                const double g = coefficient * static_cast<double>(dpredictions_(i, 0));
                for (std::size_t j = 0; j < d; ++j) row[j] += g * static_cast<double>(x(i, j));
            }
            for (std::size_t j = 0; j < d; ++j) weight_.grad(r, j) = static_cast<float>(row[j]);
        }
        return loss;
    }

private:
    struct Shell {};
    /// `like`'s settings without its tensors, for subnet() to fill with slices.
    TwoLayerRegression(const TwoLayerRegression& like, Shell)
        : weight_{like.weight_.name, {}, {}, like.weight_.axes}, output_scale_(like.output_scale_) {}

    std::size_t hidden() const { return weight_.value.shape()[0]; }
    std::size_t inputs() const { return weight_.value.shape()[1]; }

    static void check_index(std::size_t i) {
        detail::require(i == 0, "TwoLayerRegression: parameter " + std::to_string(i) + " of 1");
    }

    /// <w, x> accumulated in double, in index order.
    static float dot(const float* w, const float* x, std::size_t d) {
        double sum = 0.0;
        for (std::size_t j = 0; j < d; ++j) sum += static_cast<double>(w[j]) * static_cast<double>(x[j]);
        return static_cast<float>(sum);
    }

    std::shared_ptr<const DimensionTable> dims_;  // a subnet's sizes
    Parameter weight_;
    Tensor signs_;
    double output_scale_ = 1.0;
    Matrix pre_, predictions_, dpredictions_;
};

}  // namespace ist
