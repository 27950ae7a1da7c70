// P@k and nDCG@k by hand (issue 36): tied scores rank the lower label first, label sets shorter than
// k, rows shorter than 5 labels, and rows without labels left out of the average.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <ist/metrics/ranking.hpp>

using namespace ist;

namespace {

Matrix score_rows(const std::vector<std::vector<float>>& rows) {
    Matrix m = xt::zeros<float>({rows.size(), rows[0].size()});
    for (std::size_t r = 0; r < rows.size(); ++r)
        for (std::size_t j = 0; j < rows[r].size(); ++j) m(r, j) = rows[r][j];
    return m;
}

LabelSets label_sets(const std::vector<std::vector<std::uint32_t>>& sets) {
    LabelSets out;
    for (const auto& s : sets) out.append_row(s);
    return out;
}

double d(double rank) { return 1.0 / std::log2(rank + 1.0); }  // the discount of 1-based rank

}  // namespace

TEST_CASE("ranking metrics: ties rank the lower label first; short label sets cap the ideal DCG") {
    // Scores of labels 0..6: ranking 1, 2, 5 (0.9, tied), 0, 4 (0.5, tied), 3, 6.
    const Matrix scores = score_rows({{0.5f, 0.9f, 0.9f, 0.1f, 0.5f, 0.9f, 0.0f},
                                      {0.5f, 0.9f, 0.9f, 0.1f, 0.5f, 0.9f, 0.0f},
                                      {0.5f, 0.9f, 0.9f, 0.1f, 0.5f, 0.9f, 0.0f}});
    RankingAccumulator acc;
    acc.add(scores, label_sets({{2, 4}, {}, {0, 1, 3, 5, 6, 100}}));
    CHECK(acc.rows() == 2);  // the empty set is left out
    const RankingMetrics m = acc.result();
    // Row 1: hits at ranks 2 (label 2) and 5 (label 4); row 3: ranks 1 (1), 3 (5), 4 (0).
    CHECK(m.precision[0] == doctest::Approx((0.0 + 1.0) / 2));
    CHECK(m.precision[1] == doctest::Approx((1.0 / 3 + 2.0 / 3) / 2));
    CHECK(m.precision[2] == doctest::Approx((2.0 / 5 + 3.0 / 5) / 2));
    const double ndcg1 = (0.0 + 1.0) / 2;
    const double ndcg3 = (d(2) / (d(1) + d(2)) + (d(1) + d(3)) / (d(1) + d(2) + d(3))) / 2;
    const double ndcg5 = ((d(2) + d(5)) / (d(1) + d(2)) + (d(1) + d(3) + d(4)) / (d(1) + d(2) + d(3) + d(4) + d(5))) / 2;
    CHECK(m.ndcg[0] == doctest::Approx(ndcg1));
    CHECK(m.ndcg[1] == doctest::Approx(ndcg3));
    CHECK(m.ndcg[2] == doctest::Approx(ndcg5));
}

TEST_CASE("ranking metrics: rows of fewer than 5 labels count the missing ranks as misses") {
    // 3 labels: the top 5 holds 3 (2, 0, 1); label set {0}: hit at rank 2.
    RankingAccumulator acc;
    acc.add(score_rows({{0.3f, 0.1f, 0.7f}}), label_sets({{0}}));
    const RankingMetrics m = acc.result();
    CHECK(m.precision[0] == 0.0);
    CHECK(m.precision[1] == doctest::Approx(1.0 / 3));
    CHECK(m.precision[2] == doctest::Approx(1.0 / 5));
    CHECK(m.ndcg[1] == doctest::Approx(d(2) / d(1)));
    CHECK(m.ndcg[2] == doctest::Approx(d(2) / d(1)));
    // All 3 labels relevant: P@5 is 3/5, nDCG@5 is 1 (the ideal stops at |Y| = 3).
    RankingAccumulator all;
    all.add(score_rows({{0.3f, 0.1f, 0.7f}}), label_sets({{0, 1, 2}}));
    CHECK(all.result().precision[2] == doctest::Approx(3.0 / 5));
    CHECK(all.result().ndcg[2] == doctest::Approx(1.0));
}

TEST_CASE("ranking metrics: batches accumulate: two adds average over all labelled rows") {
    RankingAccumulator acc;
    acc.add(score_rows({{1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}}), label_sets({{0}}));          // P@1 = 1
    acc.add(score_rows({{0.0f, 1.0f, 0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 1.0f}}),
            label_sets({{0}, {3}}));  // ranks: 1, 0, ... -> label 0 at rank 2; 5, 0, 1, 2, 3 -> label 3 at rank 5
    CHECK(acc.rows() == 3);
    const RankingMetrics m = acc.result();
    CHECK(m.precision[0] == doctest::Approx(1.0 / 3));
    CHECK(m.ndcg[2] == doctest::Approx((1.0 + d(2) + d(5)) / 3));
}

TEST_CASE("ranking metrics: a tie at the fifth place keeps the lower label, a later equal score does not replace it") {
    // Ranking 1 (0.9), 4 (0.8), 5 (0.7), then 2, 3, 6 tied at 0.5: the top 5 ends with 2, 3, not 6.
    const Matrix scores = score_rows({{0.1f, 0.9f, 0.5f, 0.5f, 0.8f, 0.7f, 0.5f}});
    RankingAccumulator hit, miss;
    hit.add(scores, label_sets({{3}}));
    miss.add(scores, label_sets({{6}}));
    CHECK(hit.result().precision[2] == doctest::Approx(1.0 / 5));
    CHECK(hit.result().ndcg[2] == doctest::Approx(d(5) / d(1)));
    CHECK(miss.result().precision[2] == 0.0);
    CHECK(miss.result().ndcg[2] == 0.0);
}
