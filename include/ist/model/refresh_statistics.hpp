#pragma once
// Running statistics of a trained network's batch norms, recomputed from data: refreshed by
// training-mode passes (refresh_running_statistics), or set to the population statistics of the
// training rows (use_population_statistics), which the programs give the models they save.
#include <algorithm>
#include <cstddef>
#include <vector>

#include <xtensor/xview.hpp>

#include "ist/core/error.hpp"
#include "ist/model/batch_norm.hpp"
#include "ist/model/batch_norm2d.hpp"
#include "ist/model/network.hpp"

namespace ist {

/// Runs training-mode forward passes of `net` over the rows of `features`, `batch_size` at a
/// time, so that every batch norm built with a momentum folds their statistics into its running
/// ones; parameters are untouched. Call it after training and before evaluating or saving: IST
/// workers train subnets, whose copies of the statistics are discarded at the merge, so the full
/// network's running statistics never move during training.
inline void refresh_running_statistics(Network& net, const Matrix& features, std::size_t batch_size = 256) {
    detail::require(batch_size > 1, "refresh_running_statistics: batch_size must be at least 2");
    const std::size_t rows = features.shape()[0];
    for (std::size_t begin = 0; begin < rows; begin += batch_size) {
        const std::size_t end = std::min(rows, begin + batch_size);
        if (end - begin < 2) break;  // a one-row remainder has no batch statistics
        const Matrix batch = xt::view(features, xt::range(begin, end), xt::all());
        net.forward(batch, Mode::Train);
    }
}

/// The momentum use_population_statistics rebuilds a batch norm with (PyTorch's default). It
/// matters only if the network is trained further in full-network passes.
inline constexpr float kPopulationMomentum = 0.1f;

namespace detail {

/// Mean and variance (over every value, divided by the count) per group of `span` adjacent
/// columns (a feature: span 1; a channel of images: its pixels), merged batch by batch in double.
class GroupMoments {
public:
    GroupMoments(std::size_t groups, std::size_t span) : span_(span), mean_(groups, 0.0), m2_(groups, 0.0) {}

    void add(const Matrix& x) {
        const std::size_t rows = x.shape()[0], groups = mean_.size();
        require(x.shape()[1] == groups * span_, "use_population_statistics: a batch norm's input has " +
                                                    std::to_string(x.shape()[1]) + " columns, expected " +
                                                    std::to_string(groups * span_));
        const double n = static_cast<double>(rows * span_);
        for (std::size_t g = 0; g < groups; ++g) {
            double sum = 0.0, squares = 0.0;
            for_group(x, g, [&](float v) { sum += v; });
            const double mean = sum / n;
            for_group(x, g, [&](float v) { squares += (v - mean) * (v - mean); });
            // Chan et al.'s merge of two sets' means and sums of squared deviations.
            const double before = static_cast<double>(count_), total = before + n, delta = mean - mean_[g];
            mean_[g] += delta * n / total;
            m2_[g] += squares + delta * delta * before * n / total;
        }
        count_ += rows * span_;
    }

    Tensor mean() const { return as_tensor([&](std::size_t g) { return mean_[g]; }); }
    Tensor variance() const { return as_tensor([&](std::size_t g) { return m2_[g] / static_cast<double>(count_); }); }

private:
    template <class F>
    void for_group(const Matrix& x, std::size_t g, F&& f) const {
        const std::size_t cols = x.shape()[1];
        for (std::size_t i = 0; i < x.shape()[0]; ++i) {
            const float* v = x.data() + i * cols + g * span_;
            for (std::size_t k = 0; k < span_; ++k) f(v[k]);
        }
    }
    template <class F>
    Tensor as_tensor(F&& value) const {
        Tensor t = xt::zeros<float>({mean_.size()});
        for (std::size_t g = 0; g < mean_.size(); ++g) t(g) = static_cast<float>(value(g));
        return t;
    }

    std::size_t span_, count_ = 0;
    std::vector<double> mean_, m2_;
};

/// `rebuilt` (a norm of `norm`'s shape built with other options) given `norm`'s gamma and beta.
template <class Norm>
Norm with_parameters_of(const Norm& norm, Norm rebuilt) {
    for (std::size_t i = 0; i < norm.parameters().size(); ++i) rebuilt.parameters()[i].value = norm.parameters()[i].value;
    return rebuilt;
}

/// `norm` (a BatchNorm or BatchNorm2d without running statistics) rebuilt to evaluate with the
/// running statistics `moments`, its gamma and beta kept.
template <class Norm>
AnyLayer with_statistics(const Norm& norm, Norm rebuilt_norm, const GroupMoments& moments) {
    Norm rebuilt = with_parameters_of(norm, std::move(rebuilt_norm));
    rebuilt.running_statistics().mean() = moments.mean();
    rebuilt.running_statistics().variance() = moments.variance();
    return AnyLayer(std::move(rebuilt));
}

}  // namespace detail

/// Gives every batch norm of `net` that normalises with the statistics of each batch (momentum 0,
/// the reference IST network) the population statistics of `rows` instead: the mean and variance
/// (divided by the count) of its input over all the rows, taken with the batch norms before it
/// already converted, in evaluation passes (dropout off) of `batch_size` rows. Rebuilt with
/// kPopulationMomentum, the norms evaluate with these statistics, so a row's prediction no longer
/// depends on the rows scored with it; parameters are untouched. Norms that keep running
/// statistics already are left as they are (refresh_running_statistics is theirs). Returns how
/// many norms it converted. Throws ConfigError for fewer than 2 rows (the norms after the first
/// still need batch statistics) or a batch_size below 4 (near-equal batches of at least 4 rows never
/// leave a batch of one).
inline std::size_t use_population_statistics(Network& net, const Matrix& rows, std::size_t batch_size = 1000) {
    detail::require(batch_size >= 4, "use_population_statistics: batch_size must be at least 4");
    const std::size_t n = rows.shape()[0];
    detail::require(n > 1, "use_population_statistics: needs at least 2 rows, got " + std::to_string(n));
    const std::size_t batches = (n + batch_size - 1) / batch_size;  // near-equal: none has a single row
    const auto moments_of_input = [&](std::size_t layer, detail::GroupMoments moments) {
        for (std::size_t b = 0; b < batches; ++b) {
            const Matrix batch = xt::view(rows, xt::range(n * b / batches, n * (b + 1) / batches), xt::all());
            net.forward(batch, Mode::Eval);
            moments.add(net.layer_input(layer));
        }
        return moments;
    };
    std::size_t converted = 0;
    for (std::size_t l = 0; l < net.layer_count(); ++l) {
        if (const BatchNorm* bn = net.layer(l).as<BatchNorm>(); bn && !bn->running_statistics().enabled()) {
            const BatchNorm norm = *bn;
            net.layer(l) = detail::with_statistics(norm, BatchNorm(norm.features(), norm.affine(), norm.eps(), kPopulationMomentum),
                                                   moments_of_input(l, detail::GroupMoments(norm.features(), 1)));
            ++converted;
        } else if (const BatchNorm2d* bn2 = net.layer(l).as<BatchNorm2d>(); bn2 && !bn2->running_statistics().enabled()) {
            const BatchNorm2d norm = *bn2;
            const BatchNorm2d rebuilt(norm.channels(), norm.height(), norm.width(), norm.affine(), norm.eps(), kPopulationMomentum);
            net.layer(l) = detail::with_statistics(
                norm, rebuilt, moments_of_input(l, detail::GroupMoments(norm.channels(), norm.height() * norm.width())));
            ++converted;
        }
    }
    return converted;
}

}  // namespace ist
