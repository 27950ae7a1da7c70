// ist-fed-bench: the edge / federated scenario. n clients own Fashion-MNIST's training rows (Dirichlet
// label skew alpha), S of them train each round on S workers, one fast and the others slower (a
// simulated slowdown of the threads transport), over slow links. IST with shares by capacity, IST
// with equal shares, IST with a round deadline (clients that miss it are dropped, their slices
// kept), HeteroFL-style nested subnets and FedAvg (local SGD on the sampled clients, merged by
// client size) each train for the same modelled time; prints accuracy against modelled time and
// bytes, the time and bytes each method needs to reach FedAvg's final accuracy, and writes CSV and
// one PNG per alpha and link (gnuplot). `--network resnet`: the same with ResIST (Dun et al. 2022)
// on the digits pre-activation ResNet of resist-train.
//
//   ist-fed-bench                    # the issue's grid: alpha 0.1, 0.5, 100; 3 seeds; 60,000 rows
//   ist-fed-bench --alphas 0.5 --seeds 1 --train-rows 12000 --budget 60
//   ist-fed-bench --network resnet --alphas 0.1,0.5
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
#include "training_options.hpp"
#include "network_model.hpp"

namespace {

struct Config {
    std::vector<double> alphas{0.1, 0.5, 100.0};
    std::vector<double> slowdown{1.0, 2.0, 2.0, 2.0};  ///< per worker; capacities are its inverses
    std::vector<std::string> methods{"ist-capacity", "ist-equal", "ist-deadline", "nested", "fedavg"};
    std::string network = "mlp";  ///< mlp: Fashion-MNIST MLP; resnet: ResIST on the digits ResNet
    std::vector<std::size_t> hidden{256, 256};
    std::size_t clients = 20, seeds = 3, local_steps = 10, batch = 32, train_rows = 0, test_rows = 2000;
    std::size_t points = 20, max_rounds = 5000;
    double budget = 120.0;   ///< modelled seconds of training per run
    double deadline_ms = 0.0;  ///< ist-deadline's round deadline, compute ms here; 0: measured first
    std::vector<ist_bench::Link> links = ist_bench::parse_links("10M");  ///< every worker's link; one table per link
    float lr = 0.05f;
    std::string out = "fed-bench-results";
};

const std::vector<std::string> kMethods{"ist-capacity", "ist-equal", "ist-deadline", "nested", "fedavg"};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    std::string methods = "ist-capacity,ist-equal,ist-deadline,nested,fedavg";
    Options cli("ist-fed-bench",
                "Federated scenario on Fashion-MNIST: n clients (Dirichlet label skew), S per round on workers of\n"
                "different speed over slow links; IST (shares by capacity), IST (equal shares), nested subnets\n"
                "(HeteroFL) and FedAvg for the same modelled time. Prints accuracy vs modelled time and bytes.\n"
                "--network resnet: ResIST on the digits pre-activation ResNet instead.");
    cli.choice("--network", c.network, {"mlp", "resnet"}, "NAME",
               "mlp: Fashion-MNIST MLP (default) | resnet: ResIST, digits preact ResNet\n"
               "8-16-32 / blocks 1-6-1 (the ist-* rows cut its blocks; no nested row)");
    cli.list("--alphas", c.alphas, kPositiveDouble, "LIST", "Dirichlet alphas, one PNG each (default 0.1,0.5,100)");
    cli.value("--seeds", c.seeds, kPositive, "K", "seeds 1..K per configuration (default 3)");
    cli.choices("--methods", methods, kMethods, "LIST",
                "ist-capacity,ist-equal,ist-deadline,nested,fedavg (default all;\n"
                "--network resnet: all but nested)");
    cli.value("--clients", c.clients, kPositive, "N", "clients owning the training rows (default 20)");
    cli.list("--slowdown", c.slowdown, kPositiveDouble, "F1,...,FS",
             "per worker (S = their number): F_s times slower; capacity and IST shares\n"
             "follow 1/F_s (default 1,2,2,2)");
    std::string links;
    cli.text("--link", links, "LIST",
             "every worker's link speed, bits per second with a K, M or G suffix; one\n"
             "table and PNG per speed (default 10M; e.g. 10M,100M,1G)");
    cli.value("--deadline", c.deadline_ms, kPositiveDouble, "MS",
              "ist-deadline: workers still computing MS ms (wall, here) after the round\n"
              "starts are dropped, their slices kept (default: 1.5 x the fast worker's\n"
              "median compute, measured in a short run first)");
    cli.value("--budget", c.budget, kPositiveDouble, "SEC", "modelled training seconds per run (default 120)");
    cli.value("--points", c.points, kPositive, "K", "evaluations per run, evenly in modelled time (default 20)");
    cli.value("--max-rounds", c.max_rounds, kPositive, "R", "stop a run after R rounds anyway (default 5000)");
    cli.list("--hidden", c.hidden, kWidth, "W1,W2", "hidden widths of the MLP (default 256,256)");
    TrainingOptions training(cli);
    training.local_steps(c.local_steps);
    training.batch(c.batch);
    training.lr(c.lr, "SGD learning rate");
    cli.value("--train-rows", c.train_rows, kCount, "N", "first N training rows (default all 60,000)");
    cli.value("--test-rows", c.test_rows, kPositive, "N", "first N test rows evaluated (default 2000)");
    cli.text("--out", c.out, "DIR", "where CSV and PNG go (default fed-bench-results)");
    cli.parse(argc, argv);
    if (cli.given("--link")) c.links = ist_bench::parse_links(links);
    for (double f : c.slowdown)
        if (f < 1.0) throw ist::ConfigError("--slowdown: each factor must be >= 1 (the fastest worker is 1)");
    c.methods = split(methods);
    if (c.network == "resnet" && !cli.given("--methods")) std::erase(c.methods, "nested");
    if (c.network == "resnet" && std::count(c.methods.begin(), c.methods.end(), "nested"))
        throw ist::ConfigError("--methods: nested cuts neurons; --network resnet has no nested row");
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
    if (c.network == "resnet" && method == "ist-capacity")
        return ist::ResistPartition(ist::ResistOptions{.shares = capacities(c.slowdown, true)});
    if (c.network == "resnet" && method != "fedavg") return ist::ResistPartition(ist::ResistOptions{});
    if (method == "ist-capacity") return ist::CapacityPartition(capacities(c.slowdown, true));
    if (method == "ist-equal" || method == "ist-deadline") return ist::NeuronPartition();
    if (method == "nested") return ist::NestedPartition(capacities(c.slowdown, false));
    return ist::FullModel();
}

/// One evaluation: where a run stood in modelled time and bytes.
struct Point {
    double seconds = 0.0, bytes = 0.0, accuracy = 0.0;
};

/// Adds up each round's modelled time (slowest worker), evaluates every budget / points modelled
/// seconds and stops the run at the budget. With a deadline, a round that dropped workers lasts
/// at least until the deadline (deadline x compute_share + the dropped worker's subnet over its
/// link); the subnets the dropped received count as bytes (the transport counts them, as every
/// transport counts a subnet it sent).
struct ModelledClock {
    const ist::Dataset& test;
    double budget, beta, step, deadline = 0.0;
    double seconds = 0.0, next = 0.0, bytes = 0.0;
    std::vector<Point> curve;

    template <class Trainer>
    bool on_round_end(const ist::RoundMetrics& m, Trainer& trainer) {
        seconds += round_seconds(m);
        if (seconds < next + step && seconds < budget) return false;
        next = step * std::floor(seconds / step);
        curve.push_back({seconds, bytes, trainer.evaluate(test).accuracy});
        return seconds >= budget;
    }

    double round_seconds(const ist::RoundMetrics& m) {
        const double slowest = ist_bench::slowest_worker_seconds(m.worker_seconds, m.worker_bytes, beta);
        bytes += static_cast<double>(m.bytes);  // the subnets of the workers dropped at the deadline included
        const bool timed_out = std::any_of(m.failures.begin(), m.failures.end(), [](const std::string& why) {
            return why.find("did not return in time") != std::string::npos;  // not those sitting out
        });
        if (!timed_out) return slowest;
        const double subnet = static_cast<double>(m.max_worker_bytes) / 2.0;  // equal shares: half a returned worker's bytes
        return std::max(slowest, deadline * ist_bench::compute_share(m.worker_bytes.size()) + 2.0 * ist_bench::kAlpha +
                                     subnet / beta);
    }
};

/// The network of `c` (seeded), for `train`'s features and classes. The ResNet is resist-train's
/// with 6 blocks in the middle stage instead of 4: ResIST deals the 5 after the stage's first, and
/// resist-train's 3 are too few for capacity shares 0.4 / 0.2 / 0.2 / 0.2 (a worker would get none).
ist::Network network_of(const Config& c, const ist::Dataset& train, std::uint64_t seed) {
    if (c.network == "resnet")
        return ist::make_preact_resnet({.channels = 1, .height = 8, .width = 8, .classes = train.classes,
                                        .stage_channels = {8, 16, 32}, .stage_blocks = {1, 6, 1}, .seed = seed});
    return ist::make_mlp({train.feature_count(), c.hidden, train.classes, ist::Norm::Batch, seed});
}

/// One run of `method`; `deadline_ms` > 0 drops the workers still computing at that point.
template <class... Callbacks>
void train_method(const Config& c, const std::string& method, const ist::ClientShards& shards,
                  const ist::Dataset& train, const ist::Dataset& test, std::uint64_t seed, std::size_t rounds,
                  double deadline_ms, Callbacks&&... callbacks) {
    ist::TrainerOptions o{.workers = c.slowdown.size(), .local_steps = c.local_steps, .rounds = rounds,
                          .batch_size = c.batch};
    o.seed = seed;
    o.eval_every = 0;
    o.sampling = ist::Sampling::Clients;
    ist::Network net = network_of(c, train, seed);
    ist::ThreadsTransport::Options threads;
    threads.slowdown = c.slowdown;
    if (deadline_ms > 0.0) {
        threads.round_timeout = std::chrono::milliseconds(static_cast<long>(std::lround(deadline_ms)));
        threads.drop_failed_workers = true;
    }
    ist::IstTrainer trainer(net, o, partition_of(method, c), ist::Sgd(c.lr),
                            ist::HolderAverage(ist::HolderAverage::Weighting::BySamples), ist::ThreadsTransport(threads));
    trainer.set_clients(shards);
    trainer.train(train, test, callbacks...);
}

std::vector<Point> run_once(const Config& c, const std::string& method, const ist_bench::Link& link,
                            const ist::ClientShards& shards, const ist::Dataset& train, const ist::Dataset& test,
                            std::uint64_t seed) {
    const double deadline_ms = method == "ist-deadline" ? c.deadline_ms : 0.0;
    ModelledClock clock{test, c.budget, link.bytes_per_second, c.budget / static_cast<double>(c.points),
                        deadline_ms / 1e3};
    train_method(c, method, shards, train, test, seed, c.max_rounds, deadline_ms, clock);
    return clock.curve;
}

/// ist-deadline's default deadline: 1.5 x the median compute of the fastest worker over 20 rounds
/// of equal-share IST, so the workers twice as slow miss it (unless contention here says otherwise).
double measured_deadline_ms(const Config& c, const ist::Dataset& train, const ist::Dataset& test) {
    struct FastestCompute {
        std::size_t worker;
        std::vector<double> seconds;
        void on_round_end(const ist::RoundMetrics& m) { seconds.push_back(m.worker_seconds.at(worker)); }
    } fastest{static_cast<std::size_t>(std::min_element(c.slowdown.begin(), c.slowdown.end()) - c.slowdown.begin()), {}};
    train_method(c, "ist-equal", ist::dirichlet_clients(train, c.clients, 100.0, 1), train, test, 1, 20, 0.0, fastest);
    std::vector<double>& s = fastest.seconds;
    std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(s.size() / 2), s.end());
    return 1.5 * s[s.size() / 2] * 1e3;
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
void report(std::ostream& out, double alpha, const ist_bench::Link& link, const std::vector<std::string>& methods,
            const std::vector<Summary>& summaries) {
    std::vector<std::vector<Point>> curves;
    for (const Summary& s : summaries) curves.push_back(s.mean);
    const auto fedavg = std::find(methods.begin(), methods.end(), "fedavg");
    const std::vector<Point>* reference = fedavg == methods.end() ? nullptr : &curves[fedavg - methods.begin()];
    const double target = reference ? reference->back().accuracy : 0.0;
    const Point* ref = reference ? first_reaching(*reference, target) : nullptr;
    char line[256];
    std::snprintf(line, sizeof line, "alpha = %g, %s: FedAvg's final accuracy %.4f, reached at %.1f s, %.1f MB (modelled)\n",
                  alpha, link.name.c_str(), target, ref ? ref->seconds : 0.0, ref ? ref->bytes / 1e6 : 0.0);
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
void write_plot(const Config& c, double alpha, const ist_bench::Link& link, const std::vector<std::string>& methods,
                const std::vector<std::vector<Point>>& curves) {
    char name[64];
    std::snprintf(name, sizeof name, "/%salpha-%g", c.network == "resnet" ? "resnet-" : "", alpha);
    // One link keeps the plain name the docs link to; several are told apart by their speed.
    const std::string stem = c.out + name + (c.links.size() > 1 ? "-" + link.slug : "");
    std::ofstream csv(stem + ".csv");
    csv << "method,point,modelled_seconds,megabytes,accuracy\n";
    for (std::size_t m = 0; m < methods.size(); ++m)
        for (std::size_t k = 0; k < curves[m].size(); ++k)
            csv << methods[m] << ',' << k << ',' << curves[m][k].seconds << ',' << curves[m][k].bytes / 1e6 << ','
                << curves[m][k].accuracy << '\n';
    csv.close();
    std::ofstream gp(stem + ".gp");
    gp << "set terminal pngcairo size 1200,450\nset output '" << stem << ".png'\nset datafile separator ','\n"
       << "set multiplot layout 1,2 title '" << (c.network == "resnet" ? "ResIST, digits ResNet" : "Fashion-MNIST")
       << ", " << c.clients << " clients, Dirichlet alpha = " << alpha
       << ", S = " << c.slowdown.size() << ", " << link.name << "'\nset ylabel 'test accuracy'\nset key bottom right\n";
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

/// Fashion-MNIST (first rows as asked) for the MLP; digits, split 3:1 (one split for every seed),
/// for the ResNet. Standardised.
std::pair<ist::Dataset, ist::Dataset> data_of(const Config& c) {
    auto [train, test] = c.network == "resnet" ? ist::train_test_split(ist::load_digits(), 0.25, 1)
                                               : ist::load_fashion_mnist();
    if (c.network == "mlp") {
        train = first_rows(train, c.train_rows);
        test = first_rows(test, c.test_rows);
    }
    ist::standardize(train, test);
    return {std::move(train), std::move(test)};
}

int run(Config c) {
    const auto [train, test] = data_of(c);
    std::filesystem::create_directories(c.out);
    if (c.deadline_ms == 0.0 && std::count(c.methods.begin(), c.methods.end(), "ist-deadline"))
        c.deadline_ms = measured_deadline_ms(c, train, test);
    std::cout << "ist-fed-bench: " << (c.network == "resnet" ? "ResIST, digits preact ResNet (" : "Fashion-MNIST (")
              << train.size() << " train / " << test.size() << " test rows), "
              << c.clients << " clients, S = " << c.slowdown.size() << ", l = " << c.local_steps << ", batch "
              << c.batch << ", " << c.seeds << " seed(s), " << c.budget << " modelled s per run, link";
    for (const ist_bench::Link& link : c.links) std::cout << (&link == &c.links.front() ? " " : ", ") << link.name;
    std::cout << '\n' << ist_bench::kSlowestWorkerText;
    if (c.deadline_ms > 0.0)
        std::cout << "ist-deadline: a worker still computing " << c.deadline_ms << " ms (here) into the round is "
                  << "dropped, its slice kept;\n  such a round lasts at least deadline x min(S, cores)/S + 2 alpha + "
                  << "its subnet / beta (modelled)\n";
    for (double alpha : c.alphas)
        for (const ist_bench::Link& link : c.links) {
            std::vector<Summary> summaries;
            std::vector<std::vector<Point>> curves;
            for (const std::string& method : c.methods) {
                std::vector<std::vector<Point>> runs;
                for (std::uint64_t seed = 1; seed <= c.seeds; ++seed)
                    runs.push_back(run_once(c, method, link, ist::dirichlet_clients(train, c.clients, alpha, seed), train,
                                            test, seed));
                summaries.push_back(summarise(runs));
                curves.push_back(summaries.back().mean);
            }
            report(std::cout, alpha, link, c.methods, summaries);
            write_plot(c, alpha, link, c.methods, curves);
        }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-fed-bench", [&] { return run(parse(argc, argv)); });
}
