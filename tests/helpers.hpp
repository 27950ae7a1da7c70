#pragma once
// Shared test fixtures: small random data and parameter comparisons.
#include <random>


#include <ist/ist.hpp>

namespace ist::test {

/// Gaussian blobs: class c shifts features j with j % classes == c by `shift`.
inline Dataset blobs(std::size_t rows, std::size_t features, std::size_t classes, std::uint64_t seed, float shift = 2.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    Dataset d{Matrix::from_shape({rows, features}), {}, classes, "blobs", {}};
    for (std::size_t i = 0; i < rows; ++i) {
        const auto c = static_cast<std::uint32_t>(i % classes);
        d.labels.push_back(c);
        for (std::size_t j = 0; j < features; ++j) d.features(i, j) = noise(rng) + (j % classes == c ? shift : 0.0f);
    }
    return d;
}

inline Matrix random_matrix(std::size_t rows, std::size_t cols, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> noise(0.0f, 1.0f);
    Matrix m = Matrix::from_shape({rows, cols});
    for (auto& v : m) v = noise(rng);
    return m;
}

/// Small, quiet runs for tests: no evaluation until the end.
inline TrainerOptions test_options(std::size_t S, std::size_t l, std::size_t rounds, std::size_t batch,
                                   std::uint64_t seed) {
    TrainerOptions o;
    o.workers = S;
    o.local_steps = l;
    o.rounds = rounds;
    o.batch_size = batch;
    o.seed = seed;
    o.eval_every = 0;
    return o;
}

/// True when every parameter of a and b is bit-identical.
template <class M>
bool same_parameters(const M& a, const M& b) {
    if (a.parameter_count() != b.parameter_count()) return false;
    for (std::size_t i = 0; i < a.parameter_count(); ++i)
        if (a.parameter(i).value != b.parameter(i).value) return false;
    return true;
}

/// Largest absolute difference between the parameters of a and b.
template <class M>
float max_parameter_difference(const M& a, const M& b) {
    float worst = 0.0f;
    for (std::size_t i = 0; i < a.parameter_count(); ++i)
        worst = std::max(worst, xt::amax(xt::abs(a.parameter(i).value - b.parameter(i).value))());
    return worst;
}

/// Merges the workers' subnets `subs` (made with `plan`) into `merged` with HolderAverage.
template <Model M>
void merge_subnets(M& merged, std::vector<M>& subs, Plan plan) {
    derive_indices(merged.dimensions(), plan);  // as the trainer does
    std::vector<MergeItem> items;
    for (std::size_t i = 0; i < merged.parameter_count(); ++i) {
        MergeItem item{&merged.parameter(i).value, merged.parameter_dims(i), {}, unit_of(merged, i)};
        for (auto& s : subs) item.workers.push_back(&s.parameter(i).value);
        items.push_back(item);
    }
    HolderAverage{}.merge(items, plan);
}

/// Extracts every worker's subnet with `plan` and merges them back untrained.
template <Model M>
M extract_then_merge(const M& net, const Plan& plan) {
    M merged = net;
    std::vector<M> subs;
    for (const auto& wp : plan) subs.push_back(net.subnet(wp));
    merge_subnets(merged, subs, plan);
    return merged;
}

}  // namespace ist::test
