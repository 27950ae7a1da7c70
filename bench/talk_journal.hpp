#pragma once
// ist-bench talk --runs FILE: a journal of finished runs, one CSV line per (net, S, method, seed),
// so that the full table (hours of CPU at width 4096) can be built in several quiet sittings and
// survives a cut-off. A run found in the journal under the same settings is not run again; each
// line keeps the load average at the run's start, so the table can say how quiet its runs were.
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include <ist/core/error.hpp>

#include "talk_runs.hpp"

namespace ist_bench::talk {

/// What decides a run's numbers besides (net, S, method, seed): runs under other settings are
/// another table's and are kept in the file but not used.
inline std::string settings_key(const TalkConfig& c) {
    std::ostringstream key;
    key << "width=" << c.width << ";rounds=" << c.rounds << ";l=" << c.local_steps << ";batch=" << c.batch
        << ";lr=" << c.lr << ";sampling=" << (c.whole_set ? "whole-set" : "shards") << ";train=" << c.train_rows
        << ";test=" << c.test_rows << ";targets=" << c.targets[0] << "/" << c.targets[1] << ";links=";
    for (std::size_t i = 0; i < c.links.size(); ++i) key << (i ? "/" : "") << c.links[i].slug;
    if (c.epochs) key << ";epochs=" << c.epochs << ";validation=" << c.validation_rows;  // the rounds follow from them
    key << ";gemm=" << ist::detail::gemm_backend_name(c.gemm);
    return key.str();
}

class RunJournal {
public:
    /// Reads the runs of `path` made under `c`'s settings (a missing file is an empty journal).
    RunJournal(std::string path, const TalkConfig& c)
        : path_(std::move(path)), key_(settings_key(c)), clocks_(1 + c.links.size()), targets_(c.targets.size()),
          converging_(c.epochs > 0) {
        std::ifstream in(path_);
        std::string line;
        for (std::size_t number = 1; std::getline(in, line); ++number)
            if (!line.empty() && line[0] != '#') read_line(line, number);
    }

    /// The journal's outcome of this run, if it has one.
    std::optional<Outcome> find(std::size_t nets, std::size_t S, Method m, std::uint64_t seed) const {
        const auto it = runs_.find({nets, S, static_cast<int>(m), seed});
        if (it == runs_.end()) return std::nullopt;
        return it->second;
    }

    /// Appends a finished run (flushed at once: a cut-off loses at most the run in progress).
    void record(std::size_t nets, std::size_t S, Method m, std::uint64_t seed, const Outcome& o) {
        std::ofstream out(path_, std::ios::app);
        out << key_ << ',' << nets << ',' << S << ',' << static_cast<int>(m) << ',' << seed << ',' << exact(o.load_at_start)
            << ',' << exact(o.final_accuracy);
        for (const auto& clock : o.to_target)
            for (double t : clock) out << ',' << exact(t);
        if (const auto& v = o.convergence)
            for (double x : {double(v->chosen), double(v->evaluations), v->chosen_test, v->last_test, v->chosen_validation,
                             v->train_accuracy, v->train_loss, v->spread, double(v->converged)})
                out << ',' << exact(x);
        out << '\n';
        if (!out.flush()) throw ist::DataError("--runs: cannot append to " + path_);
        runs_[{nets, S, static_cast<int>(m), seed}] = o;
    }

private:
    using Key = std::tuple<std::size_t, std::size_t, int, std::uint64_t>;

    static std::string exact(double x) {
        char b[32];
        std::snprintf(b, sizeof b, "%.17g", x);
        return b;
    }

    void read_line(const std::string& line, std::size_t number) {
        std::vector<std::string> cells;
        std::stringstream fields(line);
        for (std::string cell; std::getline(fields, cell, ',');) cells.push_back(cell);
        if (cells.empty() || cells[0] != key_) return;
        const std::size_t timed = 7 + clocks_ * targets_, expected = timed + (converging_ ? kConvergenceFields : 0);
        const std::string where = "--runs: " + path_ + " line " + std::to_string(number) + ": ";
        if (cells.size() != expected)
            throw ist::DataError(where + std::to_string(cells.size()) + " fields, " + std::to_string(expected) +
                                 " expected (key, net, S, method, seed, load, final accuracy, then a time per clock and target" +
                                 (converging_ ? ", then the run at convergence)" : ")"));
        try {
            Outcome o;
            o.load_at_start = std::stod(cells[5]);
            o.final_accuracy = std::stod(cells[6]);
            o.to_target.assign(clocks_, std::vector<double>(targets_));
            for (std::size_t i = 0; i < clocks_ * targets_; ++i) o.to_target[i / targets_][i % targets_] = std::stod(cells[7 + i]);
            if (converging_) o.convergence = read_convergence(cells, timed);
            const int method = std::stoi(cells[3]);
            if (method < 0 || method > 2) throw std::invalid_argument("method");
            runs_[{std::stoul(cells[1]), std::stoul(cells[2]), method, std::stoull(cells[4])}] = o;
        } catch (const std::logic_error&) {  // std::invalid_argument, std::out_of_range
            throw ist::DataError(where + "a field is not a number in range");
        }
    }

    /// chosen evaluation, evaluations, chosen test, last test, chosen validation, training accuracy
    /// and loss, spread of the last evaluations, converged (0 / 1)
    static constexpr std::size_t kConvergenceFields = 9;

    static Convergence read_convergence(const std::vector<std::string>& cells, std::size_t first) {
        Convergence v;
        v.chosen = std::stoul(cells[first]);
        v.evaluations = std::stoul(cells[first + 1]);
        v.chosen_test = std::stod(cells[first + 2]);
        v.last_test = std::stod(cells[first + 3]);
        v.chosen_validation = std::stod(cells[first + 4]);
        v.train_accuracy = std::stod(cells[first + 5]);
        v.train_loss = std::stod(cells[first + 6]);
        v.spread = std::stod(cells[first + 7]);
        v.converged = std::stoi(cells[first + 8]) != 0;
        return v;
    }

    std::string path_, key_;
    std::size_t clocks_, targets_;
    bool converging_;
    std::map<Key, Outcome> runs_;
};

}  // namespace ist_bench::talk
