// The ONNX exporter's rules, read back from the protobuf it builds. That the exported models
// compute what ist computes is checked by onnxruntime itself (onnx_matches_ist.py).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <ist/ist.hpp>
#include <ist/onnx/export.hpp>

#include "helpers.hpp"

namespace {

std::vector<std::string> op_types(const onnx::ModelProto& model) {
    std::vector<std::string> ops;
    for (const onnx::NodeProto& n : model.graph().node()) ops.push_back(n.op_type());
    return ops;
}

const onnx::TensorProto* initializer(const onnx::ModelProto& model, const std::string& name) {
    for (const onnx::TensorProto& t : model.graph().initializer())
        if (t.name() == name) return &t;
    return nullptr;
}

std::vector<float> values_of(const onnx::TensorProto& t) { return {t.float_data().begin(), t.float_data().end()}; }

/// y = x * sigmoid(x): a user's layer type that model files and ONNX know nothing of.
struct OnnxTestSwish {
    static constexpr bool opens_dimension = false;
    void forward(const ist::Matrix& x, ist::Matrix& y, ist::Mode) { y = x / (1.0f + xt::exp(-x)); }
    void backward(const ist::Matrix&, const ist::Matrix&, const ist::Matrix& dy, ist::Matrix* dx) {
        if (dx) *dx = dy;
    }
    std::span<ist::Parameter> parameters() { return {}; }
    std::span<const ist::Parameter> parameters() const { return {}; }
};

/// The same, registered for ONNX below (a type of its own: registrations are global).
struct OnnxTestRegisteredSwish : OnnxTestSwish {};

std::string scratch(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("ist_onnx_" + name)).string();
}

}  // namespace

TEST_CASE("onnx export: an MLP is Gemm nodes over the model file's tensors, with logits, probabilities and class") {
    ist::Network net;
    net.add(ist::Dense(5, 4, true, 1)).add(ist::ReLU()).add(ist::Dropout(0.5f)).add(ist::Dense(4, 3, false, 2));
    const onnx::ModelProto model = ist::to_onnx(net);
    CHECK(model.opset_import(0).version() == 17);
    CHECK(model.ir_version() == 8);
    // Dropout is the identity in evaluation: no node.
    CHECK(op_types(model) == std::vector<std::string>{"Gemm", "Relu", "Gemm", "Identity", "Softmax", "ArgMax"});
    REQUIRE(model.graph().input_size() == 1);
    CHECK(model.graph().input(0).name() == "input");
    CHECK(model.graph().input(0).type().tensor_type().shape().dim(1).dim_value() == 5);
    std::vector<std::string> outputs;
    for (const auto& o : model.graph().output()) outputs.push_back(o.name());
    CHECK(outputs == std::vector<std::string>{"logits", "probabilities", "class"});
    CHECK(model.graph().output(2).type().tensor_type().elem_type() == onnx::TensorProto::INT64);
    const onnx::TensorProto* w = initializer(model, "dense2.weight");
    REQUIRE(w != nullptr);
    CHECK(std::vector<std::int64_t>(w->dims().begin(), w->dims().end()) == std::vector<std::int64_t>{3, 4});
    const ist::Tensor& expected = net.layer(3).parameters()[0].value;
    CHECK(values_of(*w) == std::vector<float>(expected.begin(), expected.end()));
    CHECK(initializer(model, "dense2.bias") == nullptr);  // built without a bias
}

TEST_CASE("onnx export: a subnet's activation scale is Gemm's alpha") {
    ist::Network net;
    net.add(ist::Dense(4, 3, true, 1));
    net.layer(0).set_input_scale(2.5f);
    const onnx::ModelProto model = ist::to_onnx(net);
    const onnx::NodeProto& gemm = model.graph().node(0);
    float alpha = 0.0f;
    for (const onnx::AttributeProto& a : gemm.attribute())
        if (a.name() == "alpha") alpha = a.f();
    CHECK(alpha == 2.5f);
}

TEST_CASE("onnx export: a layer type without a mapping is named, and nothing is written") {
    ist::Network net;
    net.add(ist::Dense(4, 3, true, 1)).add(OnnxTestSwish()).add(ist::Dense(3, 2, true, 2));
    const std::string path = scratch("unmapped.onnx");
    std::filesystem::remove(path);
    std::string message;
    try {
        ist::export_onnx(net, path);
    } catch (const ist::ConfigError& e) {
        message = e.what();
    }
    CHECK(message.find("export_onnx: layer 1 of 3 (") == 0);
    CHECK(message.find("OnnxTestSwish) has no ONNX mapping (ist::register_onnx_layer)") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("onnx export: a user's layer type registered with register_onnx_layer is written by its emit function") {
    ist::register_onnx_layer<OnnxTestRegisteredSwish>("swish", [](const OnnxTestRegisteredSwish&, ist::OnnxGraph& g, const ist::OnnxValue& x) {
        return ist::OnnxValue{g.node("Mul", {x.name, g.node("Sigmoid", {x.name})}), x.dims};
    });
    ist::Network net;
    net.add(ist::Dense(4, 3, true, 1)).add(OnnxTestRegisteredSwish()).add(ist::Dense(3, 2, true, 2));
    const onnx::ModelProto model = ist::to_onnx(net);
    CHECK(op_types(model) == std::vector<std::string>{"Gemm", "Sigmoid", "Mul", "Gemm", "Identity", "Softmax", "ArgMax"});
    CHECK(model.graph().node(1).name() == "swish1/Sigmoid");  // named by its prefix, as model files name layers
}

TEST_CASE("onnx export: population statistics are BatchNormalization; batch statistics are computed in the graph or refused") {
    ist::Network running;
    running.add(ist::Dense(6, 4, true, 1)).add(ist::BatchNorm(4, true, 1e-3f, 0.1f));
    ist::refresh_running_statistics(running, ist::test::random_matrix(32, 6, 3), 8);
    const onnx::ModelProto model = ist::to_onnx(running);
    CHECK(op_types(model)[1] == "BatchNormalization");
    const ist::BatchNorm& bn = *running.layer(1).as<ist::BatchNorm>();
    const ist::Tensor& mean = bn.running_statistics().mean();
    REQUIRE(initializer(model, "norm1.running_mean") != nullptr);
    CHECK(values_of(*initializer(model, "norm1.running_mean")) == std::vector<float>(mean.begin(), mean.end()));
    CHECK(model.graph().node(1).attribute(0).f() == 1e-3f);  // epsilon

    ist::Network batch;
    batch.add(ist::Dense(6, 4, true, 1)).add(ist::BatchNorm(4, false));
    const std::vector<std::string> ops = op_types(ist::to_onnx(batch));
    // mean, x - mean, its square, the variance, + eps, sqrt, 1 / sqrt, times: no affine part.
    CHECK(std::vector<std::string>(ops.begin() + 1, ops.begin() + 9) ==
          std::vector<std::string>{"ReduceMean", "Sub", "Mul", "ReduceMean", "Add", "Sqrt", "Reciprocal", "Mul"});
    ist::OnnxExportOptions refuse;
    refuse.batch_statistics = ist::OnnxBatchStatistics::Refuse;
    CHECK_THROWS_WITH_AS(ist::to_onnx(batch, refuse), doctest::Contains("export_onnx: norm1 normalises with the statistics of each batch"),
                         ist::ConfigError);
    CHECK_NOTHROW(ist::to_onnx(running, refuse));
}

TEST_CASE("onnx export: a residual branch is scaled by its evaluation scale, and a block a subnet lacks is its shortcut") {
    ist::Network net = ist::make_residual_mlp({.inputs = 6, .width = 4, .hidden = 5, .classes = 3, .blocks = 2});
    const auto& blocks = net.topology()->blocks();
    net.set_unit_scale(blocks[1].unit, 0.25f);
    const onnx::ModelProto model = ist::to_onnx(net);
    REQUIRE(initializer(model, "block2.branch_scale") != nullptr);
    CHECK(values_of(*initializer(model, "block2.branch_scale")) == std::vector<float>{0.25f});
    CHECK(initializer(model, "block1.branch_scale") == nullptr);  // scale 1: a plain sum
    std::size_t adds_of_blocks = 0;
    for (const onnx::NodeProto& n : model.graph().node()) adds_of_blocks += n.name().rfind("block", 0) == 0 && n.op_type() == "Add" &&
                                                                             n.name().find('/') == 6;
    CHECK(adds_of_blocks == 2);
}

TEST_CASE("onnx export: an unwritable path is a DataError naming it, and leaves no file") {
    ist::Network net;
    net.add(ist::Dense(4, 3, true, 1));
    CHECK_THROWS_WITH_AS(ist::export_onnx(net, "/nonexistent-folder/m.onnx"),
                         doctest::Contains("/nonexistent-folder/m.onnx"), ist::DataError);
    CHECK_THROWS_WITH_AS(ist::detail::require_writable("/nonexistent-folder/m.onnx", "--onnx"),
                         "--onnx: cannot write /nonexistent-folder/m.onnx (no such folder, or not writable)", ist::DataError);
    const std::string path = scratch("written.onnx");
    ist::export_onnx(net, path);
    onnx::ModelProto back;
    std::ifstream in(path, std::ios::binary);
    REQUIRE(back.ParseFromIstream(&in));
    CHECK(back.graph().node_size() == 4);
    std::filesystem::remove(path);
}
