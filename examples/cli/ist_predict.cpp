// ist-predict: score rows with a saved model (ist-train --save-model) from the model file alone.
//
//   ist-train --data csv:train.csv --test-data csv:test.csv --save-model m.npz
//   ist-predict --model m.npz --input test.csv        # labelled: the accuracy and loss ist-train printed
//   ist-predict --model m.npz --input new.csv --out predictions.csv   # unlabelled: row, class, p0 .. pK
//   ist-predict --model m.npz --data csv:train.csv --test-data csv:test.csv   # a training run's split, as before
//   ist-predict --help
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "cli_data.hpp"
#include "training_options.hpp"

namespace {

struct Config {
    std::string model, input, out;
    ist::cli::DataChoice data;  // the --data form: a training run's test split
    std::size_t batch = ist::TrainerOptions{}.eval_batch, top_k = 0;
    ist::Precision precision = ist::Precision::Fp32;
    bool split = false;  // --data or --test-data given (or neither --input: the default digits split)
};

Config parse(int argc, char** argv) {
    Config c;
    ist::cli::Options cli("ist-predict",
                          "Scores rows with a model saved by ist-train --save-model, from the model file alone:\n"
                          "--input FILE gives raw rows (the file's standardisation is applied). Rows with the\n"
                          "label column print the accuracy and loss; rows of features alone, or --out, write a\n"
                          "CSV of predictions: row, class, one probability per class.");
    cli.text("--model", c.model, "PATH", "the model file (.npz from ist-train --save-model or ist::save_model)");
    cli.text("--input", c.input, "FILE",
             "rows to score: a CSV (- for standard input; a header row is detected),\n"
             ".npy (features), .npz (arrays x and, if labelled, y), an IDX image file,\n"
             "or npy:FEATURES,LABELS | idx:IMAGES,LABELS for labelled ones. A CSV is\n"
             "labelled when it has one column more than the model's features: the\n"
             "label column the model was trained with (--label-column overrides)");
    cli.text("--out", c.out, "PATH", "write the predictions as CSV to PATH (- for standard output)");
    cli.value("--top-k", c.top_k, ist::cli::kPositive, "K",
              "write the K most probable classes of each row (class1,p1,...,classK,pK)\n"
              "instead of every probability; labelled rows also print the top-K accuracy");
    // Not the training --batch of training_options.hpp: the rows one evaluation pass normalises over.
    cli.value("--batch", c.batch, ist::cli::Integer{2, "an integer of at least 2"}, "B",
              "evaluation batch (default 1000, as ist-train): a model whose batch norms\n"
              "use batch statistics takes them over each batch");
    ist::cli::TrainingOptions training(cli);
    training.precision(c.precision, "GEMM arithmetic of the predictions: fp32, or bf16 (bfloat16 inputs, fp32 "
                                    "accumulation; needs the oneDNN backend)");
    cli.group("A training run's test split (instead of --input)");
    c.data.add_to(cli);
    training.seed(c.data.seed, "seed of the train/test split, as given to ist-train");
    cli.value("--train-rows", c.data.train_rows, ist::cli::kCount, "N", "as given to ist-train");
    cli.parse(argc, argv);
    if (c.model.empty()) throw ist::ConfigError("--model is required (a model file from ist-train --save-model)");
    const bool split_options = cli.given("--data") || cli.given("--test-data") || cli.given("--seed") || cli.given("--train-rows");
    if (!c.input.empty() && split_options)
        throw ist::ConfigError("--input scores a file's rows: --data, --test-data, --seed and --train-rows choose a training "
                               "run's split instead; give one or the other");
    c.split = c.input.empty();
    ist::cli::check_writable("--out", c.out);
    return c;
}

/// The file suffix test of `path` ("x.npy", "x.npy.gz").
bool has_suffix(const std::string& path, const std::string& suffix) {
    const auto ends = [&](const std::string& s) { return path.size() >= s.size() && path.compare(path.size() - s.size(), s.size(), s) == 0; };
    return ends(suffix) || ends(suffix + ".gz");
}

/// A CSV of --input: labelled when it has one column more than the model's features (the label
/// column: --label-column, else the one the model file records, found by its header name when the
/// file has one, else the last), features alone when it has as many.
ist::Dataset load_csv_input(const Config& c, ist::Predictor& predictor, const std::string& path) {
    std::string piped;
    std::optional<ist::detail::FileContent> file;
    if (path == "-") piped.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    else file.emplace(path);
    const std::string_view text = file ? file->text() : std::string_view(piped);
    const std::string name = path == "-" ? "(standard input)" : path;
    ist::CsvOptions options = c.data.csv_options(nullptr);
    const ist::CsvShape shape = ist::csv_shape(text, options);
    const std::size_t features = predictor.features();
    if (shape.columns != features && shape.columns != features + 1)
        throw ist::DataError(name + ": " + std::to_string(shape.columns) + " columns per row, but the model " + c.model +
                             " takes " + std::to_string(features) + " features (" + std::to_string(features + 1) +
                             " columns with the label)");
    options.labelled = shape.columns == features + 1;
    options.classes = predictor.classes();
    const ist::ModelMetadata& m = predictor.metadata();
    if (options.labelled && c.data.label_column == SIZE_MAX) {
        const auto named = std::find(shape.header.begin(), shape.header.end(), m.label_name);
        if (!m.label_name.empty() && named != shape.header.end()) options.label_column = static_cast<int>(named - shape.header.begin());
        else if (m.label_column && *m.label_column < shape.columns) options.label_column = static_cast<int>(*m.label_column);
    }
    return ist::parse_csv(text, name, options);
}

/// The rows --input names, labelled or not (every label kUnlabeled).
ist::Dataset load_input(const Config& c, ist::Predictor& predictor) {
    const std::string& in = c.input;
    const std::size_t classes = predictor.classes();
    const std::size_t colon = in.find(':');
    const std::string kind = colon == std::string::npos ? "" : in.substr(0, colon);
    if (kind == "npy" || kind == "idx" || kind == "npz" || kind == "csv") {
        const std::vector<std::string> paths = ist::cli::split(in.substr(colon + 1));
        if (kind == "csv" || kind == "npz") {
            if (paths.size() != 1) throw ist::ConfigError("--input: '" + in + "' needs one file, " + kind + ":PATH");
        } else if (paths.size() != 1 && paths.size() != 2) {
            throw ist::ConfigError("--input: '" + in + "' needs " + kind + ":FEATURES or " + kind + ":FEATURES,LABELS");
        }
        if (kind == "csv") return load_csv_input(c, predictor, paths[0]);
        if (kind == "npz") return ist::npz_contains(paths[0], "y") ? ist::load_npz(paths[0], "x", "y", classes)
                                                                   : ist::load_unlabelled_numpy(paths[0], "x", classes);
        if (kind == "npy") return paths.size() == 2 ? ist::load_npy(paths[0], paths[1], classes)
                                                    : ist::load_unlabelled_numpy(paths[0], "x", classes);
        return paths.size() == 2 ? ist::load_idx(paths[0], paths[1], classes) : ist::load_idx_images(paths[0], classes);
    }
    if (has_suffix(in, ".npz")) return ist::npz_contains(in, "y") ? ist::load_npz(in, "x", "y", classes)
                                                                 : ist::load_unlabelled_numpy(in, "x", classes);
    if (has_suffix(in, ".npy")) return ist::load_unlabelled_numpy(in, "x", classes);
    if (has_suffix(in, ".idx") || in.find("-ubyte") != std::string::npos) return ist::load_idx_images(in, classes);
    return load_csv_input(c, predictor, in);
}

/// The test rows of a training run's split (--data, --test-data, --seed, --train-rows), raw when
/// the model standardises its inputs, else standardised with the training rows as ist-train did.
ist::Dataset load_split(const Config& c, ist::Predictor& predictor) {
    const bool standardises = predictor.network().layer(0).as<ist::Standardize>() != nullptr;
    return standardises ? ist::cli::load_sets(c.data, "ist-predict", &std::cerr).second
                        : ist::cli::load_data(c.data, "ist-predict").second;
}

/// Calls f(first row, log-probabilities) for the rows of `data` in the near-equal batches ist::evaluate uses.
template <class F>
void for_each_batch(ist::Predictor& predictor, const ist::Dataset& data, std::size_t batch, F&& f) {
    const std::size_t n = data.size(), batches = (n + batch - 1) / batch;
    std::vector<std::uint32_t> rows;
    ist::Matrix x;
    ist::Labels y;
    for (std::size_t b = 0; b < batches; ++b) {
        rows.resize(n * (b + 1) / batches - n * b / batches);
        std::iota(rows.begin(), rows.end(), static_cast<std::uint32_t>(n * b / batches));
        ist::copy_rows(data, rows, x, y);
        predictor.network().set_batch_rows(rows);
        f(rows.front(), predictor.log_probabilities(x));
    }
}

/// The share of labelled rows whose label is among their k most probable classes.
double top_k_accuracy(ist::Predictor& predictor, const ist::Dataset& data, std::size_t batch, std::size_t k) {
    std::size_t hits = 0;
    for_each_batch(predictor, data, batch, [&](std::size_t first, const ist::Matrix& log_p) {
        for (std::size_t i = 0; i < log_p.shape()[0]; ++i) {
            const std::uint32_t label = data.labels[first + i];
            const auto top = ist::Predictor::top_classes(log_p, i, k);
            hits += label != ist::kUnlabeled && std::find(top.begin(), top.end(), label) != top.end();
        }
    });
    return static_cast<double>(hits) / static_cast<double>(ist::count_labelled(data.labels));
}

/// row,class,p0..pK (or with --top-k: row,class1,p1,...,classK,pK), classes by their names.
void write_predictions(const Config& c, ist::Predictor& predictor, const ist::Dataset& data, std::ostream& out) {
    const std::size_t classes = predictor.classes(), k = c.top_k ? std::min(c.top_k, classes) : 0;
    out << "row";
    if (k)
        for (std::size_t j = 1; j <= k; ++j) out << ",class" << j << ",p" << j;
    else {
        out << ",class";
        for (std::size_t j = 0; j < classes; ++j) out << ",p" << j;
    }
    out << '\n';
    for_each_batch(predictor, data, c.batch, [&](std::size_t first, const ist::Matrix& log_p) {
        for (std::size_t i = 0; i < log_p.shape()[0]; ++i) {
            out << first + i;
            const auto top = ist::Predictor::top_classes(log_p, i, k ? k : 1);
            if (k)
                for (std::uint32_t j : top) out << ',' << predictor.class_name(j) << ',' << std::exp(log_p(i, j));
            else {
                out << ',' << predictor.class_name(top.front());
                for (std::size_t j = 0; j < classes; ++j) out << ',' << std::exp(log_p(i, j));
            }
            out << '\n';
        }
    });
    if (!out) throw ist::DataError("ist-predict: could not write the predictions");
}

int run(const Config& c) {
    ist::Predictor predictor(c.model, c.precision);  // a precision the backend lacks is refused first
    if (!c.split)
        for (const std::string& note : predictor.notes()) std::cerr << "ist-predict: note: " << note << '\n';
    const ist::Dataset rows = c.split ? load_split(c, predictor) : load_input(c, predictor);
    predictor.check_width(rows.features, rows.name);
    const bool labelled = ist::count_labelled(rows.labels) > 0;
    // Predictions on standard output keep it CSV only: the summary goes to standard error.
    std::ostream& summary = c.out == "-" || (!labelled && c.out.empty()) ? std::cerr : std::cout;
    if (labelled) {
        const ist::Evaluation e = predictor.evaluate(rows, c.batch);
        summary << "ist-predict: " << c.model << " on " << rows.name << " (" << rows.size() << " test rows)\n"
                << "test accuracy " << e.accuracy << ", loss " << e.loss << '\n';
        if (c.top_k) summary << "top-" << c.top_k << " accuracy " << top_k_accuracy(predictor, rows, c.batch, c.top_k) << '\n';
    }
    if (c.out.empty() && labelled) return 0;
    if (c.out.empty() || c.out == "-") {
        write_predictions(c, predictor, rows, std::cout);
        return 0;
    }
    std::ofstream file(c.out);
    if (!file) throw ist::DataError(c.out + ": cannot open for writing");
    write_predictions(c, predictor, rows, file);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-predict", [&] { return run(parse(argc, argv)); });
}
