// MetricsLog's JSON: every round's per-worker fields as written by hand here.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "ist/callbacks/metrics_log.hpp"

namespace {

std::string read_whole_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

TEST_CASE("metrics log: the JSON has each worker's bytes and seconds and the dropped workers") {
    const std::string path = (std::filesystem::temp_directory_path() / "ist-metrics-log-test.json").string();
    ist::RoundMetrics m;
    m.round = 2;
    m.bytes = 30;
    m.total_bytes = 50;
    m.worker_bytes = {10, 0, 20};
    m.dropped_workers = {1};
    m.worker_seconds = {0.5, 0.25, 2};
    m.seconds = 1.5;
    ist::MetricsLog log(path);
    int trainer = 0;  // on_train_begin takes any trainer and uses none of it
    log.on_train_begin(trainer);
    log.on_round_end(m);
    log.on_train_end(ist::TrainResult{});
    const std::string json = read_whole_file(path);
    std::filesystem::remove(path);
    CHECK(json ==
          "[\n  {\"round\": 2, \"train_loss\": 0, \"test_loss\": null, \"test_accuracy\": null, \"bytes\": 30, "
          "\"total_bytes\": 50, \"worker_bytes\": [10, 0, 20], \"dropped\": [1], \"worker_seconds\": [0.5, 0.25, 2], "
          "\"seconds\": 1.5}\n]\n");
}

TEST_CASE("metrics log: a round without workers' details writes empty lists") {
    const std::string path = (std::filesystem::temp_directory_path() / "ist-metrics-log-empty.json").string();
    ist::RoundMetrics m;
    m.round = 1;
    ist::MetricsLog log(path);
    int trainer = 0;
    log.on_train_begin(trainer);
    log.on_round_end(m);
    log.on_train_end(ist::TrainResult{});
    const std::string json = read_whole_file(path);
    std::filesystem::remove(path);
    CHECK(json.find("\"worker_bytes\": [], \"dropped\": [], \"worker_seconds\": []") != std::string::npos);
}
