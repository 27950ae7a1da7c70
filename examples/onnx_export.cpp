// Export a trained model as ONNX (opset 17) for onnxruntime and other runtimes: ist::export_onnx
// writes the file through libonnx's protobuf classes; ONNX's own checker (libonnx's C++ one)
// accepts it, and it holds the model's weights under the model file's names. docs/onnx.md runs
// such a file in onnxruntime and compares its probabilities with ist's.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

#include <onnx/checker.h>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>
#include <ist/onnx/export.hpp>

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {128}, 10});  // Dense -> BatchNorm -> ReLU -> Dense -> BatchNorm
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 30, .batch_size = 64, .eval_every = 0};
    const double accuracy = ist::IstTrainer(net, options).train(train, test).final_test->accuracy;

    const char* path = "onnx_export.onnx";
    ist::export_onnx(net, path);  // input "input"; outputs "logits", "probabilities", "class"

    onnx::ModelProto model;
    std::ifstream file(path, std::ios::binary);
    const bool parsed = model.ParseFromIstream(&file);
    std::remove(path);
    onnx::checker::check_model(model);  // throws onnx::checker::ValidationError on a malformed model
    const ist::Tensor& weight = net.parameter(0).value;
    bool same_weight = false;
    for (const onnx::TensorProto& t : model.graph().initializer())
        if (t.name() == "dense1.weight")
            same_weight = std::equal(t.float_data().begin(), t.float_data().end(), weight.begin(), weight.end());
    std::cout << "trained to test accuracy " << accuracy << "; " << path << ": opset " << model.opset_import(0).version()
              << ", " << model.graph().node_size() << " nodes, checker passed, dense1.weight "
              << (same_weight ? "as trained" : "DIFFERS") << '\n';
    return parsed && same_weight && accuracy > 0.9 ? 0 : 1;
}
