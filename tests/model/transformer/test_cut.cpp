// IST's cut of a transformer: heads, feed-forward neurons, both, or whole blocks (ResIST).
#include <doctest/doctest.h>

#include "layer_gradient.hpp"

using namespace ist;

namespace {

TransformerShape small_shape(std::uint64_t seed) {
    return {.vocabulary = 12, .sequence_length = 6, .width = 8, .heads = 4, .ffn = 6, .blocks = 3, .classes = 3,
            .seed = seed};
}

/// Label = which of the tokens 1, 2, 3 occurs most often (ties to the smaller); lengths 2..6.
Dataset counting_task(std::size_t rows, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    Dataset data{Matrix::from_shape({rows, 6}), {}, 3, "counting", {}};
    for (std::size_t r = 0; r < rows; ++r) {
        const std::size_t length = 2 + rng() % 5;
        std::array<int, 3> counts{};
        for (std::size_t t = 0; t < 6; ++t) {
            const auto token = t < length ? static_cast<std::uint32_t>(1 + rng() % 11) : kPadToken;
            data.features(r, t) = static_cast<float>(token);
            if (token >= 1 && token <= 3) ++counts[token - 1];
        }
        data.labels.push_back(static_cast<std::uint32_t>(std::max_element(counts.begin(), counts.end()) - counts.begin()));
    }
    return data;
}

}  // namespace

TEST_CASE("transformer cut: extract then merge is the identity, for every cut and S = 1..4") {
    const Transformer model(small_shape(1));
    for (std::size_t S = 1; S <= 4; ++S)
        for (TransformerCut cut : {TransformerCut::Heads, TransformerCut::Ffn, TransformerCut::Both}) {
            CAPTURE(S);
            CAPTURE(static_cast<int>(cut));
            const TransformerPartition partition(cut);
            partition.validate(model.dimensions(), S);
            PartitionRng rng(S);
            CHECK(test::same_parameters(test::extract_then_merge(model, partition.plan(model.dimensions(), S, rng)), model));
        }
    const ResistPartition blocks;
    PartitionRng rng(7);
    CHECK(test::same_parameters(test::extract_then_merge(model, blocks.plan(model.dimensions(), 3, rng)), model));
}

TEST_CASE("transformer cut: a worker holds whole heads: their Q, K, V rows and output-projection columns") {
    const Transformer model(small_shape(2));
    PartitionRng rng(3);
    const Plan plan = TransformerPartition(TransformerCut::Heads).plan(model.dimensions(), 2, rng);
    Transformer sub = model.subnet(plan[0], true);
    const std::vector<std::uint32_t>& heads = *plan[0].dims[2];  // block1/heads
    REQUIRE(heads.size() == 2);
    const Tensor& query = sub.parameter(2 + kAttentionFirst + kQueryWeight).value;
    const Tensor& output = sub.parameter(2 + kAttentionFirst + kOutputWeight).value;
    CHECK(query.shape()[0] == 4);  // 2 heads of 2 columns
    CHECK(output.shape()[1] == 4);
    const Tensor& full_query = model.parameter(2 + kAttentionFirst + kQueryWeight).value;
    for (std::size_t c = 0; c < 4; ++c)
        CHECK(query(c, 0) == full_query(heads[c / 2] * 2 + c % 2, 0));
    CHECK(sub.parameter(2 + kHiddenWeight).value.shape()[0] == 6);  // the FFN stays whole
    CHECK(sub.block(0).head_scale() == 2.0f);
    CHECK(sub.block(0).ffn_scale() == 1.0f);
    test::check_model_gradients(sub, test::token_batch(3, 6, 12, {0, 3, 1}, 4), Labels{0, 1, 2});
}

TEST_CASE("transformer cut: a block ResIST leaves out is the identity") {
    const Transformer model(small_shape(3));
    PartitionRng rng(5);
    const Plan plan = ResistPartition().plan(model.dimensions(), 3, rng);
    Transformer sub = model.subnet(plan[1]);
    std::size_t held = 0;
    for (std::size_t b = 0; b < 3; ++b) held += sub.holds_block(b);
    CHECK(held == 1);
    test::check_model_gradients(sub, test::token_batch(3, 6, 12, {0, 3, 1}, 5), Labels{0, 1, 2});
}

TEST_CASE("transformer cut: more workers than heads (or neurons) is refused before training") {
    Transformer model(small_shape(4));
    CHECK_THROWS_WITH_AS(TransformerPartition(TransformerCut::Heads).validate(model.dimensions(), 5),
                         doctest::Contains("S = 5 workers but dimension 'block1/heads' has only 4 indices"), ConfigError);
    CHECK_THROWS_WITH_AS(TransformerPartition(TransformerCut::Ffn).validate(model.dimensions(), 7),
                         doctest::Contains("dimension 'block1/ffn' has only 6 indices"), ConfigError);
    CHECK_THROWS_AS((IstTrainer<Transformer, TransformerPartition>(model, test::test_options(5, 1, 1, 8, 1))), ConfigError);
    CHECK_THROWS_WITH_AS(TransformerPartition(TransformerCut::Heads).validate(make_mlp({4, {8}, 2, Norm::None, 1}).dimensions(), 2),
                         doctest::Contains("the model has no attention heads to cut"), ConfigError);
}

TEST_CASE("transformer cut: S = 1 is plain training, bit for bit, for every cut") {
    const Dataset train = counting_task(120, 1), test_set = counting_task(40, 2);
    for (TransformerCut cut : {TransformerCut::Heads, TransformerCut::Ffn, TransformerCut::Both}) {
        Transformer a(small_shape(5)), b = a;
        const TrainerOptions o = test::test_options(1, 3, 3, 16, 6);
        IstTrainer<Transformer, TransformerPartition> ist(a, o, TransformerPartition(cut));
        IstTrainer<Transformer, FullModel> plain(b, o);
        ist.train(train, test_set);
        plain.train(train, test_set);
        CHECK(test::same_parameters(a, b));
    }
}

TEST_CASE("transformer cut: IST over heads and FFN (S = 2) learns a token-counting task") {
    const Dataset train = counting_task(1200, 3), test_set = counting_task(300, 4);
    Transformer model({.vocabulary = 12, .sequence_length = 6, .width = 16, .heads = 4, .ffn = 32, .blocks = 2,
                       .classes = 3, .seed = 7});
    TrainerOptions o = test::test_options(2, 10, 40, 32, 8);
    o.scale_activations = true;
    IstTrainer<Transformer, TransformerPartition, Adam> trainer(model, o, TransformerPartition(), Adam(3e-3f));
    const auto result = trainer.train(train, test_set);
    MESSAGE("IST (heads + FFN, S = 2) on token counting: test accuracy " << result.final_test->accuracy);
    CHECK(result.final_test->accuracy >= 0.6);
}
