// ist-predict: score a saved model (ist-train --save-model) on a data set, or write its predictions.
//
//   ist-train --save-model m.npz && ist-predict --model m.npz       # the test accuracy ist-train printed
//   ist-predict --model m.npz --data csv:rows.csv --out predictions.csv
//   ist-predict --help
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include <ist/ist.hpp>

#include "cli.hpp"
#include "cli_data.hpp"
#include "training_options.hpp"

namespace {

struct Config {
    std::string model, out;
    ist::cli::DataChoice data;
    std::size_t batch = ist::TrainerOptions{}.eval_batch;
    ist::Precision precision = ist::Precision::Fp32;
};

Config parse(int argc, char** argv) {
    Config c;
    ist::cli::Options cli("ist-predict",
                          "Evaluates a model saved by ist-train --save-model on the test rows of a data set (split and\n"
                          "standardised as ist-train does): its accuracy when the rows are labelled, and with --out\n"
                          "(or for unlabelled rows) a CSV of predictions: row, class, one probability per class.");
    cli.text("--model", c.model, "PATH", "the model file (.npz from ist-train --save-model or ist::save_model)");
    c.data.add_to(cli);
    ist::cli::TrainingOptions training(cli);
    training.seed(c.data.seed, "seed of the train/test split, as given to ist-train");
    training.precision(c.precision, "GEMM arithmetic of the predictions: fp32, or bf16 (bfloat16 inputs, fp32 "
                                    "accumulation; needs the oneDNN backend)");
    cli.value("--train-rows", c.data.train_rows, ist::cli::kCount, "N",
              "as given to ist-train: the training rows the standardisation comes from");
    // Not the training --batch of training_options.hpp: the rows one evaluation pass normalises over.
    cli.value("--batch", c.batch, ist::cli::Integer{2, "an integer of at least 2"}, "B",
              "evaluation batch (default 1000, as ist-train): a model that normalises\n"
              "with batch statistics takes them over each batch");
    cli.text("--out", c.out, "PATH", "write the predictions as CSV to PATH (- for standard output)");
    cli.parse(argc, argv);
    if (c.model.empty()) throw ist::ConfigError("--model is required (a model file from ist-train --save-model)");
    return c;
}

/// Calls f(first row, logits) for the rows of `data` in the near-equal batches ist::evaluate uses.
template <class F>
void for_each_batch(ist::Network& net, const ist::Dataset& data, std::size_t batch, F&& f) {
    const std::size_t n = data.size(), batches = (n + batch - 1) / batch;
    std::vector<std::uint32_t> rows;
    ist::Matrix x;
    ist::Labels y;
    for (std::size_t b = 0; b < batches; ++b) {
        rows.resize(n * (b + 1) / batches - n * b / batches);
        std::iota(rows.begin(), rows.end(), static_cast<std::uint32_t>(n * b / batches));
        ist::copy_rows(data, rows, x, y);
        net.set_batch_rows(rows);
        f(rows.front(), net.forward(x, ist::Mode::Eval));
    }
}

void write_predictions(ist::Network& net, const ist::Dataset& data, std::size_t batch, std::ostream& out) {
    const std::size_t classes = net.output_size();
    out << "row,class";
    for (std::size_t k = 0; k < classes; ++k) out << ",p" << k;
    out << '\n';
    for_each_batch(net, data, batch, [&](std::size_t first, const ist::Matrix& logits) {
        const ist::Matrix log_p = ist::log_softmax(logits);
        for (std::size_t i = 0; i < log_p.shape()[0]; ++i) {
            const auto row = xt::row(log_p, i);
            out << first + i << ',' << std::distance(row.begin(), std::max_element(row.begin(), row.end()));
            for (std::size_t k = 0; k < classes; ++k) out << ',' << std::exp(log_p(i, k));
            out << '\n';
        }
    });
    if (!out) throw ist::DataError("ist-predict: could not write the predictions");
}

int run(const Config& c) {
    const ist::detail::GemmPrecisionGuard precision(c.precision);  // the predictions' GEMMs; refused first
    ist::Network net = ist::load_model(c.model);
    const ist::Dataset test = ist::cli::load_data(c.data, "ist-predict").second;
    ist::check_data_fits(net, test);
    const bool labelled = ist::count_labelled(test.labels) > 0;
    if (labelled) {
        ist::TrainerOptions options;
        options.eval_batch = c.batch;
        options.precision = c.precision;
        const ist::Evaluation e = ist::evaluate(net, test, options);
        // Predictions on standard output keep it CSV only: the summary goes to standard error.
        (c.out == "-" ? std::cerr : std::cout) << "ist-predict: " << c.model << " on " << test.name << " (" << test.size() << " test rows)\n"
                  << "test accuracy " << e.accuracy << ", loss " << e.loss << '\n';
    }
    if (c.out.empty() && labelled) return 0;
    if (c.out.empty() || c.out == "-") {
        write_predictions(net, test, c.batch, std::cout);
        return 0;
    }
    std::ofstream file(c.out);
    if (!file) throw ist::DataError(c.out + ": cannot open for writing");
    write_predictions(net, test, c.batch, file);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-predict", [&] { return run(parse(argc, argv)); });
}
