// Pruned models on disk: save_model stores a sparse weight as CSR when that is smaller,
// load_model reads both forms, and inconsistent CSR arrays are refused with nothing loaded.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <unistd.h>

#include "helpers.hpp"
#include "../scratch.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

std::string scratch_file(const std::string& name) {
    return ist::test::scratch_path("sparse", name).string();
}

/// Every weight of this MLP is big enough for CSR to pay at 90 % sparsity; biases stay dense.
Network pruned_mlp(double sparsity) {
    Masked<Network> model(make_mlp({40, {60}, 30, Norm::None, 3}));
    prune(model, sparsity, PruneScope::PerLayer);
    return model.model();
}

/// A copy of the model file `from` with array `name` replaced by `edit(name)`'s.
using Edit = std::function<void(NpzWriter&, const NpzArchive&, const std::string&)>;
std::string edited(const std::string& from, const std::string& name, const std::string& to, const Edit& edit) {
    const NpzArchive in(from);
    NpzWriter out;
    for (const std::string& member : in.names()) {
        if (member == name) edit(out, in, member);
        else if (member == "architecture.json") out.add(member, in.text(member));
        else if (member.ends_with(".csr_columns")) out.add(member, in.values<std::uint32_t>(member));
        else if (member.ends_with(".csr_row_offsets")) out.add(member, in.values<std::uint64_t>(member));
        else out.add(member, in.values<float>(member));  // every other array of this model is 1-D
    }
    out.write_atomically(to);
    return to;
}

}  // namespace

TEST_CASE("sparse_model_file: a pruned model is stored as CSR, smaller, and loads back bit for bit") {
    const Network dense = make_mlp({40, {60}, 30, Norm::None, 3}), pruned = pruned_mlp(0.9);
    const std::string dense_path = scratch_file("dense.npz"), sparse_path = scratch_file("sparse.npz");
    save_model(dense, dense_path);
    save_model(pruned, sparse_path);
    const NpzArchive sparse(sparse_path), plain(dense_path);
    CHECK(plain.contains("dense1.weight"));  // an unpruned model is stored as it always was
    CHECK_FALSE(plain.contains("dense1.weight.csr_values"));
    CHECK_FALSE(sparse.contains("dense1.weight"));
    CHECK(sparse.values<float>("dense1.weight.csr_values").size() == 240);
    CHECK(sparse.contains("dense1.bias"));  // a dense bias stays dense
    CHECK(fs::file_size(sparse_path) * 2 < fs::file_size(dense_path));
    const Network loaded = load_model(sparse_path);
    CHECK(test::same_parameters(loaded, pruned));
    const Matrix x = test::random_matrix(7, 40, 5);
    Network a = loaded, b = pruned;
    CHECK(a.forward(x, Mode::Eval) == b.forward(x, Mode::Eval));
    fs::remove(dense_path);
    fs::remove(sparse_path);
}

TEST_CASE("sparse_model_file: inconsistent CSR arrays are refused, naming the array") {
    const std::string good = scratch_file("good.npz");
    save_model(pruned_mlp(0.9), good);
    const auto refusal = [&](const std::string& name, const Edit& edit) {
        const std::string bad = edited(good, name, scratch_file("bad.npz"), edit);
        std::string message;
        try {
            load_model(bad);
        } catch (const DataError& e) {
            message = e.what();
        }
        fs::remove(bad);
        return message;
    };
    const auto columns = [](std::uint32_t first) {
        return [first](NpzWriter& out, const NpzArchive& in, const std::string& m) {
            auto c = in.values<std::uint32_t>(m);
            c[0] = first;
            out.add(m, c);
        };
    };
    CHECK_MESSAGE(refusal("dense1.weight.csr_columns", columns(40)).ends_with(
                      "[dense1.weight]: column 40 of row 0 is out of range or out of order (40 columns)"),
                  "column out of range");
    CHECK(refusal("dense1.weight.csr_columns", columns(39)).find("out of range or out of order") != std::string::npos);
    CHECK(refusal("dense1.weight.csr_row_offsets", [](NpzWriter& out, const NpzArchive& in, const std::string& m) {
              auto r = in.values<std::uint64_t>(m);
              r.pop_back();
              out.add(m, r);
          }).ends_with("[dense1.weight]: 60 row offsets for a tensor of 60 rows"));
    CHECK(refusal("dense1.weight.csr_row_offsets", [](NpzWriter& out, const NpzArchive& in, const std::string& m) {
              auto r = in.values<std::uint64_t>(m);
              r[5] = r.back() + 1;
              out.add(m, r);
          }).ends_with("[dense1.weight]: row offset 5 is below the one before it or past the number of values"));
    CHECK(refusal("dense1.weight.csr_values", [](NpzWriter& out, const NpzArchive& in, const std::string& m) {
              auto v = in.values<float>(m);
              v.pop_back();
              out.add(m, v);
          }).ends_with("the row offsets must run from 0 to the number of values, one column per value"));
    CHECK(refusal("dense1.weight.csr_columns", [](NpzWriter&, const NpzArchive&, const std::string&) {})
              .find("missing array 'dense1.weight.csr_columns'") != std::string::npos);
    fs::remove(good);
}
