// The vocabulary cut: a worker holds only the token-embedding rows its round's batches use, and
// each row is averaged over the workers that held it.
#include <algorithm>
#include <set>

#include <doctest/doctest.h>

#include "layer_gradient.hpp"
#include "skewed_tokens.hpp"

using namespace ist;

namespace {

using test::kLength;
using test::kVocabulary;
using test::kWidth;
using test::skewed_tokens;

std::size_t parameter_elements(const Transformer& model) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < model.parameter_count(); ++i) n += model.parameter(i).value.size();
    return n;
}

/// Distinct token ids in `rows` of `data`.
std::size_t distinct_ids(const Dataset& data, const std::vector<std::uint32_t>& rows) {
    std::set<float> ids;
    for (std::uint32_t r : rows)
        for (std::size_t t = 0; t < kLength; ++t) ids.insert(data.features(r, t));
    return ids.size();
}

}  // namespace

TEST_CASE("vocabulary cut: extract then merge is the identity, rows held by several workers or none") {
    const Transformer model(test::vocabulary_shape(1));
    const Dataset data = skewed_tokens(40, 1);
    for (std::size_t S = 1; S <= 3; ++S) {
        CAPTURE(S);
        VocabularyCut<TransformerPartition> cut(TransformerPartition(TransformerCut::Both));
        cut.validate(model.dimensions(), S);
        PartitionRng rng(S);
        Plan plan = cut.plan(model.dimensions(), S, rng);
        std::vector<std::vector<std::uint32_t>> rows(S);
        for (std::size_t s = 0; s < S; ++s)
            for (std::uint32_t r = 0; r < 6; ++r) rows[s].push_back(static_cast<std::uint32_t>(4 * s + r));  // overlapping
        cut.refine(plan, model.dimensions(), data, rows);
        const IndexSet& held = plan[0].dims[static_cast<std::size_t>(model.vocabulary_dim())];
        REQUIRE(held);
        CHECK(held->size() == distinct_ids(data, rows[0]));
        CHECK(held->size() < kVocabulary);
        CHECK(model.subnet(plan[0]).parameter(0).value.shape()[0] == held->size());
        CHECK(test::same_parameters(test::extract_then_merge(model, plan), model));
    }
}

TEST_CASE("vocabulary cut: a subnet looks its tokens up among its rows, with exact gradients, and refuses others") {
    const Transformer model(test::vocabulary_shape(2));
    const Dataset data = skewed_tokens(8, 2);
    VocabularyCut<FullModel> cut;
    PartitionRng rng(1);
    Plan plan = cut.plan(model.dimensions(), 1, rng);
    cut.refine(plan, model.dimensions(), data, {{0, 1, 2}});
    Transformer sub = model.subnet(plan[0]);
    const Matrix batch = xt::view(data.features, xt::range(0, 3), xt::all());
    const Labels labels{data.labels[0], data.labels[1], data.labels[2]};
    Transformer full = model;
    CHECK(sub.loss_and_gradient(batch, labels) == full.loss_and_gradient(batch, labels));  // the same rows, looked up
    test::check_model_gradients(sub, batch, labels);
    Matrix other = batch;
    other(0, 0) = static_cast<float>(kVocabulary - 1);
    const std::vector<std::uint32_t>& held = *plan[0].dims[static_cast<std::size_t>(model.vocabulary_dim())];
    REQUIRE(!std::binary_search(held.begin(), held.end(), kVocabulary - 1));
    CHECK_THROWS_WITH_AS(sub.forward(other, Mode::Eval), doctest::Contains("is not among the"), DataError);
    CHECK_THROWS_WITH_AS(VocabularyCut<NeuronPartition>().validate(make_mlp({4, {8}, 2, Norm::None, 1}).dimensions(), 2),
                         doctest::Contains("no 'vocabulary' dimension"), ConfigError);
}

TEST_CASE("vocabulary cut: S = 1 is plain training bit for bit (SGD, and Adam with its moments reset)") {
    const Dataset train = skewed_tokens(120, 3), test_set = skewed_tokens(40, 4);
    const TrainerOptions o = test::test_options(1, 3, 4, 8, 6);
    Transformer a(test::vocabulary_shape(5)), b = a, c = a, d = a;
    IstTrainer<Transformer, VocabularyCut<FullModel>> cut_sgd(a, o);
    IstTrainer<Transformer, FullModel> plain_sgd(b, o);
    IstTrainer<Transformer, VocabularyCut<FullModel>, Adam> cut_adam(c, o, {}, Adam(1e-2f));
    IstTrainer<Transformer, FullModel, Adam> plain_adam(d, o, {}, Adam(1e-2f));
    const TrainResult cut = cut_sgd.train(train, test_set), plain = plain_sgd.train(train, test_set);
    cut_adam.train(train, test_set);
    plain_adam.train(train, test_set);
    CHECK(test::same_parameters(a, b));
    CHECK(test::same_parameters(c, d));
    CHECK(cut.history[0].bytes < plain.history[0].bytes);  // the cut did cut
}

TEST_CASE("vocabulary cut: bytes per round = the subnets with the rows their batches use") {
    const Dataset train = skewed_tokens(200, 5), test_set = skewed_tokens(20, 6);
    const TrainerOptions o = test::test_options(3, 2, 3, 8, 7);
    Transformer model(test::vocabulary_shape(7));
    const std::size_t whole = parameter_elements(model);
    IstTrainer<Transformer, VocabularyCut<FullModel>> trainer(model, o);
    const TrainResult result = trainer.train(train, test_set);
    // The trainer's own streams, replayed: each worker's l batches per round, drawn in order.
    std::vector<std::vector<std::uint32_t>> pools = worker_row_pools(train.size(), o);
    std::vector<BatchSampler> samplers;
    for (std::size_t s = 0; s < 3; ++s) samplers.push_back(worker_sampler(std::move(pools[s]), o, s));
    for (std::size_t round = 0; round < o.rounds; ++round) {
        std::uint64_t expected = 0;
        for (BatchSampler& sampler : samplers) {
            std::vector<std::uint32_t> rows;
            for (std::size_t t = 0; t < o.local_steps; ++t) {
                const std::vector<std::uint32_t>& batch = sampler.take(o.batch_size);
                rows.insert(rows.end(), batch.begin(), batch.end());
            }
            // Received and sent back: the whole model less the embedding rows it does not hold.
            expected += 2 * sizeof(float) * (whole - (kVocabulary - distinct_ids(train, rows)) * kWidth);
        }
        CAPTURE(round);
        CHECK(result.history[round].bytes == expected);
    }
}

TEST_CASE("vocabulary cut: workers on threads train the same model as one after the other") {
    const Dataset train = skewed_tokens(150, 8), test_set = skewed_tokens(20, 9);
    TrainerOptions o = test::test_options(3, 3, 3, 8, 9);
    o.scale_activations = true;
    Transformer a(test::vocabulary_shape(9)), b = a;
    using Trainer = IstTrainer<Transformer, VocabularyCut<TransformerPartition>, Adam>;
    const VocabularyCut cut(TransformerPartition(TransformerCut::Both));
    static_assert(std::same_as<decltype(cut), const VocabularyCut<TransformerPartition>>);
    Trainer serial(a, o, cut, Adam(1e-2f), {}, ThreadsTransport({.concurrency = 1}));
    Trainer threads(b, o, cut, Adam(1e-2f), {}, ThreadsTransport({.concurrency = 3}));
    serial.train(train, test_set);
    threads.train(train, test_set);
    CHECK(test::same_parameters(a, b));
    CHECK(!test::same_parameters(a, Transformer(test::vocabulary_shape(9))));
}
