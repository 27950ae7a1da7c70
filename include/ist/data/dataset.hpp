#pragma once
// An in-memory labelled data set and the operations every trainer needs on it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/labels.hpp"
#include "ist/core/tensor.hpp"
#include "ist/detail/random.hpp"

namespace ist {

/// Rows of features with one class label each.
struct Dataset {
    Matrix features;      ///< samples x features, float
    Labels labels;        ///< one per row, each < classes or kUnlabeled (left out of loss and accuracy)
    std::size_t classes = 0;
    std::string name;     ///< where it came from, used in error messages
    /// Optional cluster id per row, for Batches::Clusters (Cluster-GCN mini-batches of a graph).
    std::vector<std::uint32_t> clusters;

    std::size_t size() const { return features.shape()[0]; }
    std::size_t feature_count() const { return features.shape()[1]; }

    /// Throws ist::DataError naming the problem: empty set, label count or range, NaN/Inf features.
    void validate() const {
        if (size() == 0 || feature_count() == 0) throw DataError(name + ": the data set is empty");
        check_labels(labels, size(), classes);
        if (!clusters.empty() && clusters.size() != size())
            throw DataError(name + ": " + std::to_string(clusters.size()) + " cluster ids for " + std::to_string(size()) +
                            " rows");
        const float* p = features.data();
        for (std::size_t k = 0; k < features.size(); ++k)
            if (!std::isfinite(p[k]))
                throw DataError(name + ": feature " + std::to_string(k % feature_count()) + " of row " +
                                std::to_string(k / feature_count()) + " is not finite");
    }
};

/// The rows `indices` of `data`, in that order.
inline Dataset subset(const Dataset& data, const std::vector<std::uint32_t>& indices) {
    Dataset out{Matrix::from_shape({indices.size(), data.feature_count()}), {}, data.classes, data.name, {}};
    out.labels.reserve(indices.size());
    const std::size_t f = data.feature_count();
    for (std::size_t r = 0; r < indices.size(); ++r) {
        std::memcpy(out.features.data() + r * f, data.features.data() + std::size_t{indices[r]} * f, f * sizeof(float));
        out.labels.push_back(data.labels.at(indices[r]));
        if (!data.clusters.empty()) out.clusters.push_back(data.clusters[indices[r]]);
    }
    return out;
}

/// `data` with every label outside `rows` set to kUnlabeled: the training or test split of a
/// graph's nodes, which keeps every node (a graph layer needs them all) but scores only these.
inline Dataset keep_labels(const Dataset& data, const std::vector<std::uint32_t>& rows) {
    Dataset out = data;
    std::fill(out.labels.begin(), out.labels.end(), kUnlabeled);
    for (std::uint32_t r : rows) {
        detail::require<DataError>(r < data.size(), data.name + ": row " + std::to_string(r) + " is out of range for " +
                                                        std::to_string(data.size()) + " rows");
        out.labels[r] = data.labels[r];
    }
    return out;
}

/// The rows of a seeded shuffle of `rows` that train_test_split puts in each set: {train, test}.
/// A process that reads only some rows of a file uses it to know which file rows the sets hold.
inline std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>> split_rows(std::size_t rows, double test_fraction,
                                                                                    std::uint64_t seed,
                                                                                    const std::string& name) {
    detail::require(test_fraction > 0.0 && test_fraction < 1.0,
                    "train_test_split: test fraction must be in (0, 1), got " + std::to_string(test_fraction));
    detail::RandomEngine rng(seed);
    const std::vector<std::uint32_t> order = detail::random_permutation(rows, rng);
    const auto test_rows = static_cast<std::size_t>(std::lround(test_fraction * static_cast<double>(rows)));
    detail::require<DataError>(test_rows > 0 && test_rows < rows,
                               name + ": too few rows (" + std::to_string(rows) + ") to split");
    std::vector<std::uint32_t> test(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(test_rows));
    std::vector<std::uint32_t> train(order.begin() + static_cast<std::ptrdiff_t>(test_rows), order.end());
    return {std::move(train), std::move(test)};
}

/// Shuffles with `seed` and holds out `test_fraction` of the rows as a test set.
inline std::pair<Dataset, Dataset> train_test_split(const Dataset& data, double test_fraction, std::uint64_t seed) {
    const auto [train, test] = split_rows(data.size(), test_fraction, seed, data.name);
    return {subset(data, train), subset(data, test)};
}

/// The per-feature mean and standard deviation of a training set, applied to it and to its test
/// set alike (constant features are only centred).
struct Standardization {
    xt::xtensor<float, 1> mean, sd;

    explicit Standardization(const Dataset& train) {
        mean = xt::mean(train.features, {0});
        sd = xt::sqrt(xt::mean(xt::square(train.features - mean), {0}));
        sd = xt::where(sd > 1e-6f, sd, 1.0f);
    }
    Standardization(xt::xtensor<float, 1> mean_, xt::xtensor<float, 1> sd_) : mean(std::move(mean_)), sd(std::move(sd_)) {}

    void apply(Dataset& d) const { d.features = (d.features - mean) / sd; }
    /// The same on the rows `rows` of `d` only (each value computed as apply() computes it).
    void apply(Dataset& d, std::span<const std::uint32_t> rows) const {
        const std::size_t f = d.feature_count();
        for (std::uint32_t r : rows) {
            float* x = d.features.data() + std::size_t{r} * f;
            for (std::size_t j = 0; j < f; ++j) x[j] = (x[j] - mean(j)) / sd(j);
        }
    }
};

/// Scales every feature of both sets by the training set's mean and standard deviation
/// (constant features are only centred); returns them (a saved model's Standardize layer).
inline Standardization standardize(Dataset& train, Dataset& test) {
    detail::require<DataError>(train.feature_count() == test.feature_count(),
                               "standardize: train has " + std::to_string(train.feature_count()) +
                                   " features, test " + std::to_string(test.feature_count()));
    Standardization s(train);
    s.apply(train);
    s.apply(test);
    return s;
}

/// x / y = the rows `rows` of `data`.
inline void copy_rows(const Dataset& data, std::span<const std::uint32_t> rows, Matrix& x, Labels& y) {
    const std::size_t f = data.feature_count(), batch = rows.size();
    if (x.shape()[0] != batch || x.shape()[1] != f) x.resize({batch, f});
    y.resize(batch);
    for (std::size_t r = 0; r < batch; ++r) {
        std::memcpy(x.data() + r * f, data.features.data() + std::size_t{rows[r]} * f, f * sizeof(float));
        y[r] = data.labels[rows[r]];
    }
}

}  // namespace ist
