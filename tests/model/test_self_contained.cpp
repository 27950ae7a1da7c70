// Self-contained model files (issue 32): population statistics against the definition (means and
// variances of each norm's input computed here by hand, in double), the metadata and the notes of a
// format 1 file, a Standardize layer in front and a Predictor on raw rows, one row alone as in a
// batch, and the files load_model refuses (NaN weights, a negative eps).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <unistd.h>

#include <ist/model/dense.hpp>
#include <ist/model/mlp.hpp>
#include <ist/model/refresh_statistics.hpp>
#include <ist/model_files/model_file.hpp>
#include <ist/model_files/predictor.hpp>
#include <ist/model_files/self_contained.hpp>

#include "helpers.hpp"
#include "../scratch.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

std::string contained_scratch(const std::string& name) {
    return ist::test::scratch_path("self_contained", name).string();
}

template <class F>
std::string contained_error(F&& f) {
    try {
        f();
    } catch (const DataError& e) {
        return e.what();
    }
    return "";
}

/// Saves `net` to `path` with `from` replaced by `to` in its architecture.json.
void contained_save_edited(const Network& net, const std::string& path, const std::string& from, const std::string& to) {
    save_model(net, path);
    std::string text = NpzArchive(path).text("architecture.json");
    const auto at = text.find(from);
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
    NpzWriter out;
    out.add("architecture.json", text);
    detail::for_each_named_layer(net, layer_registry(), [&](std::size_t l, const std::string& layer) {
        for (const Parameter& p : net.layer(l).parameters()) out.add(layer + "." + p.name, p.value);
    });
    out.write_atomically(path);
}

/// dense (6 -> 5, no bias) -> BatchNorm -> ReLU -> dense (5 -> 3) -> BatchNorm without affine.
Network contained_mlp() { return make_mlp({6, {5}, 3, Norm::Batch, 7}); }

}  // namespace

TEST_CASE("population statistics: the first norm's are the mean and variance of x W^T over all rows (by hand, in double)") {
    Network net = contained_mlp();
    const Matrix x = test::random_matrix(37, 6, 3);
    const Tensor w = net.layer(0).parameters()[0].value;  // 5 x 6
    CHECK(use_population_statistics(net, x, 8) == 2);      // five batches of 7 or 8 rows
    const BatchNorm* norm = net.layer(1).as<BatchNorm>();
    REQUIRE(norm != nullptr);
    REQUIRE(norm->running_statistics().enabled());
    for (std::size_t j = 0; j < 5; ++j) {
        double sum = 0.0, squares = 0.0;
        for (std::size_t i = 0; i < 37; ++i) {
            double h = 0.0;
            for (std::size_t k = 0; k < 6; ++k) h += static_cast<double>(x(i, k)) * w(j, k);
            sum += h, squares += h * h;
        }
        const double mean = sum / 37, variance = squares / 37 - mean * mean;
        CHECK(norm->running_statistics().mean()(j) == doctest::Approx(mean).epsilon(1e-5));
        CHECK(norm->running_statistics().variance()(j) == doctest::Approx(variance).epsilon(1e-5));
    }
    CHECK(norm->running_statistics().momentum() == kPopulationMomentum);
}

TEST_CASE("population statistics: the network scores the rows as the batch-statistics network scores them all in one batch") {
    Network batch_net = contained_mlp();
    Network population = batch_net;
    const Matrix x = test::random_matrix(40, 6, 5);
    use_population_statistics(population, x, 6);  // the statistics merged over 7 batches
    // In one batch of every row, each norm's batch statistics are its population statistics.
    const Matrix expected = batch_net.forward(x, Mode::Eval);
    const Matrix got = population.forward(x, Mode::Eval);
    for (std::size_t k = 0; k < got.size(); ++k) CHECK(got.data()[k] == doctest::Approx(expected.data()[k]).epsilon(1e-4));
    // A row alone gets the logits it gets among the others.
    const Matrix row = xt::view(x, xt::range(11, 12), xt::all());
    const Matrix alone = population.forward(row, Mode::Eval);
    const Matrix all = population.forward(x, Mode::Eval);
    for (std::size_t j = 0; j < 3; ++j) CHECK(alone(0, j) == all(11, j));
}

TEST_CASE("population statistics: refusals, and norms with running statistics are left alone") {
    Network net = contained_mlp();
    CHECK_THROWS_WITH_AS(use_population_statistics(net, test::random_matrix(1, 6, 1)),
                         "use_population_statistics: needs at least 2 rows, got 1", ConfigError);
    CHECK_THROWS_WITH_AS(use_population_statistics(net, test::random_matrix(9, 6, 1), 3),
                         "use_population_statistics: batch_size must be at least 4", ConfigError);
    Network running;
    running.add(Dense(6, 4, false, 2)).add(BatchNorm(4, true, 1e-5f, 0.3f));
    CHECK(use_population_statistics(running, test::random_matrix(9, 6, 1)) == 0);
    CHECK(running.layer(1).as<BatchNorm>()->running_statistics().momentum() == 0.3f);
    CHECK(running.layer(1).as<BatchNorm>()->running_statistics().mean() == xt::zeros<float>({4}));
}

TEST_CASE("self-contained: a saved model standardises raw rows, carries its metadata, and a Predictor scores them") {
    Dataset train = test::blobs(60, 6, 3, 4, 3.0f), test_rows = test::blobs(20, 6, 3, 9, 3.0f);
    for (auto& v : train.features) v = v * 10.0f + 50.0f;  // raw rows far from standardised
    for (auto& v : test_rows.features) v = v * 10.0f + 50.0f;
    const Dataset raw_test = test_rows;
    const Standardization s = standardize(train, test_rows);
    Network net = contained_mlp();
    use_population_statistics(net, train.features);
    ModelMetadata metadata;
    metadata.class_names = {"red", "green", "blue"};
    metadata.label_column = 6, metadata.label_name = "colour", metadata.population_rows = 60;
    const std::string path = contained_scratch("raw.npz");
    save_model(with_standardization(net, s), path, metadata);
    Predictor predictor(path);
    fs::remove(path);
    CHECK(predictor.metadata().classes == 3);
    CHECK(predictor.metadata().class_names == metadata.class_names);
    CHECK(predictor.metadata().label_column == std::optional<std::size_t>(6));
    CHECK(predictor.metadata().label_name == "colour");
    CHECK(predictor.metadata().population_rows == 60);
    CHECK(predictor.notes().empty());
    CHECK(predictor.class_name(2) == "blue");
    // Raw rows through the file = standardised rows through the trained network (x / sd against
    // x * (1 / sd): the last bit may differ).
    const Matrix expected = log_softmax(net.forward(test_rows.features, Mode::Eval));
    const Matrix got = predictor.log_probabilities(raw_test.features);
    for (std::size_t k = 0; k < got.size(); ++k) CHECK(got.data()[k] == doctest::Approx(expected.data()[k]).epsilon(1e-4));
    const Matrix wide = test::random_matrix(2, 7, 1);
    CHECK(contained_error([&] { predictor.log_probabilities(wide); }) ==
          "predict: 7 features per row, but the model " + path + " takes 6");
    // Trained further, it is the network it was: without the layer, on batch statistics again.
    const Network back = with_batch_statistics(without_standardization(predictor.network()));
    REQUIRE(back.layer_count() == net.layer_count());
    CHECK_FALSE(back.layer(1).as<BatchNorm>()->running_statistics().enabled());
    CHECK(weights_checksum(back) == weights_checksum(net));
}

TEST_CASE("self-contained: a format 1 file (ist 0.1/0.2) loads with notes of what it lacks") {
    const std::string path = contained_scratch("old.npz");
    contained_save_edited(contained_mlp(), path, "\"version\": 2, \"metadata\": {\"classes\": 3}", "\"version\": 1");
    const LoadedModel old = load_model_file(path);
    fs::remove(path);
    CHECK(old.version == 1);
    CHECK(old.metadata.classes == 3);
    CHECK(old.metadata.class_names.empty());
    REQUIRE(old.notes.size() == 3);
    CHECK(old.notes[0] == path + ": model format 1 (ist 0.1/0.2) records no input standardisation, class names or label column");
    CHECK(old.notes[1] == path + ": the model does not standardise its inputs: give it rows standardised as in training");
    CHECK(old.notes[2] == path + ": its batch norms normalise with the statistics of each batch: a row's prediction depends "
                                 "on the rows scored with it");
}

TEST_CASE("self-contained: load_model refuses NaN and infinite weights, a negative eps and wrong metadata") {
    Network net = contained_mlp();
    const auto refusal = [&](const std::string& name, const std::string& from, const std::string& to) {
        const std::string path = contained_scratch(name);
        if (from.empty()) save_model(net, path);
        else contained_save_edited(net, path, from, to);
        const std::string message = contained_error([&] { load_model(path); });
        fs::remove(path);
        return message.substr(std::min(message.size(), message.find(".npz") + 4));
    };
    net.parameter(0).value(2, 3) = NAN;
    CHECK(refusal("nan.npz", "", "") == ": tensor 'dense1.weight' holds NaN at element 15");
    net.parameter(0).value(2, 3) = INFINITY;
    CHECK(refusal("inf.npz", "", "") == ": tensor 'dense1.weight' holds an infinity at element 15");
    net = contained_mlp();
    CHECK(refusal("eps.npz", "\"eps\": 1e-05", "\"eps\": -1") ==
          "[architecture.json]: layers[1] (BatchNorm): BatchNorm: eps must be positive and finite, got -1.000000");
    CHECK(refusal("classes.npz", "{\"classes\": 3}", "{\"classes\": 4}") ==
          "[architecture.json]: metadata: 'classes' is 4, the network outputs 3");
    CHECK(refusal("names.npz", "{\"classes\": 3}", "{\"classes\": 3, \"class_names\": [\"a\"]}") ==
          "[architecture.json]: metadata: 'class_names' must be an array of 3 strings");
    CHECK(refusal("unknown.npz", "{\"classes\": 3}", "{\"classes\": 3, \"colour\": 1}") ==
          "[architecture.json]: metadata: unknown key 'colour'");
    CHECK_THROWS_WITH_AS(save_model(net, contained_scratch("x.npz"), ModelMetadata{0, {"a", "b"}, {}, {}, 0}),
                         "save_model: 2 class names for a network of 3 outputs", ConfigError);
}
