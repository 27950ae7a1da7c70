#pragma once
// Writes every round's metrics to a CSV file, or to JSON when the path ends in ".json".
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/metrics/round_metrics.hpp"

namespace ist {

class MetricsLog {
public:
    explicit MetricsLog(std::string path) : path_(std::move(path)) {}

    void on_train_begin(auto&) {
        out_.open(path_);
        if (!out_) throw DataError(path_ + ": cannot open for writing");
        if (json()) out_ << "[\n";
        else out_ << "round,train_loss,test_loss,test_accuracy,bytes,total_bytes,seconds\n";
        first_ = true;
    }

    void on_round_end(const RoundMetrics& m) {
        const std::string test_loss = m.test ? std::to_string(m.test->loss) : (json() ? "null" : "");
        const std::string test_acc = m.test ? std::to_string(m.test->accuracy) : (json() ? "null" : "");
        if (json()) {
            out_ << (first_ ? "  " : ",\n  ") << "{\"round\": " << m.round << ", \"train_loss\": " << m.train_loss
                 << ", \"test_loss\": " << test_loss << ", \"test_accuracy\": " << test_acc
                 << ", \"bytes\": " << m.bytes << ", \"total_bytes\": " << m.total_bytes
                 << ", \"worker_bytes\": " << json_array(m.worker_bytes)
                 << ", \"dropped\": " << json_array(m.dropped_workers)
                 << ", \"worker_seconds\": " << json_array(m.worker_seconds) << ", \"seconds\": " << m.seconds << "}";
        } else {
            out_ << m.round << ',' << m.train_loss << ',' << test_loss << ',' << test_acc << ',' << m.bytes << ','
                 << m.total_bytes << ',' << m.seconds << '\n';
        }
        first_ = false;
        out_.flush();
    }

    void on_train_end(const TrainResult&) {
        if (json()) out_ << "\n]\n";
        out_.close();
    }

private:
    // JSON only (the CSV keeps its columns): per worker what crossed its link, e.g. to check against a
    // real link's byte counters, its local work's seconds (in-process transports; what ist-fed-bench's
    // network model takes), and the workers dropped from the round (docs/cluster.md).
    template <class T>
    static std::string json_array(const std::vector<T>& values) {
        std::string out = "[";
        for (std::size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + number(values[i]);
        return out + "]";
    }
    template <class T>
    static std::string number(T value) {
        if constexpr (std::is_floating_point_v<T>) {
            std::ostringstream text;
            text << value;  // as the other fields print doubles
            return text.str();
        } else {
            return std::to_string(value);
        }
    }
    bool json() const { return path_.size() >= 5 && path_.compare(path_.size() - 5, 5, ".json") == 0; }
    std::string path_;
    std::ofstream out_;
    bool first_ = true;
};

}  // namespace ist
