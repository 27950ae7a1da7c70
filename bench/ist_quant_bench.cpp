// ist-quant-bench: the quantised-exchange ablation of the ResIST paper (Dun et al. 2022), our
// version: codecs (32, 16, 8 .. 2 bits) x what is coded (weights, updates, updates + error
// feedback) for IST on a Fashion-MNIST MLP and for ResIST on the digits pre-activation ResNet of
// resist-train. Prints final test accuracy (mean and spread over seeds) and bytes per round per
// cell, and writes CSV and an accuracy-vs-bytes PNG (gnuplot).
//
//   ist-quant-bench                                  # the full grid: long (hours on 2 cores)
//   ist-quant-bench --nets resist --seeds 1          # one network, one seed
//   ist-quant-bench --plot all.csv --out DIR       # the PNG again from CSV rows (e.g. two runs')
//   ist-quant-bench --help
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

#include "cli.hpp"
#include "training_options.hpp"

namespace {

const std::vector<std::string> kModes{"weights", "updates", "ef", "master", "ef-master"};

struct Config {
    std::string nets = "ist,resist", codecs = "fp32,fp16,q8,q7,q6,q5,q4,q3,q2", modes = "weights,updates,ef";
    std::size_t seeds = 3;
    std::uint64_t seed = 42;
    // IST: Fashion-MNIST MLP.
    std::vector<std::size_t> hidden{2048, 2048};
    std::size_t ist_rounds = 40, ist_local_steps = 20, ist_batch = 128, train_rows = 0, test_rows = 2000;
    float ist_lr = 0.05f;
    // ResIST: digits pre-activation ResNet, resist-train's defaults.
    std::size_t resist_rounds = 40, resist_local_steps = 10, resist_batch = 32;
    float resist_lr = 0.05f;
    std::size_t threads = 0;
    std::string out = "quant-results";
    std::string replot;  ///< a quant.csv to draw again (several runs' rows concatenated), no training
};

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    Options cli("ist-quant-bench",
                "Quantised exchange ablation: final test accuracy (mean and spread over seeds) and bytes per round\n"
                "for each codec x coded values, IST (Fashion-MNIST MLP, S = 4) and ResIST (digits ResNet, S = 4).");
    cli.choices("--nets", c.nets, {"ist", "resist"}, "LIST", "which networks (default ist,resist)");
    cli.choices("--codecs", c.codecs, ist::AnyCodec::names(), "LIST",
                "codecs (default fp32,fp16,q8,q7,q6,q5,q4,q3,q2; also bf16, qB-tensor,\n"
                "qB-nearest, qB-tensor-nearest)");
    cli.choices("--modes", c.modes, kModes, "LIST",
                "what workers send back: weights | updates | ef (updates + error feedback) |\n"
                "master (updates, coordinator keeps an fp32 master copy) | ef-master (both);\n"
                "default weights,updates,ef (fp32 is exact: only its weights row is run)");
    cli.value("--seeds", c.seeds, kCount, "N", "runs per cell, seeds --seed, --seed + 1, ... (default 3)");
    TrainingOptions(cli).seed(c.seed, "first seed");
    cli.group("IST (Fashion-MNIST MLP, S = 4, plain SGD)");
    cli.list("--hidden", c.hidden, kWidth, "W1,W2", "hidden widths (default 2048,2048)");
    cli.value("--ist-rounds", c.ist_rounds, kCount, "T", "rounds (default 40)");
    cli.value("--ist-local-steps", c.ist_local_steps, kCount, "L", "local steps per round (default 20)");
    cli.value("--ist-lr", c.ist_lr, kFloat, "X", "learning rate (default 0.05)");
    cli.value("--train-rows", c.train_rows, kCount, "N", "first N training rows (default all 60,000)");
    cli.value("--test-rows", c.test_rows, kCount, "N", "first N test rows (default 2000)");
    cli.group("ResIST (digits pre-activation ResNet 8-16-32, blocks 1-4-1, S = 4, momentum SGD)");
    cli.value("--resist-rounds", c.resist_rounds, kCount, "T", "rounds (default 40, lr /10 at 50% and 75%)");
    cli.value("--resist-local-steps", c.resist_local_steps, kCount, "L", "local steps per round (default 10)");
    cli.value("--resist-lr", c.resist_lr, kFloat, "X", "learning rate (default 0.05)");
    cli.group("Run");
    cli.value("--threads", c.threads, kCount, "N", "workers computing at once (default: the number of cores)");
    cli.text("--out", c.out, "DIR", "where CSV and PNG go (default quant-results)");
    cli.text("--plot", c.replot, "CSV", "only draw accuracy-vs-bytes.png from a quant.csv (e.g. two runs'\nrows concatenated) into --out");
    cli.parse(argc, argv);
    c.seeds = std::max<std::size_t>(1, c.seeds);
    return c;
}

/// One cell of the grid: a network, a codec and what is coded.
struct Cell {
    std::string net, codec, mode;
    std::vector<double> accuracy;  ///< one per seed
    double bytes_per_round = 0.0;
};

double mean(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size()); }
double spread(const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()) - *std::min_element(v.begin(), v.end()); }

int codec_bits(const std::string& codec) { return codec == "fp32" ? 32 : codec[0] == 'q' ? codec[1] - '0' : 16; }

void apply_mode(ist::TrainerOptions& o, const std::string& mode) {
    o.coded_values = mode == "weights" ? ist::CodedValues::Weights : ist::CodedValues::Updates;
    o.error_feedback = mode.starts_with("ef");
    o.master_copy = mode.ends_with("master");
}

ist::ThreadsTransport transport(const Config& c) {
    return ist::ThreadsTransport({.concurrency = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency())});
}

/// Accuracy and bytes per round of one training run.
struct Outcome {
    double accuracy = 0.0, bytes_per_round = 0.0;
};

Outcome outcome_of(const ist::TrainResult& r) {
    const auto& last = r.history.back();
    return {r.final_test->accuracy, static_cast<double>(last.total_bytes) / static_cast<double>(last.round)};
}

struct Data {
    ist::Dataset train, test;
};

ist::Dataset first_rows(const ist::Dataset& d, std::size_t n) {
    if (!n || n >= d.size()) return d;
    std::vector<std::uint32_t> rows(n);
    std::iota(rows.begin(), rows.end(), 0u);
    return ist::subset(d, rows);
}

Data fashion(const Config& c) {
    auto [train, test] = ist::load_fashion_mnist();
    Data d{first_rows(train, c.train_rows), first_rows(test, c.test_rows)};
    ist::standardize(d.train, d.test);
    return d;
}

Data digits(const Config& c) {
    Data d;
    std::tie(d.train, d.test) = ist::train_test_split(ist::load_digits(), 0.25, c.seed);  // one split for every seed
    ist::standardize(d.train, d.test);
    return d;
}

Outcome train_ist(const Config& c, const Data& d, const std::string& codec, const std::string& mode, std::uint64_t seed) {
    ist::TrainerOptions o{.workers = 4, .local_steps = c.ist_local_steps, .rounds = c.ist_rounds,
                          .batch_size = c.ist_batch, .seed = seed, .eval_every = 0};
    apply_mode(o, mode);
    ist::Network net = ist::make_mlp({d.train.feature_count(), c.hidden, d.train.classes, ist::Norm::Batch, seed});
    ist::IstTrainer trainer(net, o, ist::NeuronPartition{}, ist::Sgd(c.ist_lr), ist::HolderAverage{}, transport(c),
                            ist::AnyCodec::parse(codec));
    return outcome_of(trainer.train(d.train, d.test));
}

Outcome train_resist(const Config& c, const Data& d, const std::string& codec, const std::string& mode,
                     std::uint64_t seed) {
    ist::TrainerOptions o{.workers = 4, .local_steps = c.resist_local_steps, .rounds = c.resist_rounds,
                          .batch_size = c.resist_batch, .seed = seed, .eval_every = 0};
    apply_mode(o, mode);
    ist::Network net = ist::make_preact_resnet({.channels = 1, .height = 8, .width = 8, .classes = d.train.classes,
                                                .stage_channels = {8, 16, 32}, .stage_blocks = {1, 4, 1}, .seed = seed});
    ist::IstTrainer trainer(net, o, ist::ResistPartition(ist::ResistOptions{}),
                            ist::MomentumSgd(c.resist_lr, 0.9f, 5e-4f), ist::HolderAverage(), transport(c),
                            ist::AnyCodec::parse(codec));
    trainer.set_schedule(ist::step_decay(o.rounds));  // /10 at 50% and 75%, as resist-train
    return outcome_of(trainer.train(d.train, d.test));
}

/// Every (codec, mode) of the grid; fp32 sends weights exactly (every mode is the same run), so
/// it has one row, whatever --modes says: the reference of the others.
std::vector<Cell> grid(const std::string& net, const Config& c) {
    std::vector<Cell> cells;
    for (const std::string& codec : ist::cli::split(c.codecs)) {
        if (codec == "fp32") {
            cells.push_back({net, codec, "weights", {}, 0.0});
            continue;
        }
        for (const std::string& mode : ist::cli::split(c.modes)) cells.push_back({net, codec, mode, {}, 0.0});
    }
    return cells;
}

template <class Train>
void run_cells(std::vector<Cell>& cells, const Config& c, Train&& train) {
    for (Cell& cell : cells) {
        for (std::size_t k = 0; k < c.seeds; ++k) {
            const Outcome o = train(cell.codec, cell.mode, c.seed + k);
            cell.accuracy.push_back(o.accuracy);
            cell.bytes_per_round = o.bytes_per_round;
        }
        std::printf("  %-6s %-5s %-8s accuracy %.4f (spread %.4f over %zu seeds), %.4g MB/round\n", cell.net.c_str(),
                    cell.codec.c_str(), cell.mode.c_str(), mean(cell.accuracy), spread(cell.accuracy),
                    cell.accuracy.size(), cell.bytes_per_round / 1e6);
        std::fflush(stdout);
    }
}

/// The fp32 cell of `net` (the reference of its rows), if it was run.
const Cell* reference(const std::vector<Cell>& cells, const std::string& net) {
    for (const Cell& cell : cells)
        if (cell.net == net && cell.codec == "fp32") return &cell;
    return nullptr;
}

/// The width of the table column of `field`: its longest value, at least `least` characters.
int column_width(const std::vector<Cell>& cells, std::string Cell::*field, std::size_t least) {
    for (const Cell& cell : cells) least = std::max(least, (cell.*field).size());
    return static_cast<int>(least);
}

void print_table(std::ostream& out, const std::vector<Cell>& cells) {
    char line[256];
    const int codec_width = column_width(cells, &Cell::codec, 5), mode_width = column_width(cells, &Cell::mode, 8);
    std::snprintf(line, sizeof line, "%-6s | %-*s | %4s | %-*s | %-15s | %-15s | %12s | %9s\n", "net", codec_width,
                  "codec", "bits", mode_width, "coded", "accuracy (mean)", "spread (max-min)", "MB per round", "vs fp32");
    out << line << "---|---|---|---|---|---|---|---\n";
    for (const Cell& cell : cells) {
        const Cell* ref = reference(cells, cell.net);
        char ratio[32] = "-";
        if (ref) std::snprintf(ratio, sizeof ratio, "x%.2f", ref->bytes_per_round / cell.bytes_per_round);
        std::snprintf(line, sizeof line, "%-6s | %-*s | %4d | %-*s | %15.4f | %15.4f | %12.4f | %9s\n", cell.net.c_str(),
                      codec_width, cell.codec.c_str(), codec_bits(cell.codec), mode_width, cell.mode.c_str(), mean(cell.accuracy),
                      spread(cell.accuracy), cell.bytes_per_round / 1e6, ratio);
        out << line;
    }
}

void write_csv(const Config& c, const std::vector<Cell>& cells) {
    std::ofstream csv(c.out + "/quant.csv");
    csv << "net,codec,bits,mode,mean_accuracy,min_accuracy,max_accuracy,seeds,bytes_per_round\n";
    for (const Cell& cell : cells)
        csv << cell.net << ',' << cell.codec << ',' << codec_bits(cell.codec) << ',' << cell.mode << ','
            << mean(cell.accuracy) << ',' << *std::min_element(cell.accuracy.begin(), cell.accuracy.end()) << ','
            << *std::max_element(cell.accuracy.begin(), cell.accuracy.end()) << ',' << cell.accuracy.size() << ','
            << cell.bytes_per_round << '\n';
}

/// accuracy-vs-bytes.png from `csv` (written by write_csv): one panel per network, one series
/// per coded-values mode (fp32, which codes nothing, in each), error bars from the seeds' min to
/// max, each point labelled with its codec.
void plot(const std::string& out, const std::string& csv, const std::vector<std::string>& nets) {
    std::ofstream gp(out + "/quant.gp");
    gp << "set terminal pngcairo size " << 560 * nets.size() << ",460\n"
       << "set output '" << out << "/accuracy-vs-bytes.png'\n"
       << "set datafile separator ','\nset key bottom right\nset grid\nset logscale x 2\n"
       << "set xlabel 'MB per round (sent + received)'\nset ylabel 'final test accuracy'\n"
       << "set multiplot layout 1," << nets.size() << " title 'Quantised exchange, S = 4: accuracy vs bytes'\n";
    // Rows of another net or mode get no coordinate at all (undefined x alone still stretches the y range).
    gp << "pick(net, mode) = strcol(1) eq net && (strcol(4) eq mode || strcol(2) eq 'fp32')\n";
    for (const std::string& net : nets) {
        gp << "set title '" << (net == "ist" ? "IST, Fashion-MNIST MLP" : "ResIST, digits ResNet") << "'\nplot ";
        for (std::size_t m = 0; m < kModes.size(); ++m) {
            const std::string pick = "pick('" + net + "', '" + kModes[m] + "')";
            gp << (m ? ", " : "") << "'" << csv << "' using (" << pick << " ? $9/1e6 : 1/0):(" << pick << " ? $5 : 1/0):("
               << pick << " ? $6 : 1/0):(" << pick << " ? $7 : 1/0) with yerrorbars pt " << 5 + 2 * m << " title '"
               << kModes[m] << "'";
        }
        const std::string pick = "pick('" + net + "', 'weights')";
        gp << ", '" << csv << "' using (" << pick << " ? $9/1e6 : 1/0):(" << pick
           << " ? $5 : 1/0):2 with labels offset 0,1.2 font ',8' notitle\n";
    }
    gp << "unset multiplot\n";
    gp.close();
    if (std::system(("gnuplot '" + out + "/quant.gp'").c_str()) != 0)
        std::cerr << "ist-quant-bench: gnuplot failed or is missing (apt-get install gnuplot-nox); the data is in " << csv
                  << '\n';
}

/// The networks named in the first column of a quant.csv, in order of appearance.
std::vector<std::string> nets_in(const std::string& csv) {
    std::ifstream in(csv);
    if (!in) throw ist::DataError("--plot: cannot read " + csv);
    std::vector<std::string> nets;
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
        const std::string net = line.substr(0, line.find(','));
        if (!net.empty() && std::find(nets.begin(), nets.end(), net) == nets.end()) nets.push_back(net);
    }
    if (nets.empty()) throw ist::DataError("--plot: " + csv + " has no rows");
    return nets;
}

void print_setup(const Config& c) {
    std::printf("ist-quant-bench: %zu seed(s) from %llu, S = 4, threads transport\n", c.seeds,
                static_cast<unsigned long long>(c.seed));
    std::printf("  IST: Fashion-MNIST MLP 784");
    for (std::size_t h : c.hidden) std::printf("-%zu", h);
    std::printf("-10, %s training rows, %zu test rows, %zu rounds x %zu local steps, batch %zu, SGD lr %g\n",
                c.train_rows ? std::to_string(c.train_rows).c_str() : "60000", c.test_rows, c.ist_rounds,
                c.ist_local_steps, c.ist_batch, c.ist_lr);
    std::printf("  ResIST: digits preact ResNet 8-16-32 / 1-4-1, %zu rounds x %zu local steps, batch %zu, momentum SGD "
                "lr %g /10 at 50%% and 75%%\n",
                c.resist_rounds, c.resist_local_steps, c.resist_batch, c.resist_lr);
    std::fflush(stdout);
}

int ablation(const Config& c) {
    if (std::system(("mkdir -p '" + c.out + "'").c_str()) != 0) throw ist::DataError("cannot create " + c.out);
    if (!c.replot.empty()) {
        plot(c.out, c.replot, nets_in(c.replot));
        return 0;
    }
    print_setup(c);
    std::vector<Cell> cells;
    const std::vector<std::string> nets = ist::cli::split(c.nets);
    for (const std::string& net : nets) {
        std::vector<Cell> rows = grid(net, c);
        const Data d = net == "ist" ? fashion(c) : digits(c);
        if (net == "ist")
            run_cells(rows, c, [&](const std::string& codec, const std::string& mode, std::uint64_t seed) {
                return train_ist(c, d, codec, mode, seed);
            });
        else
            run_cells(rows, c, [&](const std::string& codec, const std::string& mode, std::uint64_t seed) {
                return train_resist(c, d, codec, mode, seed);
            });
        cells.insert(cells.end(), rows.begin(), rows.end());
    }
    std::cout << '\n';
    print_table(std::cout, cells);
    write_csv(c, cells);
    plot(c.out, c.out + "/quant.csv", nets);
    std::cout << "\nwrote " << c.out << "/{quant.csv,accuracy-vs-bytes.png}\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("ist-quant-bench", [&] { return ablation(parse(argc, argv)); });
}
