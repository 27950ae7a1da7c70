// ist-export: writes a saved model (ist-train --save-model, ist::save_model) as an ONNX model that
// onnxruntime and other runtimes score (docs/onnx.md).
//
//   ist-export --model m.npz --onnx m.onnx
//   ist-export --model m.npz --onnx m.onnx --batch-statistics refuse
//   ist-export --help
#include <iostream>
#include <string>
#include <vector>

#include <ist/ist.hpp>
#include <ist/onnx/export.hpp>

#include "cli.hpp"

namespace {

struct Config {
    std::string model, onnx, batch_statistics = "in-graph";
};

Config parse(int argc, char** argv) {
    Config c;
    ist::cli::Options cli("ist-export",
                          "Writes a model file as ONNX (opset 17): input 'input' (batch x features, the rows the\n"
                          "model takes), outputs 'logits', 'probabilities' and 'class'. See docs/onnx.md.");
    cli.text("--model", c.model, "PATH", "the model file (.npz from ist-train --save-model or ist::save_model)");
    cli.text("--onnx", c.onnx, "PATH", "the ONNX file to write");
    cli.choice("--batch-statistics", c.batch_statistics, {"in-graph", "refuse"}, "WHAT",
               "a BatchNorm without running statistics (the reference network's): in-graph\n"
               "(default) computes each batch's statistics in the ONNX graph, as ist does;\n"
               "refuse stops with an error naming it");
    cli.parse(argc, argv);
    if (c.model.empty()) throw ist::ConfigError("--model is required (a model file from ist-train --save-model)");
    if (c.onnx.empty()) throw ist::ConfigError("--onnx is required (the ONNX file to write)");
    return c;
}

/// The layers that normalise with the statistics of each batch, by their names in the file.
std::vector<std::string> batch_statistics_layers(const ist::Network& net) {
    std::vector<std::string> names;
    ist::detail::for_each_named_layer(net, ist::layer_registry(), [&](std::size_t l, const std::string& name) {
        const auto* bn = net.layer(l).as<ist::BatchNorm>();
        const auto* bn2d = net.layer(l).as<ist::BatchNorm2d>();
        if ((bn && !bn->running_statistics().enabled()) || (bn2d && !bn2d->running_statistics().enabled()))
            names.push_back(name);
    });
    return names;
}

int run(const Config& c) {
    ist::detail::require_writable(c.onnx, "--onnx");
    const ist::Network net = ist::load_model(c.model);
    ist::OnnxExportOptions options;
    if (c.batch_statistics == "refuse") options.batch_statistics = ist::OnnxBatchStatistics::Refuse;
    const onnx::ModelProto model = ist::to_onnx(net, options);
    ist::detail::write_file_atomically(c.onnx, ist::detail::serialized(model));
    std::cout << "ist-export: " << c.model << " -> " << c.onnx << " (ONNX opset " << ist::kOnnxOpset << ", "
              << model.graph().node_size() << " nodes, " << net.input_size() << " inputs, " << net.output_size()
              << " classes)\n";
    for (const std::string& name : batch_statistics_layers(net))
        std::cout << "note: " << name << " normalises with the statistics of each batch (no running statistics), in ONNX "
                  << "too: score rows in batches, not one at a time\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-export", [&] { return run(parse(argc, argv)); });
}
