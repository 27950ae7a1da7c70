// Writes small saved models, a few input rows and ist's evaluation logits for them, for
// numpy_forward.py to reproduce with numpy alone (the recipe of docs/model_files.md).
//   model_logits DIR   ->  DIR/<name>.npz, DIR/<name>.rows.npy, DIR/<name>.logits.npy
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <ist/ist.hpp>

#include "helpers.hpp"

namespace {

void write_npy(const std::string& path, const ist::Matrix& m) {
    const auto image = ist::detail::npy::npy_image(m.data(), {m.shape()[0], m.shape()[1]});
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    if (!out) throw ist::DataError(path + ": cannot write");
}

void write_case(const std::string& dir, const std::string& name, ist::Network net,
                const ist::Matrix& rows = ist::test::random_matrix(8, 12, 11)) {
    ist::save_model(net, dir + "/" + name + ".npz");
    write_npy(dir + "/" + name + ".rows.npy", rows);
    write_npy(dir + "/" + name + ".logits.npy", net.forward(rows, ist::Mode::Eval));
    std::cout << name << '\n';
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: model_logits DIR\n";
        return 2;
    }
    const std::string dir = argv[1];
    write_case(dir, "mlp_batch_norm", ist::make_mlp({12, {10, 8}, 4, ist::Norm::Batch, 3, 0.3f}));
    write_case(dir, "mlp_layer_norm", ist::make_mlp({12, {9}, 3, ist::Norm::Layer, 4}));
    ist::Network running;
    running.add(ist::Dense(12, 7, true, 5)).add(ist::BatchNorm(7, true, 1e-5f, 0.1f)).add(ist::ReLU());
    running.add(ist::Dense(7, 3, true, 6));
    ist::refresh_running_statistics(running, ist::test::random_matrix(64, 12, 7), 16);
    write_case(dir, "mlp_running_statistics", running);
    // As ist-train saves it: raw rows (around 50) standardised by its first layer, population statistics.
    ist::Dataset train{ist::test::random_matrix(64, 12, 8) * 10.0f + 50.0f, ist::Labels(64, 0), 4, "raw", {}};
    const ist::Standardization standardization(train);
    standardization.apply(train);
    ist::Network trained = ist::make_mlp({12, {10}, 4, ist::Norm::Batch, 9});
    ist::use_population_statistics(trained, train.features);
    write_case(dir, "mlp_self_contained", ist::with_standardization(trained, standardization),
               ist::test::random_matrix(8, 12, 11) * 10.0f + 50.0f);
    // A pruned weight (9 in 10 entries zero) is stored as CSR arrays.
    ist::Network pruned = ist::make_mlp({12, {40}, 3, ist::Norm::Batch, 10});
    for (std::size_t k = 0; k < pruned.parameter(0).value.size(); ++k)
        if (k % 10 != 3) pruned.parameter(0).value.data()[k] = 0.0f;
    write_case(dir, "mlp_pruned_csr", pruned);
    return 0;
}
