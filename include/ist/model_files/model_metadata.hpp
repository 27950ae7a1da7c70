#pragma once
// What a model file says besides its layers (format 2): the classes the outputs stand for, where
// the label was in the training data, and how the batch norms' statistics were set, so a program
// that holds only the file can read new rows and name its predictions (docs/model_files.md).
#include <optional>
#include <string>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/detail/json.hpp"

namespace ist {

/// The "metadata" object of architecture.json. Every field but `classes` is optional.
struct ModelMetadata {
    std::size_t classes = 0;                  ///< outputs of the network (save_model fills it in)
    std::vector<std::string> class_names;     ///< one per class, or empty: the classes are 0 .. classes-1
    std::optional<std::size_t> label_column;  ///< 0-based column of the label in the training CSV
    std::string label_name;                   ///< that column's header, when the file had one
    /// The batch norms evaluate with the population statistics of this many training rows
    /// (ist::use_population_statistics); 0: not recorded (batch statistics, or running ones).
    std::size_t population_rows = 0;
};

namespace detail {

inline json::Value metadata_json(const ModelMetadata& m) {
    using json::Value;
    Value out = Value::object().set("classes", Value::number(m.classes));
    if (!m.class_names.empty()) {
        Value names = Value::array();
        for (const std::string& n : m.class_names) names.items.push_back(Value::string(n));
        out.set("class_names", std::move(names));
    }
    if (m.label_column) out.set("label_column", Value::number(*m.label_column));
    if (!m.label_name.empty()) out.set("label_name", Value::string(m.label_name));
    if (m.population_rows) out.set("population_rows", Value::number(m.population_rows));
    return out;
}

/// The metadata object at `where`; DataError for a wrong type, an unknown key, or class names
/// that are not one per output (`outputs`).
inline ModelMetadata read_metadata(const json::Value& object, const std::string& where, std::size_t outputs) {
    json::Fields f(object, where);
    ModelMetadata m;
    m.classes = f.count("classes");
    if (m.classes != outputs)
        throw DataError(where + ": 'classes' is " + std::to_string(m.classes) + ", the network outputs " + std::to_string(outputs));
    if (f.has("class_names")) {
        const json::Value& names = f.value("class_names");
        const bool strings = names.kind == json::Value::Kind::Array &&
                             std::all_of(names.items.begin(), names.items.end(),
                                         [](const json::Value& v) { return v.kind == json::Value::Kind::String; });
        if (!strings || names.items.size() != m.classes)
            throw DataError(where + ": 'class_names' must be an array of " + std::to_string(m.classes) + " strings");
        for (const json::Value& v : names.items) m.class_names.push_back(v.text);
    }
    if (f.has("label_column")) m.label_column = f.count("label_column");
    if (f.has("label_name")) m.label_name = f.text("label_name");
    if (f.has("population_rows")) m.population_rows = f.count("population_rows");
    f.finish();
    return m;
}

}  // namespace detail

}  // namespace ist
