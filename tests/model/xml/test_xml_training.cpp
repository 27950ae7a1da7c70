// IstTrainer on a SparseDataset with XmlNetwork: IST and data parallel learn a synthetic
// multi-label task, runs are reproducible, bad data is refused before the model changes, and the
// same network also trains on a dense Dataset through the Model concept.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include <xtensor/xview.hpp>

#include <ist/baselines.hpp>
#include <ist/model/xml/xml_network.hpp>
#include <ist/train/trainer.hpp>

#include "helpers.hpp"

namespace {

/// Label l owns features 4l..4l+3; a row has one to three labels and two of each one's features
/// plus two noise features, with term-frequency values.
ist::SparseDataset synthetic(std::size_t rows, std::uint64_t seed) {
    constexpr std::size_t kLabels = 12, kFeatures = 4 * kLabels + 16;
    std::mt19937_64 rng(seed);
    ist::SparseDataset d;
    d.features.cols = kFeatures;
    d.classes = kLabels;
    d.name = "synthetic";
    for (std::size_t r = 0; r < rows; ++r) {
        std::vector<std::uint32_t> labels;
        const std::size_t count = 1 + rng() % 3;
        while (labels.size() < count) {
            const auto l = static_cast<std::uint32_t>(rng() % kLabels);
            if (std::find(labels.begin(), labels.end(), l) == labels.end()) labels.push_back(l);
        }
        std::vector<float> row(kFeatures, 0.0f);
        for (std::uint32_t l : labels)
            for (int k = 0; k < 2; ++k) row[4 * l + rng() % 4] += 1.0f;
        for (int k = 0; k < 2; ++k) row[4 * kLabels + rng() % 16] += 1.0f;
        std::vector<std::uint32_t> idx;
        std::vector<float> val;
        for (std::uint32_t j = 0; j < kFeatures; ++j)
            if (row[j] != 0.0f) idx.push_back(j), val.push_back(row[j]);
        std::sort(labels.begin(), labels.end());
        d.features.append_row(idx, val);
        d.labels.append_row(labels);
    }
    return d;
}

ist::TrainerOptions options(std::size_t workers) {
    ist::TrainerOptions o = ist::test::test_options(workers, 5, 40, 32, 3);
    o.eval_batch = 64;
    return o;
}

}  // namespace

TEST_CASE("xml: IST and data parallel train XmlNetwork on sparse multi-label data") {
    const ist::SparseDataset train = synthetic(600, 1), test = synthetic(200, 2);
    ist::XmlNetwork ist_net(train.feature_count(), 64, train.classes, 5), dp_net = ist_net;
    const ist::Evaluation before = ist::IstTrainer<ist::XmlNetwork>(ist_net, options(2)).evaluate(test);
    ist::IstTrainer<ist::XmlNetwork> ist_trainer(ist_net, options(2), {}, ist::Sgd(0.5f));
    const ist::TrainResult ist_result = ist_trainer.train(train, test);
    ist::DataParallelTrainer<ist::XmlNetwork> dp_trainer(dp_net, options(2), {}, ist::Sgd(0.5f));
    const ist::TrainResult dp_result = dp_trainer.train(train, test);
    REQUIRE(ist_result.final_test->ranking);
    INFO("P@1 before " << before.accuracy << ", IST " << ist_result.final_test->accuracy << ", DP "
                       << dp_result.final_test->accuracy);
    CHECK(before.accuracy < 0.4);
    CHECK(ist_result.final_test->accuracy > 0.8);
    CHECK(dp_result.final_test->accuracy > 0.8);
    CHECK(ist_result.final_test->accuracy == ist_result.final_test->ranking->precision[0]);
    CHECK(ist_result.final_test->ranking->ndcg[2] > 0.7);
}

TEST_CASE("xml: a sparse IST run is reproducible and refuses bad data before training") {
    const ist::SparseDataset train = synthetic(300, 1), test = synthetic(100, 2);
    ist::XmlNetwork a(train.feature_count(), 32, train.classes, 5), b = a, untouched = a;
    ist::IstTrainer<ist::XmlNetwork>(a, options(4)).train(train, test);
    ist::IstTrainer<ist::XmlNetwork>(b, options(4)).train(train, test);
    CHECK(ist::test::same_parameters(a, b));

    ist::SparseDataset wide = test;
    wide.features.cols += 1;
    ist::XmlNetwork c = untouched;
    ist::IstTrainer<ist::XmlNetwork> trainer(c, options(4));
    CHECK_THROWS_WITH_AS(trainer.train(train, wide), "synthetic: 65 features, the model takes 64", ist::DataError);
    ist::SparseDataset more_labels = test;
    more_labels.classes += 1;
    CHECK_THROWS_WITH_AS(trainer.train(train, more_labels), "synthetic: 13 labels, the model outputs 12", ist::DataError);
    CHECK(ist::test::same_parameters(c, untouched));
}

TEST_CASE("xml: XmlNetwork also trains on a dense Dataset (single labels as one-label sets)") {
    const ist::Dataset train = ist::test::blobs(300, 10, 3, 1), test = ist::test::blobs(100, 10, 3, 2);
    ist::XmlNetwork net(10, 32, 3, 1);
    const ist::TrainResult r = ist::IstTrainer<ist::XmlNetwork>(net, options(2), {}, ist::Sgd(0.1f)).train(train, test);
    CHECK(r.final_test->accuracy > 0.9);
    CHECK_FALSE(r.final_test->ranking);
}

TEST_CASE("xml: plain SGD steps only SparseDense's touched rows, bit-identical to the full step") {
    const ist::SparseDataset d = synthetic(64, 3);
    ist::XmlNetwork row_step(d.feature_count(), 16, d.classes, 7), full_step = row_step;
    const auto row_params = ist::parameter_pointers(row_step), full_params = ist::parameter_pointers(full_step);
    auto row_run = ist::Sgd(0.5f).start(row_params), full_run = ist::Sgd(0.5f).start(full_params);
    for (std::uint32_t t = 0; t < 8; ++t) {
        const std::vector<std::uint32_t> rows{t, t + 8, t + 16};  // a few rows: most features absent
        const ist::SparseDataset batch = ist::subset(d, rows);
        row_step.loss_and_gradient(batch.features, batch.labels);
        full_step.loss_and_gradient(batch.features, batch.labels);
        const ist::Parameter& weight = row_step.parameter(0);
        REQUIRE(weight.grad_rows);
        CHECK(weight.grad_rows->size() < d.feature_count());
        const ist::Tensor before = weight.value;
        full_step.parameter(0).grad_rows.reset();  // no row list: the step passes over every weight
        row_run.step(row_params);
        full_run.step(full_params);
        CHECK(ist::test::same_parameters(row_step, full_step));
        std::size_t listed = 0;  // the rows outside the list kept their values
        for (std::uint32_t j = 0; j < d.feature_count(); ++j) {
            if (listed < weight.grad_rows->size() && (*weight.grad_rows)[listed] == j) {
                ++listed;
                continue;
            }
            CHECK(xt::view(weight.value, j, xt::all()) == xt::view(before, j, xt::all()));
        }
    }
    // Weight decay moves every weight, so the row list is not used: an untouched row shrinks.
    const ist::SparseDataset one = ist::subset(d, std::vector<std::uint32_t>{0});
    row_step.loss_and_gradient(one.features, one.labels);
    const auto present = one.features.row_indices(0);
    std::uint32_t absent = 0;
    while (std::find(present.begin(), present.end(), absent) != present.end()) ++absent;
    const float before = row_step.parameter(0).value(absent, 0);
    auto decay = ist::Sgd(0.5f, 0.1f).start(row_params);
    decay.step(row_params);
    CHECK(row_step.parameter(0).value(absent, 0) == doctest::Approx(before * (1.0f - 0.05f)));
}
