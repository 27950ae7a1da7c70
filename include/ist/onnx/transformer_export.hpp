#pragma once
// ONNX export of ist::Transformer (opset 17: Gather, LayerNormalization, MatMul, Softmax and
// element-wise ops; GELU as Erf). The model reads "tokens" (batch x sequence_length token ids as
// floats, 0 = padding, as ist's data holds them) and writes "logits", "probabilities" and "class".
#include <cmath>
#include <string>
#include <vector>

#include <onnx/onnx_pb.h>

#include "ist/core/error.hpp"
#include "ist/io/atomic_file.hpp"
#include "ist/model/transformer/transformer.hpp"
#include "ist/onnx/export.hpp"

namespace ist {

namespace detail {

/// Writes a Transformer's nodes: the values every block reads ([B, T, D] streams) and the masks.
class TransformerExport {
public:
    TransformerExport(const Transformer& model, OnnxGraph& g) : model_(model), g_(g) {}

    OnnxValue run(const std::string& tokens) {
        const TransformerShape& shape = model_.shape();
        const auto length = static_cast<std::int64_t>(shape.sequence_length), width = static_cast<std::int64_t>(shape.width);
        const Tensor& table = model_.parameter(0).value;
        require(table.shape()[0] == shape.vocabulary, "export_onnx: this transformer holds " + std::to_string(table.shape()[0]) +
                                                          " of the " + std::to_string(shape.vocabulary) +
                                                          " vocabulary rows (a subnet): export the full model");
        g_.set_scope("");
        // 1 for a token, 0 for padding, per position: [B, T].
        real_ = g_.node("Cast", {g_.node("Not", {g_.node("Equal", {tokens, g_.scalar("pad", 0.0f)})})},
                        {{"to", std::int64_t{onnx::TensorProto::FLOAT}}});
        visible_ = key_visibility(length);
        g_.set_scope("embedding");
        const std::string ids = g_.node("Cast", {tokens}, {{"to", std::int64_t{onnx::TensorProto::INT64}}});
        std::string x = g_.node("Gather", {g_.constant(model_.parameter(0).name, table), ids});
        g_.set_scope("positions");
        const Tensor& positions = model_.parameter(1).value;
        x = g_.node("Add", {x, g_.constant(model_.parameter(1).name,
                                           std::vector<float>(positions.begin(), positions.begin() + length * width),
                                           {length, width})});
        const std::size_t first_final = 2 + shape.blocks * kBlockParameters;
        for (std::size_t b = 0; b < shape.blocks; ++b) {
            if (!model_.holds_block(b)) continue;  // a ResIST subnet without the block: the identity
            g_.set_scope("block" + std::to_string(b + 1));
            x = block(model_.block(b), x);
        }
        g_.set_scope("final_norm");
        const std::string normed = layer_norm(x, first_final, model_.final_norm_eps());
        g_.set_scope("pooling");
        const std::string pooled = mean_over_tokens(normed);
        g_.set_scope("head");
        const Parameter& w = model_.parameter(first_final + 2);
        const Parameter& b = model_.parameter(first_final + 3);
        const std::string logits =
            g_.node("Gemm", {pooled, g_.constant(w.name, w.value), g_.constant(b.name, b.value)}, {{"transB", std::int64_t{1}}});
        return {logits, {static_cast<std::int64_t>(shape.classes)}};
    }

private:
    /// 1 where a query may attend a key, 0 elsewhere, broadcasting against the scores [B, H, T, T]:
    /// the keys that are tokens ([B, 1, 1, T]) and, when causal, not after the query.
    std::string key_visibility(std::int64_t length) {
        const std::string keys = g_.node("Unsqueeze", {real_, g_.int64s("key_axes", {1, 2})});
        if (!model_.shape().causal) return keys;
        std::vector<float> lower(static_cast<std::size_t>(length * length), 0.0f);
        for (std::int64_t q = 0; q < length; ++q)
            for (std::int64_t k = 0; k <= q; ++k) lower[static_cast<std::size_t>(q * length + k)] = 1.0f;
        return g_.node("Mul", {keys, g_.constant("causal", lower, {length, length})});
    }

    /// Affine layer norm over the last axis with parameters first, first + 1 of the model.
    std::string layer_norm(const std::string& x, std::size_t first, float eps) {
        const Parameter& gain = model_.parameter(first);
        const Parameter& bias = model_.parameter(first + 1);
        return g_.node("LayerNormalization", {x, g_.constant(gain.name, gain.value), g_.constant(bias.name, bias.value)},
                       {{"axis", std::int64_t{-1}}, {"epsilon", eps}});
    }

    /// scale * x W^T + b over the last axis (W out x in, stored transposed as MatMul takes it).
    std::string linear(const std::string& x, const Parameter& w, const Parameter& b, float scale = 1.0f) {
        const std::size_t out = w.value.shape()[0], in = w.value.shape()[1];
        std::vector<float> transposed(out * in);
        for (std::size_t i = 0; i < out; ++i)
            for (std::size_t j = 0; j < in; ++j) transposed[j * out + i] = w.value.data()[i * in + j];
        std::string y = g_.node("MatMul", {x, g_.constant(w.name, transposed, {static_cast<std::int64_t>(in),
                                                                                static_cast<std::int64_t>(out)})});
        if (scale != 1.0f) y = g_.node("Mul", {y, g_.scalar(w.name + "_scale", scale)});
        return g_.node("Add", {y, g_.constant(b.name, b.value)});
    }

    /// a + scale * b, as the block adds a branch to its stream.
    std::string add_branch(const std::string& a, std::string b, float scale) {
        if (scale != 1.0f) b = g_.node("Mul", {b, g_.scalar("branch_scale", scale)});
        return g_.node("Add", {a, b});
    }

    std::string block(const TransformerBlock& block, const std::string& x) {
        const std::span<const Parameter> p = block.parameters();
        const std::string attended = attention(block, layer_norm_of(block, x, kNorm1Gain));
        const std::string h = add_branch(x, attended, block.eval_scale());
        const std::string hidden = linear(layer_norm_of(block, h, kNorm2Gain), p[kHiddenWeight], p[kHiddenBias]);
        const std::string activated = onnx_layers::gelu(g_, {hidden, {}}).name;
        const std::string ffn = linear(activated, p[kFfnOutputWeight], p[kFfnOutputBias], block.ffn_scale());
        return add_branch(h, ffn, block.eval_scale());
    }

    std::string layer_norm_of(const TransformerBlock& block, const std::string& x, std::size_t gain) {
        const std::span<const Parameter> p = block.parameters();
        return g_.node("LayerNormalization", {x, g_.constant(p[gain].name, p[gain].value), g_.constant(p[gain + 1].name, p[gain + 1].value)},
                       {{"axis", std::int64_t{-1}}, {"epsilon", block.norm_eps()}});
    }

    /// Multi-head self-attention: [B, T, C] projections split into heads [B, H, T, dh], scaled dot
    /// products, softmax over the visible keys (a query that sees none attends to nothing, as in
    /// ist), heads joined and projected.
    std::string attention(const TransformerBlock& block, const std::string& x) {
        const std::span<const Parameter> p = block.parameters().subspan(kAttentionFirst, kAttentionParameters);
        const auto head_width = static_cast<std::int64_t>(block.head_width());
        const auto columns = static_cast<std::int64_t>(p[kQueryWeight].value.shape()[0]);
        const std::string split = g_.int64s("head_shape", {0, 0, columns / head_width, head_width});
        const auto heads_of = [&](std::size_t w, std::vector<std::int64_t> perm) {
            const std::string projected = linear(x, p[w], p[w + 1]);
            return g_.node("Transpose", {g_.node("Reshape", {projected, split})}, {{"perm", std::move(perm)}});
        };
        const std::string query = heads_of(kQueryWeight, {0, 2, 1, 3});
        const std::string key = heads_of(kKeyWeight, {0, 2, 3, 1});
        const std::string value = heads_of(kValueWeight, {0, 2, 1, 3});
        const std::string scores = g_.node("Mul", {g_.node("MatMul", {query, key}),
                                                   g_.scalar("inv_sqrt_width", 1.0f / std::sqrt(static_cast<float>(head_width)))});
        // Hidden keys get -1e30 (exp underflows to 0); multiplying by the visibility zeroes the rows
        // that see no key at all, whose softmax would otherwise be uniform.
        const std::string hide = g_.node("Mul", {g_.node("Sub", {visible_, g_.scalar("one", 1.0f)}), g_.scalar("hidden", 1e30f)});
        const std::string weights =
            g_.node("Mul", {g_.node("Softmax", {g_.node("Add", {scores, hide})}, {{"axis", std::int64_t{-1}}}), visible_});
        const std::string heads = g_.node("Transpose", {g_.node("MatMul", {weights, value})}, {{"perm", std::vector<std::int64_t>{0, 2, 1, 3}}});
        const std::string joined = g_.node("Reshape", {heads, g_.int64s("joined_shape", {0, 0, columns})});
        return linear(joined, p[kOutputWeight], p[kOutputBias], block.head_scale());
    }

    /// Each sequence's mean over its tokens (padding left out; zeros for a sequence of padding only).
    std::string mean_over_tokens(const std::string& x) {
        const std::string weights = g_.node("Unsqueeze", {real_, g_.int64s("token_axis", {2})});
        const std::string sums = g_.node("ReduceSum", {g_.node("Mul", {x, weights}), g_.int64s("sequence_axis", {1})},
                                         {{"keepdims", std::int64_t{0}}});
        const std::string counts = g_.node("ReduceSum", {real_, g_.int64s("sequence_axis", {1})}, {{"keepdims", std::int64_t{1}}});
        return g_.node("Mul", {sums, g_.node("Reciprocal", {g_.node("Max", {counts, g_.scalar("one", 1.0f)})})});
    }

    const Transformer& model_;
    OnnxGraph& g_;
    std::string real_, visible_;
};

}  // namespace detail

/// The ONNX model of `model` as it evaluates (Mode::Eval): blocks carry their evaluation scale,
/// and a subnet's missing blocks are left out (the identity). Throws ConfigError for a subnet
/// holding part of the vocabulary.
inline onnx::ModelProto to_onnx(const Transformer& model, const OnnxExportOptions& options = {}) {
    onnx::ModelProto proto = detail::onnx_model(options);
    OnnxGraph g(*proto.mutable_graph(), options);
    g.input("tokens", {static_cast<std::int64_t>(model.shape().sequence_length)});
    detail::TransformerExport exporter(model, g);
    detail::classifier_outputs(g, exporter.run("tokens"));
    return proto;
}

/// Writes to_onnx(model, options) to `path` (atomically: the old file or the new one).
inline void export_onnx(const Transformer& model, const std::string& path, const OnnxExportOptions& options = {}) {
    detail::write_file_atomically(path, detail::serialized(to_onnx(model, options)));
}

}  // namespace ist
