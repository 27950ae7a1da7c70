// The sparse-input layer and the multi-label losses against central differences, and P@k /
// nDCG@k against hand-computed values.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include <ist/data/xml_repository.hpp>
#include <ist/model/xml/multilabel_loss.hpp>
#include <ist/model/xml/sparse_dense.hpp>
#include <ist/metrics/ranking.hpp>

namespace {

/// 5 rows over 9 features, labels over 4 classes; row 3 has no labels (left out of the loss).
ist::SparseDataset small_set() {
    ist::XmlOptions keep_empty;
    keep_empty.allow_empty_label_sets = true;
    return ist::parse_xml_repository("5 9 4\n0,2 0:1 3:0.5 8:-1\n1 3:2\n3 1:0.3 2:0.7 3:-0.2\n 5:1\n0,1,2 8:0.9 0:0.1\n",
                                     "small", keep_empty);
}

float loss_of(const ist::SparseDense& layer, const ist::SparseDataset& d, ist::MultiLabelLoss kind) {
    ist::Matrix y;
    layer.forward(d.features, y);
    return ist::multilabel_loss(y, d.labels, kind);
}

void check_layer_gradients(ist::MultiLabelLoss kind) {
    const ist::SparseDataset d = small_set();
    ist::SparseDense layer(9, 4, 7);
    ist::Matrix y, dy;
    layer.forward(d.features, y);
    ist::multilabel_loss(y, d.labels, kind, &dy);
    layer.backward(d.features, dy);
    for (ist::Parameter& p : layer.parameters()) {
        const ist::Tensor analytic = p.grad;
        for (std::size_t k = 0; k < p.value.size(); ++k) {
            const float saved = p.value.data()[k], h = 1e-2f;
            p.value.data()[k] = saved + h;
            const double up = loss_of(layer, d, kind);
            p.value.data()[k] = saved - h;
            const double down = loss_of(layer, d, kind);
            p.value.data()[k] = saved;
            const double numeric = (up - down) / (2.0 * h);
            INFO(p.name << " entry " << k << " numeric " << numeric << " analytic " << analytic.data()[k]);
            CHECK(std::abs(numeric - analytic.data()[k]) <= 1e-3 + 1e-2 * std::abs(numeric));
        }
    }
    // Feature 4, 6 and 7 occur in no row: their gradient rows are exactly zero.
    for (std::size_t j : {4, 6, 7})
        for (std::size_t o = 0; o < 4; ++o) CHECK(layer.parameters()[0].grad(j, o) == 0.0f);
}

}  // namespace

TEST_CASE("xml: SparseDense with softmax over normalised targets matches central differences") {
    check_layer_gradients(ist::MultiLabelLoss::SoftmaxNormalized);
}

TEST_CASE("xml: SparseDense with per-label binary cross-entropy matches central differences") {
    check_layer_gradients(ist::MultiLabelLoss::BinaryCrossEntropy);
}

TEST_CASE("xml: SparseDense forward equals the dense product, and a second backward forgets the first batch") {
    const ist::SparseDataset d = small_set();
    ist::SparseDense layer(9, 3, 1);
    ist::Matrix y;
    layer.forward(d.features, y);
    const ist::Tensor& wt = layer.parameters()[0].value;
    for (std::size_t r = 0; r < d.size(); ++r)
        for (std::size_t o = 0; o < 3; ++o) {
            double expect = layer.parameters()[1].value(o);
            for (std::size_t k = 0; k < d.features.row_indices(r).size(); ++k)
                expect += double{d.features.row_values(r)[k]} * wt(d.features.row_indices(r)[k], o);
            CHECK(y(r, o) == doctest::Approx(expect).epsilon(1e-6));
        }
    const std::vector<std::uint32_t> first{0}, second{1};
    const ist::SparseDataset a = ist::subset(d, first), b = ist::subset(d, second);
    ist::Matrix dy = ist::Matrix::from_shape({1, 3});
    dy.fill(1.0f);
    layer.backward(a.features, dy);
    layer.backward(b.features, dy);
    ist::SparseDense fresh = layer;  // a copy starts from a cleared gradient
    fresh.backward(b.features, dy);
    CHECK(layer.parameters()[0].grad == fresh.parameters()[0].grad);
    CHECK(std::vector<std::uint32_t>(layer.touched_rows().begin(), layer.touched_rows().end()) ==
          std::vector<std::uint32_t>{3});
    layer.parameters()[0].grad(0, 0) = 5.0f;  // written by someone else (an all-reduce)
    layer.reset_gradient();
    layer.backward(b.features, dy);
    CHECK(layer.parameters()[0].grad == fresh.parameters()[0].grad);
}

TEST_CASE("xml: the multi-label losses by hand, and their refusals") {
    ist::Matrix z = {{0.0f, std::log(3.0f)}, {1.0f, 1.0f}};
    ist::LabelSets labels;
    labels.append_row(std::vector<std::uint32_t>{1});
    labels.append_row(std::vector<std::uint32_t>{});
    // Row 0: p = (1/4, 3/4), target (0, 1): loss -log(3/4); row 1 has no labels.
    CHECK(ist::multilabel_loss(z, labels, ist::MultiLabelLoss::SoftmaxNormalized) ==
          doctest::Approx(-std::log(0.75)));
    // BCE row 0: softplus(0) + softplus(log 3) - log 3 = log 2 + log 4 - log 3.
    CHECK(ist::multilabel_loss(z, labels, ist::MultiLabelLoss::BinaryCrossEntropy) ==
          doctest::Approx(std::log(2.0) + std::log(4.0) - std::log(3.0)));
    ist::LabelSets wide;
    wide.append_row(std::vector<std::uint32_t>{2});
    wide.append_row(std::vector<std::uint32_t>{});
    CHECK_THROWS_WITH_AS(ist::multilabel_loss(z, wide, ist::MultiLabelLoss::SoftmaxNormalized),
                         "multi-label loss: label 2 is out of range for 2 outputs", ist::DataError);
}

TEST_CASE("xml: P@k and nDCG@k against a hand-computed oracle") {
    // Row 0 ranks labels 5,1,0,6,2,3,4,7; its set is {1, 2}.
    // Row 1 ranks 0 first, then the tie 1/2 (lower label first); its set {0, 2, 3, 4, 6, 7}.
    // Row 2 has no labels and is left out.
    const ist::Matrix scores = {{0.5f, 0.8f, 0.1f, 0.05f, 0.0f, 0.9f, 0.3f, -1.0f},
                                {0.9f, 0.5f, 0.5f, 0.1f, 0.2f, 0.0f, -0.5f, 0.3f},
                                {1.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}};
    ist::LabelSets labels;
    labels.append_row(std::vector<std::uint32_t>{1, 2});
    labels.append_row(std::vector<std::uint32_t>{0, 2, 3, 4, 6, 7});
    labels.append_row(std::vector<std::uint32_t>{});
    ist::RankingAccumulator acc;
    acc.add(scores, labels);
    CHECK(acc.rows() == 2);
    const ist::RankingMetrics m = acc.result();
    // Row 0 top 5: 5,1,0,6,2 -> hits at ranks 2 and 5.  Row 1 top 5: 0,1,2,7,4 -> hits at 1,3,4,5.
    const auto d = [](int rank) { return 1.0 / std::log2(rank + 1.0); };
    CHECK(m.precision[0] == doctest::Approx((0.0 + 1.0) / 2));
    CHECK(m.precision[1] == doctest::Approx((1.0 / 3 + 2.0 / 3) / 2));
    CHECK(m.precision[2] == doctest::Approx((2.0 / 5 + 4.0 / 5) / 2));
    CHECK(m.ndcg[0] == doctest::Approx((0.0 + 1.0) / 2));
    CHECK(m.ndcg[1] == doctest::Approx((d(2) / (d(1) + d(2)) + (d(1) + d(3)) / (d(1) + d(2) + d(3))) / 2));
    CHECK(m.ndcg[2] == doctest::Approx(((d(2) + d(5)) / (d(1) + d(2)) +
                                        (d(1) + d(3) + d(4) + d(5)) / (d(1) + d(2) + d(3) + d(4) + d(5))) / 2));
}

TEST_CASE("xml: the partial top-k agrees with a full sort on random rows") {
    std::mt19937 rng(3);
    std::uniform_int_distribution<int> level(0, 20);  // many ties
    for (int trial = 0; trial < 200; ++trial) {
        std::vector<float> s(1 + static_cast<std::size_t>(trial % 37));
        for (float& v : s) v = static_cast<float>(level(rng));
        std::vector<std::uint32_t> order(s.size());
        for (std::uint32_t j = 0; j < order.size(); ++j) order[j] = j;
        std::stable_sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) { return s[a] > s[b]; });
        std::array<std::uint32_t, 5> top{};
        const std::size_t held = ist::detail::top_labels(s, 5, top);
        REQUIRE(held == std::min<std::size_t>(5, s.size()));
        for (std::size_t i = 0; i < held; ++i) CHECK(top[i] == order[i]);
    }
}
