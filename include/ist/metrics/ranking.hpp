#pragma once
// Precision@k and nDCG@k (k = 1, 3, 5) of scores against label sets: the metrics of extreme
// multi-label classification (the XML repository's; IST on Amazon-670k reports P@1/3/5).
//   P@k    = |top_k ∩ Y| / k
//   nDCG@k = sum_{i<=k, top_i in Y} 1/log2(i+1)  /  sum_{i<=min(k,|Y|)} 1/log2(i+1)
// averaged over the rows with a non-empty label set. The top 5 of a row come from one scan that
// keeps a sorted list of five (a partial top-k: O(labels) per row, no sort of the whole row).
// Equal scores rank the lower label first.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>

#include "ist/core/tensor.hpp"
#include "ist/data/sparse_dataset.hpp"

namespace ist {

inline constexpr std::array<std::size_t, 3> kRankingCutoffs{1, 3, 5};

/// P@k and nDCG@k at k = kRankingCutoffs.
struct RankingMetrics {
    std::array<double, 3> precision{};
    std::array<double, 3> ndcg{};
};

namespace detail {

/// The labels of the `k` (<= 5) highest scores, best first; fewer when the row is shorter.
inline std::size_t top_labels(std::span<const float> scores, std::size_t k, std::array<std::uint32_t, 5>& out) {
    std::array<float, 5> best{};
    std::size_t held = 0;
    k = std::min<std::size_t>(k, 5);
    for (std::size_t j = 0; j < scores.size(); ++j) {
        const float s = scores[j];
        if (held == k && !(s > best[k - 1])) continue;  // the common case: one comparison
        std::size_t at = held < k ? held++ : k - 1;
        while (at > 0 && s > best[at - 1]) {
            best[at] = best[at - 1];
            out[at] = out[at - 1];
            --at;
        }
        best[at] = s;
        out[at] = static_cast<std::uint32_t>(j);
    }
    return held;
}

inline double discount(std::size_t rank) { return 1.0 / std::log2(static_cast<double>(rank) + 2.0); }

}  // namespace detail

/// Sums the metrics over batches; result() averages over the labelled rows seen.
class RankingAccumulator {
public:
    void add(const Matrix& scores, const LabelSets& labels) {
        const std::size_t n = scores.shape()[1];
        for (std::size_t r = 0; r < labels.rows(); ++r) {
            const auto set = labels.of(r);  // sorted
            if (set.empty()) continue;
            std::array<std::uint32_t, 5> top{};
            const std::size_t held = detail::top_labels({scores.data() + r * n, n}, 5, top);
            std::array<double, 6> hits{}, dcg{}, ideal{};  // prefix sums over ranks 1..5
            for (std::size_t i = 0; i < 5; ++i) {
                const bool hit = i < held && std::binary_search(set.begin(), set.end(), top[i]);
                hits[i + 1] = hits[i] + hit;
                dcg[i + 1] = dcg[i] + (hit ? detail::discount(i) : 0.0);
                ideal[i + 1] = ideal[i] + (i < set.size() ? detail::discount(i) : 0.0);
            }
            for (std::size_t c = 0; c < kRankingCutoffs.size(); ++c) {
                const std::size_t k = kRankingCutoffs[c];
                sums_.precision[c] += hits[k] / static_cast<double>(k);
                sums_.ndcg[c] += dcg[k] / ideal[k];
            }
            ++rows_;
        }
    }

    std::size_t rows() const { return rows_; }

    RankingMetrics result() const {
        RankingMetrics m = sums_;
        const double n = static_cast<double>(std::max<std::size_t>(rows_, 1));
        for (double& v : m.precision) v /= n;
        for (double& v : m.ndcg) v /= n;
        return m;
    }

private:
    RankingMetrics sums_;
    std::size_t rows_ = 0;
};

}  // namespace ist
