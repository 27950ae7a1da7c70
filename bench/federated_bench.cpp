// ist-fed-bench: the edge / federated scenario. n clients own Fashion-MNIST's training rows (Dirichlet
// label skew alpha), S of them train each round on S workers, one fast and the others slower (a
// simulated slowdown of the threads transport), over slow links. IST with shares by capacity, IST
// with equal shares, HeteroFL-style nested subnets and FedAvg (local SGD on the sampled clients,
// merged by client size) each train for the same modelled time; prints accuracy against modelled
// time and bytes, the time and bytes each method needs to reach FedAvg's final accuracy, and writes
// CSV and one PNG per alpha (gnuplot).
//
//   ist-fed-bench                    # the issue's grid: alpha 0.1, 0.5, 100; 3 seeds; 60,000 rows
//   ist-fed-bench --alphas 0.5 --seeds 1 --train-rows 12000 --budget 60
//   ist-fed-bench --help
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>
#include <ist/partition/any_partition.hpp>

#include "cli.hpp"
#include "network_model.hpp"

namespace {

struct Config {
    std::vector<double> alphas{0.1, 0.5, 100.0};
    std::vector<double> slowdown{1.0, 2.0, 2.0, 2.0};  ///< per worker; capacities are its inverses
    std::vector<std::string> methods{"ist-capacity", "ist-equal", "nested", "fedavg"};
    std::vector<std::size_t> hidden{256, 256};
    std::size_t clients = 20, seeds = 3, local_steps = 10, batch = 32, train_rows = 0, test_rows = 2000;
    std::size_t points = 20, max_rounds = 5000;
    double budget = 120.0;   ///< modelled seconds of training per run
    double link_mbit = 10.0;  ///< every worker's link
    float lr = 0.05f;
    std::string out = "fed-bench-results";
};

const std::vector<std::string> kMethods{"ist-capacity", "ist-equal", "nested", "fedavg"};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    std::string methods = "ist-capacity,ist-equal,nested,fedavg";
    Options cli("ist-fed-bench",
                "Federated scenario on Fashion-MNIST: n clients (Dirichlet label skew), S per round on workers of\n"
                "different speed over slow links; IST (shares by capacity), IST (equal shares), nested subnets\n"
                "(HeteroFL) and FedAvg for the same modelled time. Prints accuracy vs modelled time and bytes.");
    cli.list("--alphas", c.alphas, kPositiveDouble, "LIST", "Dirichlet alphas, one PNG each (default 0.1,0.5,100)");
    cli.value("--seeds", c.seeds, kPositive, "K", "seeds 1..K per configuration (default 3)");
    cli.choices("--methods", methods, kMethods, "LIST", "ist-capacity,ist-equal,nested,fedavg (default all)");
    cli.value("--clients", c.clients, kPositive, "N", "clients owning the training rows (default 20)");
    cli.list("--slowdown", c.slowdown, kPositiveDouble, "F1,...,FS",
             "per worker (S = their number): F_s times slower; capacity and IST shares\n"
             "follow 1/F_s (default 1,2,2,2)");
    cli.value("--link", c.link_mbit, kPositiveDouble, "MBIT", "every worker's link, Mbit/s (default 10)");
    cli.value("--budget", c.budget, kPositiveDouble, "SEC", "modelled training seconds per run (default 120)");
    cli.value("--points", c.points, kPositive, "K", "evaluations per run, evenly in modelled time (default 20)");
    cli.value("--max-rounds", c.max_rounds, kPositive, "R", "stop a run after R rounds anyway (default 5000)");
    cli.list("--hidden", c.hidden, kWidth, "W1,W2", "hidden widths of the MLP (default 256,256)");
    cli.value("--local-steps", c.local_steps, kPositive, "L", "local steps per round (default 10)");
    cli.value("--batch", c.batch, kPositive, "B", "mini-batch per worker (default 32)");
    cli.value("--lr", c.lr, kPositiveFloat, "X", "SGD learning rate (default 0.05)");
    cli.value("--train-rows", c.train_rows, kCount, "N", "first N training rows (default all 60,000)");
    cli.value("--test-rows", c.test_rows, kPositive, "N", "first N test rows evaluated (default 2000)");
    cli.text("--out", c.out, "DIR", "where CSV and PNG go (default fed-bench-results)");
    cli.parse(argc, argv);
    for (double f : c.slowdown)
        if (f < 1.0) throw ist::ConfigError("--slowdown: each factor must be >= 1 (the fastest worker is 1)");
    c.methods = split(methods);
    return c;
}

/// Worker capacities 1/F_s, as IST's shares (summing to 1) or as HeteroFL's fractions (largest 1).
std::vector<double> capacities(const std::vector<double>& slowdown, bool as_shares) {
    std::vector<double> out;
    double sum = 0.0, largest = 0.0;
    for (double f : slowdown) {
        out.push_back(1.0 / f);
        sum += 1.0 / f;
        largest = std::max(largest, 1.0 / f);
    }
    for (double& v : out) v /= as_shares ? sum : largest;
    return out;
}

ist::AnyPartition partition_of(const std::string& method, const Config& c) {
    if (method == "ist-capacity") return ist::CapacityPartition(capacities(c.slowdown, true));
    if (method == "ist-equal") return ist::NeuronPartition();
    if (method == "nested") return ist::NestedPartition(capacities(c.slowdown, false));
    return ist::FullModel();
}

/// One evaluation: where a run stood in modelled time and bytes.
struct Point {
    double seconds = 0.0, bytes = 0.0, accuracy = 0.0;
};

/// Adds up each round's modelled time (slowest worker), evaluates every budget / points modelled
/// seconds and stops the run at the budget.
struct ModelledClock {
    const ist::Dataset& test;
    double budget, beta, step;
    double seconds = 0.0, next = 0.0;
    std::vector<Point> curve;

    template <class Trainer>
    bool on_round_end(const ist::RoundMetrics& m, Trainer& trainer) {
        seconds += ist_bench::slowest_worker_seconds(m.worker_seconds, m.worker_bytes, beta);
        if (seconds < next + step && seconds < budget) return false;
        next = step * std::floor(seconds / step);
        curve.push_back({seconds, static_cast<double>(m.total_bytes), trainer.evaluate(test).accuracy});
        return seconds >= budget;
    }
};

std::vector<Point> run_once(const Config& c, const std::string& method, const ist::ClientShards& shards,
                            const ist::Dataset& train, const ist::Dataset& test, std::uint64_t seed) {
    ist::TrainerOptions o{.workers = c.slowdown.size(), .local_steps = c.local_steps, .rounds = c.max_rounds,
                          .batch_size = c.batch};
    o.seed = seed;
    o.eval_every = 0;
    o.sampling = ist::Sampling::Clients;
    ist::Network net = ist::make_mlp({train.feature_count(), c.hidden, train.classes, ist::Norm::Batch, seed});
    ist::ThreadsTransport::Options threads;
    threads.slowdown = c.slowdown;
    ist::IstTrainer trainer(net, o, partition_of(method, c), ist::Sgd(c.lr),
                            ist::HolderAverage(ist::HolderAverage::Weighting::BySamples), ist::ThreadsTransport(threads));
    trainer.set_clients(shards);
    ModelledClock clock{test, c.budget, c.link_mbit * 1e6 / 8.0, c.budget / static_cast<double>(c.points), 0.0, 0.0, {}};
    trainer.train(train, test, clock);
    return clock.curve;
}

/// One method's runs: the mean curve over seeds, and the range of the seeds' final accuracies.
struct Summary {
    std::vector<Point> mean;
    double lowest = 1.0, highest = 0.0;
};

/// The mean over seeds, point by point (as many points as the shortest run has).
Summary summarise(const std::vector<std::vector<Point>>& runs) {
    std::size_t n = runs.front().size();
    Summary out;
    for (const auto& r : runs) {
        n = std::min(n, r.size());
        out.lowest = std::min(out.lowest, r.back().accuracy);
        out.highest = std::max(out.highest, r.back().accuracy);
    }
    std::vector<Point>& mean = out.mean;
    mean.resize(n);
    for (const auto& r : runs)
        for (std::size_t k = 0; k < n; ++k) {
            mean[k].seconds += r[k].seconds / static_cast<double>(runs.size());
            mean[k].bytes += r[k].bytes / static_cast<double>(runs.size());
            mean[k].accuracy += r[k].accuracy / static_cast<double>(runs.size());
        }
    return out;
}

/// The first point of `curve` at or above `target`, if any.
const Point* first_reaching(const std::vector<Point>& curve, double target) {
    for (const Point& p : curve)
        if (p.accuracy >= target - 1e-12) return &p;
    return nullptr;
}

/// One alpha's table: final accuracy, and time / bytes to FedAvg's final accuracy (mean curves).
void report(std::ostream& out, double alpha, const std::vector<std::string>& methods,
            const std::vector<Summary>& summaries) {
    std::vector<std::vector<Point>> curves;
    for (const Summary& s : summaries) curves.push_back(s.mean);
    const auto fedavg = std::find(methods.begin(), methods.end(), "fedavg");
    const std::vector<Point>* reference = fedavg == methods.end() ? nullptr : &curves[fedavg - methods.begin()];
    const double target = reference ? reference->back().accuracy : 0.0;
    const Point* ref = reference ? first_reaching(*reference, target) : nullptr;
    char line[256];
    std::snprintf(line, sizeof line, "alpha = %g: FedAvg's final accuracy %.4f, reached at %.1f s, %.1f MB (modelled)\n",
                  alpha, target, ref ? ref->seconds : 0.0, ref ? ref->bytes / 1e6 : 0.0);
    out << line << "  method          final acc (seeds' range)   to FedAvg's final: modelled s     MB   (x FedAvg's)\n";
    for (std::size_t m = 0; m < methods.size(); ++m) {
        const Point* p = ref ? first_reaching(curves[m], target) : nullptr;
        const int n = std::snprintf(line, sizeof line, "  %-14s  %.4f (%.4f-%.4f)", methods[m].c_str(),
                                    curves[m].back().accuracy, summaries[m].lowest, summaries[m].highest);
        if (p)
            std::snprintf(line + n, sizeof line - n, "   %28.1f %7.1f   (%.2f, %.2f)\n", p->seconds, p->bytes / 1e6,
                          p->seconds / ref->seconds, p->bytes / ref->bytes);
        else
            std::snprintf(line + n, sizeof line - n, "   %28s\n", "not reached");
        out << line;
    }
}

/// CSV of every method's mean curve, and a gnuplot PNG: accuracy vs modelled time and vs bytes.
void write_plot(const Config& c, double alpha, const std::vector<std::string>& methods,
                const std::vector<std::vector<Point>>& curves) {
    char name[64];
    std::snprintf(name, sizeof name, "/alpha-%g", alpha);
    const std::string stem = c.out + name;
    std::ofstream csv(stem + ".csv");
    csv << "method,point,modelled_seconds,megabytes,accuracy\n";
    for (std::size_t m = 0; m < methods.size(); ++m)
        for (std::size_t k = 0; k < curves[m].size(); ++k)
            csv << methods[m] << ',' << k << ',' << curves[m][k].seconds << ',' << curves[m][k].bytes / 1e6 << ','
                << curves[m][k].accuracy << '\n';
    csv.close();
    std::ofstream gp(stem + ".gp");
    gp << "set terminal pngcairo size 1200,450\nset output '" << stem << ".png'\nset datafile separator ','\n"
       << "set multiplot layout 1,2 title 'Fashion-MNIST, " << c.clients << " clients, Dirichlet alpha = " << alpha
       << ", S = " << c.slowdown.size() << ", " << c.link_mbit << " Mbit/s'\nset ylabel 'test accuracy'\nset key bottom right\n";
    for (int column : {3, 4}) {  // modelled seconds, megabytes
        gp << "set xlabel '" << (column == 3 ? "modelled seconds" : "MB exchanged") << "'\nplot ";
        for (std::size_t m = 0; m < methods.size(); ++m)
            gp << (m ? ", " : "") << "'" << stem << ".csv' skip 1 using (strcol(1) eq '" << methods[m] << "' ? $"
               << column << " : 1/0):5 with linespoints title '" << methods[m] << "'";
        gp << '\n';
    }
    gp << "unset multiplot\n";
    gp.close();
    if (std::system(("gnuplot " + stem + ".gp 2>/dev/null").c_str()) != 0) std::cerr << "(gnuplot failed: no PNG)\n";
}

ist::Dataset first_rows(const ist::Dataset& data, std::size_t n) {
    if (n == 0 || n >= data.size()) return data;
    std::vector<std::uint32_t> rows(n);
    for (std::uint32_t r = 0; r < n; ++r) rows[r] = r;
    return ist::subset(data, rows);
}

int run(const Config& c) {
    auto [full_train, full_test] = ist::load_fashion_mnist();
    ist::Dataset train = first_rows(full_train, c.train_rows), test = first_rows(full_test, c.test_rows);
    ist::standardize(train, test);
    std::filesystem::create_directories(c.out);
    std::cout << "ist-fed-bench: Fashion-MNIST (" << train.size() << " train / " << test.size() << " test rows), "
              << c.clients << " clients, S = " << c.slowdown.size() << ", l = " << c.local_steps << ", batch "
              << c.batch << ", " << c.seeds << " seed(s), " << c.budget << " modelled s per run, link " << c.link_mbit
              << " Mbit/s\n" << ist_bench::kSlowestWorkerText;
    for (double alpha : c.alphas) {
        std::vector<Summary> summaries;
        std::vector<std::vector<Point>> curves;
        for (const std::string& method : c.methods) {
            std::vector<std::vector<Point>> runs;
            for (std::uint64_t seed = 1; seed <= c.seeds; ++seed)
                runs.push_back(run_once(c, method, ist::dirichlet_clients(train, c.clients, alpha, seed), train, test, seed));
            summaries.push_back(summarise(runs));
            curves.push_back(summaries.back().mean);
        }
        report(std::cout, alpha, c.methods, summaries);
        write_plot(c, alpha, c.methods, curves);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-fed-bench", [&] { return run(parse(argc, argv)); });
}
