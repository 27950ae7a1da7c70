#pragma once
// Predictions from a model file alone: raw rows in, class probabilities out (what ist-predict
// does; docs/model_files.md, examples/predictor.cpp).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/core/precision.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/metrics/evaluate.hpp"
#include "ist/model/loss.hpp"
#include "ist/model_files/model_file.hpp"

namespace ist {

/// A loaded model file that scores rows as they come from the data (its Standardize layer, when
/// it has one, standardises them). With population statistics (the programs' default) a row's
/// prediction does not depend on the rows scored with it; with batch statistics it does (notes()).
/// Its GEMMs run in its precision (fp32 by default; Precision::Bf16 as the trainer's, oneDNN only),
/// whatever the calling thread's is.
class Predictor {
public:
    /// Refuses a precision the GEMM backend cannot compute before it reads the file.
    explicit Predictor(const std::string& path, Precision precision = Precision::Fp32)
        : Predictor(load_checked(path, precision), path, precision) {}
    Predictor(LoadedModel model, std::string name, Precision precision = Precision::Fp32)
        : model_(std::move(model)), name_(std::move(name)), precision_(checked(precision)) {}

    std::size_t features() const { return model_.network.input_size(); }
    std::size_t classes() const { return model_.metadata.classes; }
    /// Class k as the file names it, or its number.
    std::string class_name(std::size_t k) const {
        return model_.metadata.class_names.empty() ? std::to_string(k) : model_.metadata.class_names.at(k);
    }
    const ModelMetadata& metadata() const { return model_.metadata; }
    /// What the file lacks or how its predictions depend on the batch (LoadedModel::notes).
    const std::vector<std::string>& notes() const { return model_.notes; }
    Network& network() { return model_.network; }
    Precision precision() const { return precision_; }

    /// Throws DataError unless `rows` has the model's feature count, naming both.
    void check_width(const Matrix& rows, const std::string& source) const {
        if (rows.shape()[1] != features())
            throw DataError(source + ": " + std::to_string(rows.shape()[1]) + " features per row, but the model " + name_ +
                            " takes " + std::to_string(features()));
    }

    /// Log-probabilities of every class for each row of `rows` (rows x classes), in one pass.
    Matrix log_probabilities(const Matrix& rows) {
        check_width(rows, "predict");
        const detail::GemmPrecisionGuard guard(precision_);
        return log_softmax(model_.network.forward(rows, Mode::Eval));
    }

    /// The most probable class of each row.
    std::vector<std::uint32_t> predict(const Matrix& rows) {
        const Matrix log_p = log_probabilities(rows);
        std::vector<std::uint32_t> out(log_p.shape()[0]);
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = top_classes(log_p, i, 1).front();
        return out;
    }

    /// Loss and accuracy on the labelled rows of `data` (raw, as the model takes them), in
    /// near-equal batches of at most `batch` rows, as ist::evaluate scores them.
    Evaluation evaluate(const Dataset& data, std::size_t batch = TrainerOptions{}.eval_batch) {
        check_width(data.features, data.name);
        TrainerOptions options;
        options.eval_batch = batch;
        options.precision = precision_;
        return ist::evaluate(model_.network, data, options);
    }

    /// The `k` most probable classes of row `i` of `log_p`, most probable first (ties: lower class first).
    static std::vector<std::uint32_t> top_classes(const Matrix& log_p, std::size_t i, std::size_t k) {
        std::vector<std::uint32_t> order(log_p.shape()[1]);
        std::iota(order.begin(), order.end(), 0u);
        k = std::min(k, order.size());
        std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                          [&](std::uint32_t a, std::uint32_t b) { return log_p(i, a) > log_p(i, b) || (log_p(i, a) == log_p(i, b) && a < b); });
        order.resize(k);
        return order;
    }

private:
    /// `precision`, once known to be computable here (check_gemm_precision throws otherwise).
    static Precision checked(Precision precision) {
        detail::check_gemm_precision(precision);
        return precision;
    }
    static LoadedModel load_checked(const std::string& path, Precision precision) {
        checked(precision);
        return load_model_file(path);
    }

    LoadedModel model_;
    std::string name_;
    Precision precision_;
};

}  // namespace ist
