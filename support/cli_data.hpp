#pragma once
// The data sets ist-train and ist-predict accept (--data, --test-data), split and standardised the
// same way in both, so ist-predict scores a saved model on exactly the test rows ist-train reported.
// Not part of the library and never installed, like cli.hpp.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <iostream>
#include <numeric>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"

namespace ist::cli {

inline constexpr const char* kDataSources =
    "digits | fashion-mnist | idx:IMAGES,LABELS | npy:FEATURES,LABELS | npz:PATH | csv:PATH";

inline constexpr const char* kDataHelp =
    "digits (embedded, default) | fashion-mnist | idx:IMAGES,LABELS (MNIST-style,\n"
    "gzipped or not) | npy:FEATURES,LABELS (two .npy files) | npz:PATH (arrays x =\n"
    "features, y = labels: np.savez(PATH, x=X, y=Y)) | csv:PATH (label in the last\n"
    "column unless --label-column; a header row is detected, or say --header)";

/// One source as --data or --test-data names it: its kind and its files.
struct DataSource {
    std::string kind;  ///< digits | fashion-mnist | idx | npy | npz | csv
    std::vector<std::string> paths;
};

/// "npy:x.npy,y.npy" -> {npy, {x.npy, y.npy}}; anything else named by `option` is a ConfigError.
inline DataSource parse_source(const std::string& spec, const std::string& option) {
    if (spec == "digits" || spec == "fashion-mnist") return {spec, {}};
    const std::size_t colon = spec.find(':');
    const std::string kind = spec.substr(0, colon);
    const bool pair = kind == "idx" || kind == "npy", single = kind == "npz" || kind == "csv";
    if (colon == std::string::npos || !(pair || single))
        throw ConfigError(option + ": '" + spec + "' is not a data source (" + kDataSources + ")");
    DataSource source{kind, split(spec.substr(colon + 1))};
    const bool empty_path = std::any_of(source.paths.begin(), source.paths.end(), [](auto& p) { return p.empty(); });
    if (source.paths.size() != (pair ? 2u : 1u) || empty_path)
        throw ConfigError(option + ": '" + spec + "' needs " +
                          (kind == "idx" ? "two files, idx:IMAGES,LABELS" : pair ? "two files, npy:FEATURES,LABELS"
                                                                                 : "one file, " + kind + ":PATH"));
    return source;
}

/// What --data names and how the programs split it.
struct DataChoice {
    std::string data = "digits";  ///< kDataSources
    std::string test_data;        ///< the same syntax: a given test set instead of a random split
    bool header = false;          ///< csv: the first line is a header (detected when not given)
    std::size_t label_column = SIZE_MAX;  ///< csv: 0-based label column (SIZE_MAX: the last)
    double test_fraction = 0.25;  ///< of the random split (Fashion-MNIST has its own test set)
    std::uint64_t seed = 42;      ///< of the split
    std::size_t train_rows = 0;   ///< keep only the first N training rows (0: all)

    /// Adds --data, --test-data, --header and --label-column to a program's table.
    void add_to(Options& cli) {
        cli.text("--data", data, "SOURCE", kDataHelp);
        cli.text("--test-data", test_data, "SOURCE",
                 "a test set in the --data syntax, instead of a random quarter of --data\n"
                 "(with fashion-mnist: its training or its test part)");
        cli.flag("--header", header, "csv: the first line is a header row (skipped)");
        cli.value("--label-column", label_column, kCount, "N", "csv: the 0-based column of the label (default the last)");
    }

    CsvOptions csv_options(bool* header_detected) const {
        if (label_column != SIZE_MAX && label_column > INT_MAX)
            throw ConfigError("--label-column: " + std::to_string(label_column) + " is not a column");
        CsvOptions o;
        o.label_column = label_column == SIZE_MAX ? -1 : static_cast<int>(label_column);
        o.header = header;
        o.detect_header = true;
        o.header_detected = header_detected;
        return o;
    }
};

/// The set `s` names; `test_part` picks Fashion-MNIST's test set. A detected CSV header is noted.
inline Dataset load_source(const DataSource& s, const DataChoice& c, bool test_part, const std::string& program,
                           std::ostream* notes) {
    if (s.kind == "digits") return load_digits();
    if (s.kind == "fashion-mnist") return test_part ? load_fashion_mnist().second : load_fashion_mnist().first;
    if (s.kind == "idx") return load_idx(s.paths[0], s.paths[1], 0);
    if (s.kind == "npy") return load_npy(s.paths[0], s.paths[1]);
    if (s.kind == "npz") {
        try {
            return load_npz(s.paths[0]);
        } catch (const DataError& e) {
            if (std::string(e.what()).find("missing key") == std::string::npos) throw;
            throw DataError(std::string(e.what()) + "; npz: needs arrays x (features) and y (labels), as np.savez(PATH, x=X, y=Y) writes");
        }
    }
    bool header_detected = false;
    Dataset data = load_csv(s.paths[0], c.csv_options(&header_detected));
    if (header_detected && notes)
        *notes << program << ": note: " << s.paths[0] << ": the first line is not numbers: read as a header row\n";
    return data;
}

/// A given test set must have the training set's features; both get the larger class count.
inline void match_sets(Dataset& train, Dataset& test) {
    if (train.feature_count() != test.feature_count())
        throw DataError(test.name + " (--test-data): " + std::to_string(test.feature_count()) + " features per row, but " +
                        train.name + " (--data) has " + std::to_string(train.feature_count()));
    train.classes = test.classes = std::max(train.classes, test.classes);
}

/// The training and test sets of `c`, split as the programs split them, not yet standardised.
inline std::pair<Dataset, Dataset> load_sets(const DataChoice& c, const std::string& program, std::ostream* notes) {
    const DataSource source = parse_source(c.data, "--data");
    const bool any_csv = source.kind == "csv" || (!c.test_data.empty() && parse_source(c.test_data, "--test-data").kind == "csv");
    if (!any_csv && (c.header || c.label_column != SIZE_MAX))
        throw ConfigError("--header and --label-column apply to csv: sources, and neither --data nor --test-data is one");
    std::pair<Dataset, Dataset> sets;
    if (!c.test_data.empty()) {
        const DataSource test_source = parse_source(c.test_data, "--test-data");
        sets = {load_source(source, c, false, program, notes), load_source(test_source, c, true, program, notes)};
        match_sets(sets.first, sets.second);
    } else if (source.kind == "fashion-mnist") {
        sets = load_fashion_mnist();
    } else {
        sets = train_test_split(load_source(source, c, false, program, notes), c.test_fraction, c.seed);
    }
    if (c.train_rows && c.train_rows < sets.first.size()) {
        std::vector<std::uint32_t> rows(c.train_rows);
        std::iota(rows.begin(), rows.end(), 0u);
        sets.first = subset(sets.first, rows);
    }
    return sets;
}

/// What a program needs besides the standardised sets to save a model that reads raw rows.
struct RawData {
    std::optional<Standardization> standardization;  ///< the one applied to both sets
    Dataset test;                                     ///< the test rows as the source holds them
};

/// Standardises both sets with the training set's statistics, as ist::standardize does, and
/// returns them; a copy of the raw test rows goes to `raw_test` first when it is set.
inline Standardization standardize_sets(std::pair<Dataset, Dataset>& sets, Dataset* raw_test) {
    if (raw_test) *raw_test = sets.second;
    return standardize(sets.first, sets.second);
}

/// The training and test sets of `c`, both standardised with the training set's statistics.
/// Notes (a detected CSV header) go to `notes` when it is set; `raw`, when set, receives the
/// statistics and the raw test rows.
inline std::pair<Dataset, Dataset> load_data(const DataChoice& c, const std::string& program,
                                             std::ostream* notes = &std::cerr, RawData* raw = nullptr) {
    auto sets = load_sets(c, program, notes);
    Standardization s = standardize_sets(sets, raw ? &raw->test : nullptr);
    if (raw) raw->standardization = std::move(s);
    return sets;
}

/// Fashion-MNIST's ten classes, in label order.
inline const std::vector<std::string> kFashionMnistClasses{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

/// What a saved model records of the data `c` names (training set `train`): Fashion-MNIST's class
/// names; for a CSV, the label's column and its header when the file has one.
inline ModelMetadata data_metadata(const DataChoice& c, const Dataset& train) {
    ModelMetadata m;
    const DataSource source = parse_source(c.data, "--data");
    if (source.kind == "fashion-mnist") m.class_names = kFashionMnistClasses;
    if (source.kind != "csv") return m;
    m.label_column = c.label_column == SIZE_MAX ? train.feature_count() : c.label_column;
    const CsvShape shape = csv_shape(detail::FileContent(source.paths[0]).text(), c.csv_options(nullptr));
    if (*m.label_column < shape.header.size()) m.label_name = shape.header[*m.label_column];
    return m;
}

/// What save_self_contained wrote: how the file scores the raw test rows, and over how many
/// training rows its batch norms' statistics were taken (0: none converted, or batch statistics).
struct SavedModel {
    Evaluation test;
    std::size_t population_rows = 0;
};

/// Saves `net` (trained on `train`, the rows `raw.standardization` standardised) at `path` as a
/// model that reads raw rows: behind its Standardize layer, its batch norms given the population
/// statistics of the training rows when `population` (ist::use_population_statistics), with what
/// `data` says of the classes; then reads the file back and scores the raw test rows in batches of
/// `eval_batch`, as `ist-predict --model PATH --input <those rows>` does.
inline SavedModel save_self_contained(const std::string& path, Network net, const Dataset& train, const RawData& raw,
                                      const DataChoice& data, bool population, std::size_t eval_batch) {
    ModelMetadata metadata = data_metadata(data, train);
    if (population && use_population_statistics(net, train.features) > 0) metadata.population_rows = train.size();
    save_model(with_standardization(net, *raw.standardization), path, metadata);
    Predictor saved(path);
    return {saved.evaluate(raw.test, eval_batch), metadata.population_rows};
}

/// Whether one worker's process can read only its rows of the training set: an npy: source
/// (mapped in place) dealt to the workers in disjoint shards.
inline bool shardable(const DataChoice& c, const TrainerOptions& options) {
    return parse_source(c.data, "--data").kind == "npy" && options.sampling == Sampling::Shards;
}

/// The training set as worker `worker` of a shardable run sees it: every row of the set load_sets
/// gives, in the same order, but only the rows of this worker's shard read from the file (the
/// others are zeros that take no memory), not yet standardised; `filled` receives those rows.
inline Dataset load_worker_shard(const DataChoice& c, const TrainerOptions& options, std::size_t worker,
                                 std::vector<std::uint32_t>& filled) {
    const DataSource source = parse_source(c.data, "--data");
    const std::size_t rows = MappedNpy(source.paths[0]).rows();
    std::vector<std::uint32_t> file_rows(rows);
    std::iota(file_rows.begin(), file_rows.end(), 0u);
    if (c.test_data.empty()) file_rows = split_rows(rows, c.test_fraction, c.seed, source.paths[0]).first;
    if (c.train_rows && c.train_rows < file_rows.size()) file_rows.resize(c.train_rows);
    filled = worker_row_pools(file_rows.size(), options).at(worker);
    std::sort(filled.begin(), filled.end());  // read the file front to back
    return load_npy_shard(source.paths[0], source.paths[1], file_rows, filled);
}

}  // namespace ist::cli
