#pragma once
// One line of a sparse text format, `labels idx:value idx:value ...`, shared by the Extreme
// Classification Repository loader and the libsvm / svmlight loader (data/xml_repository.hpp,
// data/libsvm.hpp). Every error names "<path>: line L, column C" (C: 1-based byte of the token).
// Internal (namespace ist::detail::sparse); it lives beside its two loaders because it builds their
// SparseDataset rows, which no header of detail/ may know.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/sparse_dataset.hpp"
#include "ist/detail/csv_cells.hpp"

namespace ist::detail::sparse {

/// What a line may hold: index bounds (0 = unbounded, the width is inferred) and conventions.
struct LineRules {
    std::string path;
    std::uint32_t feature_base = 0;  ///< the index the file writes for column 0 (libsvm: 1)
    std::size_t features = 0;        ///< declared width, 0 = any
    std::size_t labels = 0;          ///< declared label count, 0 = any
    bool multi_label = true;         ///< labels as a comma list; else one label per row
    bool allow_empty_label_sets = false;
    const char* width_source = "the declared width";  ///< names where `features` came from
};

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/// Parses lines into a SparseDataset, refusing duplicates in a row (a feature index or a label
/// given twice is an error, not summed: the repository's files never repeat one, so a repeat
/// means a broken file). Each row's features and labels are stored sorted.
class LineParser {
public:
    explicit LineParser(LineRules rules) : rules_(std::move(rules)) {}

    void parse(std::string_view line, std::size_t line_no, SparseDataset& out) {
        line_ = line;
        line_no_ = line_no;
        const std::size_t hash = line.find('#');  // svmlight's trailing comment
        if (hash != std::string_view::npos) line_ = line.substr(0, hash);
        labels_.clear();
        pairs_.clear();
        std::size_t at = 0;
        bool first = true;
        while (true) {
            while (at < line_.size() && is_space(line_[at])) ++at;
            if (at == line_.size()) break;
            std::size_t end = at;
            while (end < line_.size() && !is_space(line_[end])) ++end;
            const std::string_view token = line_.substr(at, end - at);
            // The label field comes first; a line that starts with a blank or an index:value has none.
            if (first && at == 0 && token.find(':') == std::string_view::npos) read_labels(token, at);
            else read_feature(token, at);
            first = false;
            at = end;
        }
        finish_row(out);
    }

    /// The widest feature index + 1 and label + 1 seen so far (for inferred widths).
    std::size_t seen_features() const { return max_feature_; }
    std::size_t seen_labels() const { return max_label_; }

private:
    [[noreturn]] void fail(std::size_t at, const std::string& what) const {
        throw DataError(csv::where(rules_.path, line_no_, at + 1) + ": " + what);
    }

    std::uint64_t parse_index(std::string_view text, std::size_t at, const char* what) const {
        std::uint64_t v = 0;
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || v > 0xFFFFFFFEull)
            fail(at, std::string(what) + " '" + std::string(text) + "' is not a non-negative integer");
        return v;
    }

    void read_labels(std::string_view token, std::size_t at) {
        if (!rules_.multi_label) {
            labels_.push_back(csv::parse_label(token, rules_.path, line_no_, at + 1));
            check_label(labels_.back(), at);
            return;
        }
        for (std::size_t from = 0; from <= token.size();) {
            std::size_t comma = token.find(',', from);
            if (comma == std::string_view::npos) comma = token.size();
            labels_.push_back(static_cast<std::uint32_t>(parse_index(token.substr(from, comma - from), at + from, "label")));
            check_label(labels_.back(), at + from);
            from = comma + 1;
        }
    }

    void check_label(std::uint32_t label, std::size_t at) {
        if (rules_.labels && label >= rules_.labels)
            fail(at, "label " + std::to_string(label) + " is out of range for the " + std::to_string(rules_.labels) +
                         " declared labels");
        if (std::find(labels_.begin(), labels_.end() - 1, label) != labels_.end() - 1)
            fail(at, "label " + std::to_string(label) + " appears twice in the row");
        max_label_ = std::max<std::size_t>(max_label_, std::size_t{label} + 1);
    }

    void read_feature(std::string_view token, std::size_t at) {
        const std::size_t colon = token.find(':');
        if (colon == std::string_view::npos) fail(at, "'" + std::string(token) + "' is not index:value");
        const std::uint64_t written = parse_index(token.substr(0, colon), at, "feature index");
        if (written < rules_.feature_base)
            fail(at, "feature index " + std::to_string(written) + " is below the first index " +
                         std::to_string(rules_.feature_base));
        const std::uint64_t index = written - rules_.feature_base;
        if (rules_.features && index >= rules_.features)
            fail(at, "feature index " + std::to_string(written) + " is past " + rules_.width_source + " of " +
                         std::to_string(rules_.features) + " features");
        const float value = csv::parse_feature(token.substr(colon + 1), rules_.path, line_no_, at + colon + 2);
        pairs_.push_back({static_cast<std::uint32_t>(index), value, at});
        max_feature_ = std::max<std::size_t>(max_feature_, index + 1);
    }

    void finish_row(SparseDataset& out) {
        if (labels_.empty() && !rules_.allow_empty_label_sets)
            fail(0, rules_.multi_label ? "empty label set (allow_empty_label_sets keeps such rows)" : "no label");
        std::sort(labels_.begin(), labels_.end());
        std::stable_sort(pairs_.begin(), pairs_.end(), [](const Pair& a, const Pair& b) { return a.index < b.index; });
        indices_.clear();
        values_.clear();
        for (std::size_t k = 0; k < pairs_.size(); ++k) {
            if (k > 0 && pairs_[k].index == pairs_[k - 1].index)
                fail(pairs_[k].at, "feature index " + std::to_string(pairs_[k].index + rules_.feature_base) +
                                       " appears twice in the row (duplicates are refused, not summed)");
            indices_.push_back(pairs_[k].index);
            values_.push_back(pairs_[k].value);
        }
        out.features.append_row(indices_, values_);
        out.labels.append_row(labels_);
    }

    struct Pair {
        std::uint32_t index;
        float value;
        std::size_t at;
    };
    LineRules rules_;
    std::string_view line_;
    std::size_t line_no_ = 0, max_feature_ = 0, max_label_ = 0;
    std::vector<std::uint32_t> labels_, indices_;
    std::vector<float> values_;
    std::vector<Pair> pairs_;
};

/// Parses every non-blank line of `text` from line number `first_line` + 1 on.
inline void parse_lines(std::string_view text, std::size_t first_line, LineParser& parser, SparseDataset& out) {
    std::size_t line_no = first_line;
    for (std::string_view rest = text; !rest.empty();) {
        const std::string_view line = csv::next_line(rest);
        ++line_no;
        if (!csv::is_blank(line)) parser.parse(line, line_no, out);
    }
}

}  // namespace ist::detail::sparse
