// ist-soak: a long IST run over MPI with random worker failures and stalls, for tests/soak/soak.sh
// (not in CI). Under `mpirun -np S`: an MLP on the digits, IST with MpiTransport's straggler
// options (round_timeout, drop_failed_workers); each (round, worker) fails with probability
// --fail and stalls past the deadline with probability --stall (worker 0 only fails: it is never
// a straggler, see docs/cluster.md). A checkpoint is written every --checkpoint-every rounds and
// resumed from when it exists, so soak.sh can SIGKILL the whole job and start it again. Every
// --report-every rounds rank 0 appends one line to --log: the round, the test accuracy, and
// every rank's resident memory (VmRSS). At the end: the accuracy, whether every weight is
// finite, the checksum.
//
//   ist-soak --verify PATH   (one process) reads a checkpoint as a resume would: "checkpoint ok"
#include <chrono>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

#include "cli.hpp"

namespace {

struct Config {
    std::size_t rounds = 2000, report_every = 100, checkpoint_every = 10, stall_ms = 400, timeout_ms = 150;
    double fail = 0.02, stall = 0.02;
    std::uint64_t seed = 42;
    std::string checkpoint, log, verify;
};

Config parse(int argc, char** argv) {
    Config c;
    ist::cli::Options cli("ist-soak", "IST over MPI with random worker failures and stalls, resumable (tests/soak/soak.sh).");
    cli.value("--rounds", c.rounds, ist::cli::kPositive, "T", "rounds in all (default 2000)");
    cli.value("--fail", c.fail, ist::cli::kDouble, "P", "probability a worker throws in a round (default 0.02)");
    cli.value("--stall", c.stall, ist::cli::kDouble, "P", "probability a worker 1..S-1 stalls in a round (default 0.02)");
    cli.value("--stall-ms", c.stall_ms, ist::cli::kCount, "MS", "how long a stall lasts (default 400)");
    cli.value("--round-timeout", c.timeout_ms, ist::cli::kCount, "MS", "the straggler deadline (default 150)");
    cli.value("--seed", c.seed, ist::cli::kCount, "N", "seed of the run and of the faults (default 42)");
    cli.text("--checkpoint", c.checkpoint, "PATH", "checkpoint file: written every --checkpoint-every rounds, resumed if present");
    cli.value("--checkpoint-every", c.checkpoint_every, ist::cli::kPositive, "K", "rounds between checkpoints (default 10)");
    cli.value("--report-every", c.report_every, ist::cli::kPositive, "K", "rounds between memory reports (default 100)");
    cli.text("--log", c.log, "PATH", "append the reports to PATH");
    cli.text("--verify", c.verify, "PATH", "read a checkpoint as a resume would, in one process, and exit");
    cli.parse(argc, argv);
    return c;
}

/// MpiTransport whose workers fail or stall at random, the same decision on every rank.
class RandomFaults : public ist::MpiTransport {
public:
    RandomFaults(Options o, const Config& c) : MpiTransport(o), config_(c) {}
    void set_round(std::size_t done) { round_ = done; }

    /// `merges`: the MergesDuringRound hook's, passed on.
    template <class Extract, class Work, class... Merges>
    auto round(std::size_t workers, Extract&& extract, Work work, ist::Replicas replicas, Merges... merges) {
        ++round_;
        auto faulty = [work, r = round_, c = config_](auto& pkg, ist::Communicator& comm) {
            const double u = uniform(c.seed, r, comm.worker());
            if (u < c.fail) throw std::runtime_error("injected failure in round " + std::to_string(r));
            if (comm.worker() != 0 && u < c.fail + c.stall) std::this_thread::sleep_for(std::chrono::milliseconds(c.stall_ms));
            work(pkg, comm);
        };
        return MpiTransport::round(workers, std::forward<Extract>(extract), faulty, replicas, merges...);
    }

private:
    /// A uniform number in [0, 1) from (seed, round, worker): splitmix64 of their mix.
    static double uniform(std::uint64_t seed, std::size_t round, std::size_t worker) {
        std::uint64_t z = seed * 0x9E3779B97F4A7C15ull + round * 0xBF58476D1CE4E5B9ull + worker * 0x94D049BB133111EBull;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        return static_cast<double>(z >> 11) * 0x1.0p-53;
    }
    Config config_;
    std::size_t round_ = 0;
};

ist::TrainerOptions trainer_options(const Config& c, std::size_t workers) {
    ist::TrainerOptions o{.workers = workers, .local_steps = 10, .rounds = c.rounds, .batch_size = 64};
    o.seed = c.seed;
    o.eval_every = 0;
    return o;
}

ist::Network make_network(const Config& c, const ist::Dataset& train) {
    return ist::make_mlp({train.feature_count(), {256, 256}, train.classes, ist::Norm::Batch, c.seed, 0.0f});
}

std::pair<ist::Dataset, ist::Dataset> digits() {
    auto sets = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(sets.first, sets.second);
    return sets;
}

double resident_mb() {
    std::ifstream in("/proc/self/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    return 0.0;
}

bool all_finite(const ist::Network& net) {
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        for (float v : net.parameter(i).value)
            if (!std::isfinite(v)) return false;
    return true;
}

/// --verify: the checkpoint read into a trainer of the same shapes (SerialTransport, one process).
int verify(const Config& c) {
    const auto [train, test] = digits();
    ist::Network net = make_network(c, train);
    ist::IstTrainer trainer(net, trainer_options(c, 4), ist::NeuronPartition(), ist::Sgd(0.05f), ist::HolderAverage(),
                            ist::SerialTransport());
    trainer.load_checkpoint(c.verify);
    std::cout << "checkpoint ok: " << c.verify << " after round " << trainer.rounds_done()
              << (all_finite(net) ? ", finite" : ", NOT FINITE") << '\n';
    return all_finite(net) ? 0 : 1;
}

/// Rank 0 appends "round R accuracy A rss MB r0 r1 ..." (every rank's VmRSS, gathered).
void report(const Config& c, std::size_t round, double accuracy) {
    const double mine = resident_mb();
    std::vector<double> all(static_cast<std::size_t>(ist::MpiEnvironment::size()));
    MPI_Gather(&mine, 1, MPI_DOUBLE, all.data(), 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    if (ist::MpiEnvironment::rank() != 0) return;
    std::ostringstream line;
    line << "round " << round << " accuracy " << accuracy << " rss_mb";
    for (double mb : all) line << ' ' << static_cast<int>(mb + 0.5);
    std::cout << line.str() << std::endl;
    if (!c.log.empty()) std::ofstream(c.log, std::ios::app) << line.str() << '\n';
}

int run(const Config& c) {
    const auto [train, test] = digits();
    ist::Network net = make_network(c, train);
    ist::MpiTransport::Options o;
    o.round_timeout = std::chrono::milliseconds(c.timeout_ms);
    o.drop_failed_workers = true;
    const auto workers = static_cast<std::size_t>(ist::MpiEnvironment::size());
    ist::IstTrainer trainer(net, trainer_options(c, workers), ist::NeuronPartition(), ist::Sgd(0.05f),
                            ist::HolderAverage(), RandomFaults(o, c));
    if (!c.checkpoint.empty() && std::ifstream(c.checkpoint)) trainer.load_checkpoint(c.checkpoint);
    trainer.transport().set_round(trainer.rounds_done());
    ist::Checkpoint checkpoint(c.checkpoint, c.checkpoint_every);
    std::size_t dropped = 0;
    double accuracy = 0.0;
    while (trainer.rounds_done() < c.rounds) {
        trainer.set_rounds(std::min(c.rounds, (trainer.rounds_done() / c.report_every + 1) * c.report_every));
        const ist::TrainResult r = trainer.train(train, test, checkpoint);
        for (const auto& m : r.history) dropped += m.dropped_workers.size();
        if (r.final_test) accuracy = r.final_test->accuracy;
        report(c, trainer.rounds_done(), accuracy);
    }
    if (ist::MpiEnvironment::rank() == 0)
        std::cout << "final accuracy " << accuracy << " after " << trainer.rounds_done() << " rounds, "
                  << dropped << " worker-rounds dropped in this process's rounds, weights "
                  << (all_finite(net) ? "finite" : "NOT FINITE") << ", checksum " << ist::weights_checksum_hex(net) << '\n';
    return all_finite(net) ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-soak", [&] {
        const Config c = parse(argc, argv);
        if (!c.verify.empty()) return verify(c);
        ist::MpiEnvironment mpi(argc, argv);
        try {
            return run(c);
        } catch (const std::exception& e) {
            ist::MpiEnvironment::abort(ist::cli::error_line("ist-soak", e), 2);
        }
        return 2;
    });
}
