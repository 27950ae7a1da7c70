// ist-theory: the masked-neuron theory on the talk's slides, checked numerically (docs/theory.md).
// The analysis's setting (n points on the unit sphere, labels in [-1, 1], a two-layer ReLU network
// of m neurons with fixed +-1 output weights and 1/sqrt(m) scaling, only the first layer trained
// on squared error) trained by IstTrainer with full-batch local steps: gradient descent, IST with
// Bernoulli masks (keep probability xi) and with categorical (disjoint) masks, p = 1, 2, 4, 8
// workers, tau local steps per round. Prints each run's fitted per-round contraction factor beside
// the theorems' rate, its error floor and final error, the four checks of docs/theory.md, and
// writes the curves as CSV and a PNG (gnuplot). Every number is deterministic.
//
//   ist-theory                                   # the size: m = 16,384, n = 32
//   ist-theory --hidden 1024 --rounds 40         # smaller
//   ist-theory --help
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "cli.hpp"
#include "theory_runs.hpp"
#include "training_options.hpp"

namespace {

using ist::theory::Curve;
using ist::theory::Setup;

struct Config {
    Setup setup;
    double keep = 0.5;  ///< xi
    std::vector<std::size_t> workers{1, 2, 4, 8};
    std::string out = "theory-results";
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    Setup& s = c.setup;
    Options cli("ist-theory",
                "The masked-neuron theory of the talk checked numerically: gradient descent and IST with Bernoulli\n"
                "and categorical masks on the analysis's two-layer ReLU regression network (docs/theory.md).");
    cli.value("--points", s.points, Integer{2, "an integer >= 2"}, "N",
              with_default("n, data points on the unit sphere", s.points));
    cli.value("--dims", s.dims, Integer{2, "an integer >= 2"}, "D", with_default("d, input dimension", s.dims));
    cli.value("--hidden", s.hidden, kWidth, "M", with_default("m, hidden ReLU neurons", s.hidden));
    cli.value("--init-sd", s.init_sd, kPositiveFloat, "K", with_default("kappa: W ~ N(0, kappa^2)", s.init_sd));
    cli.value("--keep", c.keep, kPositiveDouble, "XI", with_default("xi, Bernoulli keep probability", c.keep));
    TrainingOptions shared(cli);
    shared.workers(c.workers, "p values");
    shared.local_steps(s.local_steps, "tau, full-batch steps per round");
    shared.rounds(s.rounds, "K, rounds");
    shared.lr(s.lr, "learning rate of the library's loss (half the mean squared error): eta = lr / n");
    shared.seed(s.seed, "seed of the data (seed), W and a (seed + 1), masks (seed + 2)");
    cli.text("--out", c.out, "DIR", with_default("where theory.csv and theory.png go", c.out));
    bool unscaled = false, same_lr = false;
    cli.flag("--unscaled", unscaled, "subnets keep the full model's 1/sqrt(m) (default: their output times m / held)");
    cli.flag("--same-lr", same_lr,
             "every worker steps at lr (default: lr times the expected keep fraction, xi or 1/p,\n"
             "the analysis's step on a scaled subnet; see docs/theory.md)");
    cli.parse(argc, argv);
    refuse_ignored(cli, "--same-lr", unscaled, "unscaled subnets always step at lr");
    s.scale_activations = !unscaled;
    s.matched_step = !same_lr;
    ist::BernoulliMasks(c.keep).validate({}, 1);  // refused here, not after the gradient descent run
    return c;
}

/// One row of the table: what ran and its curve.
struct Run {
    std::string method;  ///< gd, bernoulli, categorical
    std::size_t workers = 1;
    double theta = 1.0;  ///< the formula's coverage (1 for GD and disjoint masks)
    double rate = 1.0;   ///< the theorem's per-round rate
    Curve curve;
};

/// Every run of the table, their contractions fitted above one level (returned in `level`).
std::vector<Run> run_all(const Config& c, const ist::RegressionSet& data, double lambda0, double& level) {
    const Setup& s = c.setup;
    std::vector<Run> runs;
    const double gd_rate = std::pow(1.0 - s.eta() * lambda0 / 2.0, static_cast<double>(s.local_steps));
    runs.push_back({"gd", 1, 1.0, gd_rate, ist::theory::run(s, data, ist::FullModel(), 1)});
    for (std::size_t p : c.workers) {
        const double theta = ist::theory::bernoulli_coverage(c.keep, p);
        runs.push_back({"bernoulli", p, theta, ist::theory::bernoulli_rate(s, lambda0, theta),
                        ist::theory::run(s, data, ist::BernoulliMasks(c.keep), p)});
        std::fprintf(stderr, "  bernoulli p = %zu done\n", p);
    }
    for (std::size_t p : c.workers) {
        runs.push_back({"categorical", p, 1.0, ist::theory::categorical_rate(s, lambda0, p),
                        ist::theory::run(s, data, ist::CategoricalMasks(), p)});
        std::fprintf(stderr, "  categorical p = %zu done\n", p);
    }
    std::vector<Curve*> curves;
    for (Run& r : runs) curves.push_back(&r.curve);
    level = ist::theory::fit_contractions(curves);
    return runs;
}

void print_setup(const Config& c, double lambda0, double lambda_max) {
    const Setup& s = c.setup;
    std::printf("ist-theory: the masked-neuron theory checked (docs/theory.md)\n");
    std::printf("  data: n = %zu points on the unit sphere of R^%zu, labels uniform in [-1, 1], seed %llu\n", s.points,
                s.dims, static_cast<unsigned long long>(s.seed));
    std::printf("  network: m = %zu ReLU neurons, fixed a_r = +-1, 1/sqrt(m), W ~ N(0, %g^2), only W trained\n", s.hidden,
                static_cast<double>(s.init_sd));
    std::printf("  rounds: K = %zu, tau = %zu full-batch SGD steps per round, lr %g (eta = lr / n = %g)\n", s.rounds,
                s.local_steps, static_cast<double>(s.lr), s.eta());
    std::printf("  subnets: %s\n", !s.scale_activations ? "unscaled, lr on every worker"
                                   : s.matched_step     ? "output times m / held, lr times the expected keep (xi, 1/p)"
                                                        : "output times m / held, lr on every worker");
    std::printf("  NTK Gram matrix H: lambda_0 = %.6f, lambda_max = %.6f\n\n", lambda0, lambda_max);
}

void print_table(const std::vector<Run>& runs, double keep, double level) {
    std::printf("%-12s %2s %5s %7s %8s %10s %10s %11s %11s %11s\n", "run", "p", "xi", "theta", "coverage", "rate bound",
                "fitted", "floor", "final", "initial");
    for (const Run& r : runs) {
        const bool bernoulli = r.method == "bernoulli";
        std::printf("%-12s %2zu %5s %7.4f %8.4f %10.6f %10.6f %11.4e %11.4e %11.4e\n", r.method.c_str(), r.workers,
                    bernoulli ? std::to_string(keep).substr(0, 4).c_str() : "-", r.theta, r.curve.coverage, r.rate,
                    r.curve.contraction, r.curve.floor, r.curve.errors.back(), r.curve.errors.front());
    }
    std::printf("(||y - u_k||^2; rate bound: the theorem's per-round rate; fitted: exp of the least-squares slope of\n"
                " ln error over the rounds while every run is above %.4e, 10 x the highest floor; floor: mean of the\n"
                " last 20%% of rounds)\n",
                level);
}

std::vector<const Run*> of_method(const std::vector<Run>& runs, const std::string& method) {
    std::vector<const Run*> out;
    for (const Run& r : runs)
        if (r.method == method) out.push_back(&r);
    return out;
}

/// "a < b < c" of one number per run.
template <class Value>
std::string chain(const std::vector<const Run*>& runs, Value value, const char* sign) {
    std::string out;
    char buffer[32];
    for (const Run* r : runs) {
        std::snprintf(buffer, sizeof buffer, "%.6g", value(*r));
        out += (out.empty() ? "" : std::string(" ") + sign + " ") + buffer;
    }
    return out;
}

/// The four checks of docs/theory.md on these runs.
void print_checks(const std::vector<Run>& runs) {
    const auto bernoulli = of_method(runs, "bernoulli"), categorical = of_method(runs, "categorical");
    std::printf("\nchecks\n");
    const Run& gd = runs.front();
    const Run* single = nullptr;
    for (const Run* r : categorical)
        if (r->workers == 1) single = r;
    if (single)
        std::printf("  (i)   categorical p = 1 is gradient descent bit for bit: %s (weights checksums %016llx, %016llx)\n",
                    single->curve.checksum == gd.curve.checksum && single->curve.errors == gd.curve.errors ? "yes" : "NO",
                    static_cast<unsigned long long>(gd.curve.checksum),
                    static_cast<unsigned long long>(single->curve.checksum));
    double gap = 0.0;
    for (const Run* r : bernoulli) gap = std::max(gap, std::abs(r->curve.coverage - r->theta));
    std::printf("  (ii)  Bernoulli coverage within 0.01 of 1 - (1 - xi)^p: %s (largest gap %.4f)\n",
                gap <= 0.01 ? "yes" : "NO", gap);
    const auto grows = [](const std::vector<const Run*>& rs, auto value) {
        for (std::size_t i = 1; i < rs.size(); ++i)
            if (!(value(*rs[i]) > value(*rs[i - 1]))) return false;
        return true;
    };
    const auto contraction = [](const Run& r) { return r.curve.contraction; };
    const auto floor = [](const Run& r) { return r.curve.floor; };
    std::printf("  (iii) categorical fitted contraction grows with p: %s (%s)\n",
                grows(categorical, contraction) ? "yes" : "NO", chain(categorical, contraction, "<").c_str());
    std::printf("  (iv)  Bernoulli error floor falls as p grows: %s (%s)\n",
                grows(bernoulli, [&](const Run& r) { return -floor(r); }) ? "yes" : "NO",
                chain(bernoulli, floor, ">").c_str());
}

/// theory.csv: one row per (run, round); theory.png: error against round, log scale.
void write_outputs(const Config& c, const std::vector<Run>& runs) {
    if (std::system(("mkdir -p '" + c.out + "'").c_str()) != 0) throw ist::DataError("cannot create " + c.out);
    const std::string csv = c.out + "/theory.csv";
    std::ofstream out(csv);
    out << "run,p,round,error\n";
    for (const Run& r : runs)
        for (std::size_t k = 0; k < r.curve.errors.size(); ++k)
            out << r.method << ',' << r.workers << ',' << k << ',' << r.curve.errors[k] << '\n';
    out.close();
    std::ofstream gp(c.out + "/theory.gp");
    gp << "set terminal pngcairo size 1100,440\nset output '" << c.out << "/theory.png'\n"
       << "set datafile separator ','\nset logscale y\nset format y '10^{%L}'\nset grid\nset key bottom left\n"
       << "set xlabel 'round k'\nset ylabel '||y - u_k||^2'\n"
       << "set multiplot layout 1,2 title 'm = " << c.setup.hidden << ", n = " << c.setup.points
       << ", tau = " << c.setup.local_steps << ", eta = " << c.setup.eta() << "'\n";
    for (const std::string method : {"bernoulli", "categorical"}) {
        gp << "set title '" << (method == "bernoulli" ? "Bernoulli masks, xi = " + std::to_string(c.keep).substr(0, 4)
                                                      : std::string("categorical (disjoint) masks"))
           << "'\nplot '" << csv << "' using (strcol(1) eq 'gd' ? $3 : 1/0):4 with lines lw 2 dt 2 title 'GD'";
        for (std::size_t p : c.workers)
            gp << ", '' using (strcol(1) eq '" << method << "' && $2 == " << p << " ? $3 : 1/0):4 with lines title 'p = "
               << p << "'";
        gp << '\n';
    }
    gp << "unset multiplot\n";
    gp.close();
    if (std::system(("gnuplot '" + c.out + "/theory.gp'").c_str()) != 0)
        std::cerr << "ist-theory: gnuplot failed or is missing (apt-get install gnuplot-nox); the data is in " << csv << '\n';
    std::printf("\nwrote %s/theory.csv, %s/theory.png\n", c.out.c_str(), c.out.c_str());
}

int theory(const Config& c) {
    const ist::RegressionSet data = c.setup.data();
    const auto [lambda0, lambda_max] = ist::theory::ntk_eigenvalue_range(data);
    print_setup(c, lambda0, lambda_max);
    std::fflush(stdout);
    double level = 0.0;
    const std::vector<Run> runs = run_all(c, data, lambda0, level);
    print_table(runs, c.keep, level);
    print_checks(runs);
    write_outputs(c, runs);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-theory", [&] { return theory(parse(argc, argv)); });
}
