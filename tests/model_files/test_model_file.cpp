// Model files: save_model / load_model round trips (bit-identical logits), every refusal's exact
// message, user layers through the registry; and the layers that came with them (Dropout,
// BatchNorm running statistics).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <unistd.h>

#include <ist/model_files/model_file.hpp>
#include <ist/model/mlp.hpp>
#include <ist/model/refresh_statistics.hpp>
#include <ist/model/resnet/resnet.hpp>

#include "gradient_check.hpp"
#include "helpers.hpp"
#include "../scratch.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

/// A scratch file name unique to this process.
std::string scratch(const std::string& name) {
    return ist::test::scratch_path("model", name).string();
}

/// The message of the exception E that f throws ("" if it throws none).
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    return "";
}

/// Saves `net`, loads it back, and checks the copy's evaluation logits are the same bits.
Network round_trip(Network& net, const Matrix& x, const std::string& name) {
    const std::string path = scratch(name);
    save_model(net, path);
    Network back = load_model(path);
    fs::remove(path);
    CHECK(back.layer_count() == net.layer_count());
    CHECK(weights_checksum(back) == weights_checksum(net));
    const Matrix expected = net.forward(x, Mode::Eval);
    CHECK(back.forward(x, Mode::Eval) == expected);
    return back;
}

/// How write_edited spoils a model file.
struct Edit {
    std::string drop;                   ///< a tensor to leave out
    std::string extra;                  ///< a tensor to add
    std::string flatten;                ///< a tensor to store flattened (wrong shape)
    std::string from, to;               ///< replace `from` by `to` in architecture.json
};

// Named constructors: designated initialisers that skip members warn (-Wmissing-field-initializers).
Edit dropping(std::string tensor) { Edit e; e.drop = std::move(tensor); return e; }
Edit adding(std::string tensor) { Edit e; e.extra = std::move(tensor); return e; }
Edit flattening(std::string tensor) { Edit e; e.flatten = std::move(tensor); return e; }
Edit replacing(std::string from, std::string to) { Edit e; e.from = std::move(from); e.to = std::move(to); return e; }

/// Writes `net` to `path` as save_model does, spoiled by `edit`; returns the path.
std::string write_edited(const Network& net, const std::string& name, const Edit& edit) {
    const std::string path = scratch(name);
    save_model(net, path);
    std::string text = NpzArchive(path).text("architecture.json");
    if (!edit.from.empty()) {
        const auto at = text.find(edit.from);
        REQUIRE(at != std::string::npos);
        text.replace(at, edit.from.size(), edit.to);
    }
    NpzWriter out;
    out.add("architecture.json", text);
    detail::for_each_named_layer(net, layer_registry(), [&](std::size_t l, const std::string& layer) {
        for (const Parameter& p : net.layer(l).parameters()) {
            const std::string tensor = layer + "." + p.name;
            if (tensor == edit.drop) continue;
            if (tensor == edit.flatten) out.add(tensor, p.value.data(), {p.value.size()});
            else out.add(tensor, p.value);
        }
    });
    if (!edit.extra.empty()) out.add(edit.extra, std::vector<float>{1.0f, 2.0f});
    out.write_atomically(path);
    return path;
}

Network small_mlp() { return make_mlp({6, {5, 4}, 3, Norm::Batch, 7}); }

}  // namespace

TEST_CASE("model_file: an MLP loads back with the same logits, bit for bit, under readable names") {
    Network net = small_mlp();
    const Matrix x = test::random_matrix(9, 6, 1);
    round_trip(net, x, "mlp.npz");
    const std::string path = scratch("mlp_names.npz");
    save_model(net, path);
    const std::vector<std::string> names = NpzArchive(path).names();
    fs::remove(path);
    CHECK(names == std::vector<std::string>{"architecture.json", "dense1.weight", "dense2.weight", "dense3.weight",
                                            "norm1.beta", "norm1.gamma", "norm2.beta", "norm2.gamma"});
}

TEST_CASE("model_file: a ResNet with projecting blocks loads back bit for bit") {
    Network net = make_preact_resnet({.channels = 1, .height = 6, .width = 6, .classes = 3, .stage_channels = {4, 6},
                                      .stage_blocks = {2, 1}, .seed = 5});
    const Matrix x = test::random_matrix(4, 36, 2);
    Network back = round_trip(net, x, "resnet.npz");
    CHECK(back.dimensions().size() == net.dimensions().size());
    const std::string path = scratch("resnet_names.npz");
    save_model(net, path);
    const NpzArchive archive(path);
    CHECK(archive.contains("block3.shortcut.conv1.weight"));  // the stride-2 block's 1x1 projection
    CHECK(archive.contains("block3.conv2.weight"));
    CHECK(archive.contains("block1.norm1.gamma"));
    CHECK(!archive.contains("block1.shortcut.conv1.weight"));  // an identity shortcut has no tensors
    fs::remove(path);
}

TEST_CASE("model_file: a GCN loads back bit for bit, its graph stored once") {
    const Graph plain = Graph::from_edges(6, {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 0}, {0, 3}});
    const GcnGraph g(plain);
    Network net;
    net.add(GraphConv(g, 4, 5, {.seed = 1})).add(LayerNorm()).add(ReLU());
    net.add(GraphConv(g, 5, 2, {.bias = false, .self_weight = true, .seed = 2}));
    const Matrix x = test::random_matrix(6, 4, 3);
    round_trip(net, x, "gcn.npz");
    const std::string path = scratch("gcn_names.npz");
    save_model(net, path);
    const std::vector<std::string> names = NpzArchive(path).names();
    fs::remove(path);
    CHECK(names == std::vector<std::string>{"architecture.json", "graph1.columns", "graph1.row_offsets",
                                            "graphconv1.bias", "graphconv1.weight", "graphconv2.self_weight",
                                            "graphconv2.weight"});
}

TEST_CASE("model_file: a GraphConv built from A_hat alone stores the graph it normalises") {
    const Graph plain = Graph::from_edges(4, {{0, 1}, {1, 2}, {2, 3}});
    Network net;
    net.add(GraphConv(std::make_shared<const Graph>(plain.normalized_adjacency()), 3, 2, {.seed = 4}));
    round_trip(net, test::random_matrix(4, 3, 5), "a_hat.npz");
}

TEST_CASE("model_file: the architecture names every layer and its options") {
    Network net = make_mlp({6, {5}, 3, Norm::Batch, 7, 0.25f});
    const std::string path = scratch("arch.npz");
    save_model(net, path);
    const std::string text = NpzArchive(path).text("architecture.json");
    fs::remove(path);
    CHECK(text == "{\"format\": \"ist-model\", \"version\": 2, \"metadata\": {\"classes\": 3}, \"layers\": [\n"
                  "    {\"type\": \"Dense\", \"name\": \"dense1\", \"inputs\": 6, \"outputs\": 5, \"bias\": false},\n"
                  "    {\"type\": \"BatchNorm\", \"name\": \"norm1\", \"features\": 5, \"affine\": true, \"eps\": 1e-05, "
                  "\"momentum\": 0},\n"
                  "    {\"type\": \"ReLU\", \"name\": \"relu1\"},\n"
                  "    {\"type\": \"Dropout\", \"name\": \"dropout1\", \"rate\": 0.25, \"seed\": " +
                      std::to_string(net.layer(3).as<Dropout>()->seed()) +
                      "},\n"
                      "    {\"type\": \"Dense\", \"name\": \"dense2\", \"inputs\": 5, \"outputs\": 3, \"bias\": false},\n"
                      "    {\"type\": \"BatchNorm\", \"name\": \"norm2\", \"features\": 3, \"affine\": false, \"eps\": 1e-05, "
                      "\"momentum\": 0}\n"
                      "  ]}\n");
}

TEST_CASE("model_file: each bad file is refused with a message naming the problem") {
    Network net = small_mlp();
    const auto refusal = [&](const std::string& name, const Edit& edit) {
        const std::string path = write_edited(net, name, edit);
        const std::string message = message_of<DataError>([&] { load_model(path); });
        fs::remove(path);
        return message.substr(message.find(".npz") + 4);  // without the scratch directory
    };
    CHECK(refusal("missing.npz", dropping("dense2.weight")) == ": missing tensor 'dense2.weight'");
    CHECK(refusal("extra.npz", adding("dense9.weight")) ==
          ": unexpected tensor 'dense9.weight' (the architecture has no such parameter)");
    CHECK(refusal("shape.npz", flattening("dense1.weight")) == "[dense1.weight]: shape (30,), expected (5, 6)");
    CHECK(refusal("future.npz", replacing("\"version\": 2", "\"version\": 3")) ==
          "[architecture.json]: model format version 3 is not supported (this library reads versions 1 to 2; a newer "
          "ist wrote it?)");
    CHECK(refusal("malformed.npz", replacing("\"layers\": [", "\"layers\": [,")) ==
          "[architecture.json]: malformed JSON at offset 77: syntax error while parsing value - unexpected ','; expected "
          "'[', '{', or a literal");
    CHECK(refusal("unknown.npz", replacing("\"Dense\"", "\"Densest\"")) ==
          "[architecture.json]: layers[0]: unknown layer type 'Densest' (a user's layer type must be registered with "
          "ist::register_layer before loading)");
    CHECK(refusal("option.npz", replacing("\"bias\": false", "\"bias\": false, \"colour\": 1")) ==
          "[architecture.json]: layers[0]: unknown key 'colour'");
    CHECK(refusal("width.npz", replacing("\"inputs\": 5", "\"inputs\": 7")) ==
          "[architecture.json]: layers[3]: Network::add: layer 3 (ist::Dense): parameter 'weight' has 7 entries along "
          "hidden1, which has 5");
    CHECK(refusal("zero.npz", replacing("\"outputs\": 5", "\"outputs\": 0")) ==
          "[architecture.json]: layers[0] (Dense): Dense: inputs and outputs must be positive, got 6 x 0");
    CHECK(refusal("duplicate.npz", replacing("\"bias\": false", "\"bias\": false, \"bias\": true")) ==
          "[architecture.json]: malformed JSON: duplicate key 'bias'");
}

TEST_CASE("model_file: a file that is not a model file") {
    const std::string path = scratch("params.npz");
    NpzWriter old;
    old.add("param_0", std::vector<float>{1.0f});
    old.write_atomically(path);
    const std::string message = message_of<DataError>([&] { load_model(path); });
    fs::remove(path);
    CHECK(message == path + ": not an ist model file (no architecture.json member; files from ist-train --save-model "
                            "before format 1 hold only param_0, param_1, ...)");
}

namespace {
/// A user's layer: y = x * scale, one learnable scale per feature.
class Scale {
public:
    static constexpr bool opens_dimension = false;
    explicit Scale(std::size_t n) : params_{{"scale", xt::ones<float>({n}), {}, {Axis::Out}}} {}
    void forward(const Matrix& x, Matrix& y, Mode) { y = x * xt::view(params_[0].value, xt::newaxis(), xt::all()); }
    void backward(const Matrix& x, const Matrix&, const Matrix& dy, Matrix* dx) {
        params_[0].grad = xt::sum(dy * x, {0});
        if (dx) *dx = dy * xt::view(params_[0].value, xt::newaxis(), xt::all());
    }
    std::span<Parameter> parameters() { return params_; }
    std::span<const Parameter> parameters() const { return params_; }

private:
    std::vector<Parameter> params_;
};

Network scaled_net() {
    Network net;
    net.add(Dense(4, 3, true, 1)).add(Scale(3));
    net.parameter(2).value = Tensor{0.5f, 2.0f, -1.0f};
    return net;
}
}  // namespace

TEST_CASE("model_file: an unregistered user layer is refused when saved and when loaded") {
    Network net = scaled_net();
    CHECK(message_of<ConfigError>([&] { save_model(net, scratch("unregistered.npz")); }) ==
          "save_model: layer 1: layer type (anonymous namespace)::Scale is not registered for model files "
          "(ist::register_layer)");
}

TEST_CASE("model_file: a registered user layer round-trips") {
    if (!layer_registry().contains("Scale"))
        register_layer(LayerCodec<Scale>{
            "Scale", "scale",
            [](const Scale& l, detail::json::Value& o, ModelWriteContext&) {
                o.set("features", detail::json::Value::number(l.parameters()[0].value.size()));
            },
            [](detail::json::Fields& f, ModelReadContext&) { return Scale(f.count("features")); }});
    CHECK(message_of<ConfigError>([] { register_layer(LayerCodec<Scale>{"Scale", "s", {}, {}}); }) ==
          "register_layer: a codec needs a type name, a prefix, describe and build");
    Network net = scaled_net();
    Network back = round_trip(net, test::random_matrix(5, 4, 9), "user.npz");
    CHECK(back.parameter(2).value == Tensor{0.5f, 2.0f, -1.0f});
    CHECK(back.parameter(2).name == "scale");
}

TEST_CASE("model_file: batch norms with running statistics save them and evaluate with them") {
    Network net;
    net.add(Dense(5, 4, false, 3)).add(BatchNorm(4, true, 1e-5f, 0.1f)).add(ReLU()).add(Dense(4, 2, true, 4));
    const Matrix data = test::random_matrix(40, 5, 6);
    refresh_running_statistics(net, data, 8);
    const detail::RunningStatistics& r = net.layer(1).as<BatchNorm>()->running_statistics();
    CHECK(r.mean() != xt::zeros<float>({4}));
    // Evaluation no longer depends on the rest of the batch: one row gives its own logits.
    const Matrix rows = xt::view(data, xt::range(0, 3), xt::all());
    const Matrix one = xt::view(data, xt::range(1, 2), xt::all());
    const Matrix all = net.forward(rows, Mode::Eval);
    CHECK(xt::view(all, xt::range(1, 2), xt::all()) == net.forward(one, Mode::Eval));
    Network back = round_trip(net, rows, "running.npz");
    CHECK(back.layer(1).as<BatchNorm>()->running_statistics().variance() == r.variance());
}

TEST_CASE("model_file: BatchNorm2d running statistics round-trip") {
    Network net;
    net.add(Conv2d({.in_channels = 1, .out_channels = 2, .height = 4, .width = 4, .kernel = 3, .padding = 1, .seed = 1}))
        .add(BatchNorm2d(2, 4, 4, true, 1e-5f, 0.5f)).add(ReLU()).add(GlobalAvgPool(4, 4)).add(Dense(2, 2, true, 2));
    const Matrix data = test::random_matrix(6, 16, 3);
    refresh_running_statistics(net, data, 3);
    round_trip(net, data, "running2d.npz");
}


TEST_CASE("model_file: the JSON reader (nlohmann::json's parser) keeps number texts and key order, and is strict") {
    namespace json = detail::json;
    const json::Value v = json::parse(R"({"b": 1e-05, "a": [18446744073709551615, -3, 0.25, true, null, "x\u0041"]})", "t");
    REQUIRE(v.members.size() == 2);
    CHECK(v.members[0].key == "b");  // insertion order, not sorted
    CHECK(v.members[0].value.text == "1e-05");
    const auto& items = v.members[1].value.items;
    REQUIRE(items.size() == 6);
    CHECK(items[0].text == "18446744073709551615");
    CHECK(items[1].text == "-3");
    CHECK(items[2].text == "0.25");
    CHECK(items[3].flag);
    CHECK(items[4].kind == json::Value::Kind::Null);
    CHECK(items[5].text == "xA");
    const auto refusal = [](const std::string& text) {
        try {
            json::parse(text, "t");
        } catch (const DataError& e) {
            return std::string(e.what());
        }
        return std::string();
    };
    CHECK(refusal("[1,]") == "t: malformed JSON at offset 3: syntax error while parsing value - unexpected ']'; expected "
                             "'[', '{', or a literal");
    CHECK(refusal("{} x") == "t: malformed JSON at offset 3: syntax error while parsing value - invalid literal; last "
                             "read: '{} x'; expected end of input");
    CHECK(refusal("[1] // c") != "");
    CHECK(refusal(std::string(65, '[') + std::string(65, ']')) == "t: malformed JSON: nested deeper than 64 levels");
    CHECK(refusal(std::string(64, '[') + std::string(64, ']')) == "");
}
