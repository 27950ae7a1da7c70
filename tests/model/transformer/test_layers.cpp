// Gradients of the transformer's layers against central finite differences, and their errors.
#include <doctest/doctest.h>

#include "layer_gradient.hpp"

using namespace ist;

namespace {
// Three sequences of four positions; the second ends in two padding tokens.
SequenceMask three_sequences() {
    SequenceMask mask = SequenceMask::dense(3, 4);
    mask.real[6] = mask.real[7] = 0;
    return mask;
}
}  // namespace

TEST_CASE("transformer: GELU gradient") {
    test::check_layer_gradients(Gelu(), test::random_matrix(5, 6, 1), true, 1);
}

TEST_CASE("transformer: LayerNorm with gain and bias, gradient") {
    AffineLayerNorm norm(6);
    detail::RandomEngine rng(4);
    for (Parameter& p : norm.parameters()) detail::fill_uniform(p.value, rng, -1.0f, 1.0f);
    test::check_layer_gradients(norm, test::random_matrix(5, 6, 2), true, 2);
}

TEST_CASE("transformer: token embedding gradient, and ids outside the vocabulary are refused") {
    const Matrix ids = test::token_batch(3, 4, 7, {0, 2, 1}, 3);
    test::check_layer_gradients(TokenEmbedding(7, 5, 3), ids, false, 3);
    TokenEmbedding embedding(7, 5, 3);
    Matrix y;
    CHECK_THROWS_WITH_AS(embedding.forward(Matrix{{1.0f, 7.0f}}, y, Mode::Train),
                         doctest::Contains("token id 7.000000 at sequence 0, position 1 is outside the vocabulary of 7 ids"),
                         DataError);
    CHECK_THROWS_AS(embedding.forward(Matrix{{1.5f, 2.0f}}, y, Mode::Train), DataError);
    CHECK_THROWS_AS(embedding.forward(Matrix{{-1.0f, 2.0f}}, y, Mode::Train), DataError);
}

TEST_CASE("transformer: positional embedding gradient, and sequences longer than the table are refused") {
    PositionalEmbedding positions(4, 5, 4);
    positions.set_sequences(three_sequences());
    test::check_layer_gradients(positions, test::random_matrix(12, 5, 4), true, 4);
    CHECK_THROWS_WITH_AS(positions.set_sequences(SequenceMask::dense(2, 5)),
                         doctest::Contains("sequences of 5 tokens are longer than the positional table (4 positions)"),
                         DataError);
}

TEST_CASE("transformer: multi-head self-attention gradient, padded and causal") {
    for (bool causal : {false, true}) {
        CAPTURE(causal);
        MultiHeadSelfAttention attention(6, 3, causal, 5);
        attention.set_sequences(three_sequences());
        test::check_layer_gradients(attention, test::random_matrix(12, 6, 5), true, 5);
    }
}

TEST_CASE("transformer: attention ignores padding tokens and, when causal, later tokens") {
    MultiHeadSelfAttention attention(4, 2, true, 6);
    attention.set_sequences(three_sequences());
    Matrix x = test::random_matrix(12, 4, 6), y, changed_y;
    attention.forward(x, y, Mode::Eval);
    x(6, 0) += 5.0f;  // a padding row of sequence 2
    x(11, 1) -= 3.0f; // the last token of sequence 3: only its own output may change
    attention.forward(x, changed_y, Mode::Eval);
    for (std::size_t r : {0u, 1u, 2u, 3u, 4u, 5u, 8u, 9u, 10u})
        for (std::size_t j = 0; j < 4; ++j) CHECK(changed_y(r, j) == y(r, j));
}

TEST_CASE("transformer: heads that do not divide the width are refused") {
    CHECK_THROWS_WITH_AS(MultiHeadSelfAttention(10, 4), doctest::Contains("4 heads do not divide the width 10"), ConfigError);
    CHECK_THROWS_AS(TransformerBlock({.width = 10, .heads = 3, .ffn = 4}), ConfigError);
}

TEST_CASE("transformer: pre-norm block gradient, full and with activation scales") {
    for (float scale : {1.0f, 2.0f}) {
        CAPTURE(scale);
        TransformerBlock block({.width = 6, .heads = 2, .ffn = 5}, 7);
        block.set_sequences(three_sequences());
        block.set_branch_scales(scale, 1.5f * scale);
        detail::RandomEngine rng(7);
        for (std::size_t i : {kNorm1Gain, kNorm1Bias, kNorm2Gain, kNorm2Bias})
            detail::fill_uniform(block.parameters()[i].value, rng, 0.5f, 1.5f);
        test::check_layer_gradients(block, test::random_matrix(12, 6, 7), true, 7);
    }
}

TEST_CASE("transformer: mean pooling gradient over real tokens only") {
    MeanPooling pooling;
    pooling.set_sequences(three_sequences());
    const Matrix x = test::random_matrix(12, 3, 8);
    test::check_layer_gradients(pooling, x, true, 8);
    Matrix y;
    pooling.forward(x, y, Mode::Eval);
    CHECK(y(1, 0) == doctest::Approx((x(4, 0) + x(5, 0)) / 2));
}

TEST_CASE("transformer: whole model gradient (embeddings, 2 blocks, norm, pooling, head)") {
    const Transformer model({.vocabulary = 9, .sequence_length = 4, .width = 6, .heads = 2, .ffn = 5, .blocks = 2,
                             .classes = 3, .seed = 9});
    test::check_model_gradients(model, test::token_batch(3, 4, 9, {0, 2, 1}, 9), Labels{0, 2, 1});
}

TEST_CASE("transformer: bad shapes are refused before training") {
    CHECK_THROWS_WITH_AS(Transformer({.vocabulary = 9, .sequence_length = 8, .positions = 6, .width = 6, .heads = 2}),
                         doctest::Contains("sequences of 8 tokens are longer than the positional table (6 positions)"),
                         ConfigError);
    CHECK_THROWS_AS(Transformer({.vocabulary = 9, .sequence_length = 4, .width = 6, .heads = 4}), ConfigError);
    const Transformer model({.vocabulary = 9, .sequence_length = 4, .width = 6, .heads = 2, .classes = 2});
    Dataset data{test::token_batch(2, 4, 9, {0, 0}, 1), {0, 1}, 2, "tokens", {}};
    data.features(1, 2) = 12.0f;
    CHECK_THROWS_WITH_AS(model.check_tokens(data), doctest::Contains("token id 12.000000 at sequence 1, position 2"), DataError);
}
