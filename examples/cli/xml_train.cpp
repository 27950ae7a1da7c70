// xml-train: extreme multi-label classification with XmlNetwork (sparse bag-of-words -> hidden ->
// one logit per label), IST against data parallel at several hidden widths under a per-worker
// memory budget; prints P@1/3/5 and nDCG@5 per run. docs/extreme.md.
//
//   xml-train                                         # WordNet's reverse dictionary (wordnet-base)
//   xml-train --train trn.txt --test tst.txt          # Extreme Classification Repository files
//   xml-train --memory-budget 1 --hidden 256,512,1024 # refuse runs whose worker does not fit 1 GiB
//   xml-train --fits                                  # only the widest widths each budget allows
//   xml-train --validation-rows 2000 --eval-every 10  # P@k curve on rows held out of training
//   xml-train --hidden 512 --methods ist --checkpoint run.npz  # a killed run resumes from run.npz
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <ist/baselines.hpp>
#include <ist/callbacks/checkpoint.hpp>
#include <ist/data/reverse_dictionary.hpp>
#include <ist/data/xml_repository.hpp>
#include <ist/model/xml/footprint.hpp>
#include <ist/model/xml/xml_network.hpp>
#include <ist/train/trainer.hpp>

#include "cli.hpp"
#include "checkpoint_resume.hpp"
#include "training_options.hpp"
#include "heap_counter.hpp"  // replaces operator new: each run's worker peak heap, beside the formula

namespace {

struct Config {
    std::string train, test, wordnet{ist::wordnet::kDefaultDirectory}, methods = "ist,data-parallel", loss = "softmax";
    std::string checkpoint;
    std::size_t checkpoint_every = 1;
    std::vector<std::size_t> hidden{256, 512, 1024}, seeds{1};
    std::vector<double> fit_budgets{1.0, 4.0};
    double budget_gib = 0.0;
    std::size_t validation_rows = 0;
    float lr = 0.5f;
    bool fits = false, allow_empty = false, scale_activations = false, step_decay = false;
    ist::wordnet::ReverseDictionaryOptions task;
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 40, .batch_size = 128, .eval_every = 0,
                                .eval_batch = 128};
};

/// A checkpoint file holds one run: with several (methods x widths x seeds) the second would resume
/// the first's file.
void check_checkpoint(const ist::cli::Options& cli, const Config& c) {
    ist::cli::refuse_ignored(cli, "--checkpoint-every", c.checkpoint.empty(), "no --checkpoint to write");
    if (c.checkpoint.empty()) return;
    const std::size_t runs = ist::cli::split(c.methods).size() * c.hidden.size() * c.seeds.size();
    if (runs != 1)
        throw ist::ConfigError("--checkpoint: a checkpoint holds one run, and this command makes " + std::to_string(runs) +
                               " (give one method, one width and one seed)");
    ist::cli::check_writable("--checkpoint", c.checkpoint);
}

Config parse(int argc, char** argv) {
    using namespace ist::cli;
    Config c;
    auto& o = c.options;
    Options cli("xml-train", "Extreme multi-label classification: IST vs data parallel at several hidden widths of\n"
                             "XmlNetwork under a per-worker memory budget; prints P@1/3/5 and nDCG@5.");
    cli.text("--train", c.train, "PATH", "training file, Extreme Classification Repository format\n"
                                         "(default: WordNet's reverse dictionary, built in memory)");
    cli.text("--test", c.test, "PATH", "test file of the same format (needed with --train)");
    cli.flag("--allow-empty-label-sets", c.allow_empty, "keep rows without labels (left out of P@k)");
    cli.text("--wordnet", c.wordnet, "DIR", "WordNet's dict directory (default /usr/share/wordnet)");
    cli.value("--max-labels", c.task.max_labels, kCount, "N",
              "WordNet task: keep the N lemmas of the most synsets (default 0: all)");
    cli.list("--hidden", c.hidden, kWidth, "W1,W2,...", "hidden widths to train (default 256,512,1024)");
    cli.choices("--methods", c.methods, {"ist", "data-parallel"}, "M1,M2", "methods (default ist,data-parallel)");
    TrainingOptions training(cli);
    training.schedule(o);
    cli.value("--eval-batch", o.eval_batch, kPositive, "N", "rows per evaluation batch (default 128)");
    training.eval_every(o.eval_every, "also evaluate every K rounds and print the P@k curve");
    cli.value("--validation-rows", c.validation_rows, kCount, "N",
              "hold N evenly spaced training rows out of training and evaluate on them\n"
              "instead of the test set, to choose settings without the test set (default 0)");
    training.lr(c.lr, "SGD learning rate");
    training.precision(o.precision);
    cli.flag("--step-decay", c.step_decay, "divide the learning rate by 10 at 50% and 75% of the rounds");
    cli.flag("--scale-activations", c.scale_activations,
             "IST: a subnet's output layer scales its input by full/held hidden width");
    cli.choice("--loss", c.loss, {"softmax", "bce"}, "NAME",
               "softmax (default: cross-entropy against the normalised label set) | bce (per label)");
    cli.list("--seeds", c.seeds, kCount, "S1,S2,...", "seeds, one run each (default 1)");
    cli.value("--memory-budget", c.budget_gib, kPositiveDouble, "GIB",
              "per-worker memory; a run whose worker needs more is refused (default: none)");
    cli.flag("--fits", c.fits, "print the widest width data parallel and IST (S = 2, 4, 8) fit and stop");
    cli.list("--fit-budgets", c.fit_budgets, kPositiveDouble, "G1,G2", "budgets in GiB for --fits (default 1,4)");
    training.checkpoint(c.checkpoint, c.checkpoint_every);
    cli.parse(argc, argv);
    o.scale_activations = c.scale_activations;
    refuse_ignored(cli, "--scale-activations", c.methods == "data-parallel",
                   "--methods data-parallel trains full models: no subnet activations to scale");
    if (cli.given("--train") != cli.given("--test")) throw ist::ConfigError("--train and --test go together");
    check_checkpoint(cli, c);
    return c;
}

struct Task {
    ist::SparseDataset train, test;
    ist::SparseDataset validation;  ///< carved from training by --validation-rows; empty otherwise
    const ist::SparseDataset& evaluated() const { return validation.size() ? validation : test; }
};

/// Moves `count` evenly spaced rows of t.train into t.validation (the files list synsets by part
/// of speech, so a block at one end would be one part of speech only).
void carve_validation(Task& t, std::size_t count) {
    const std::size_t n = t.train.size();
    if (count >= n)
        throw ist::ConfigError("--validation-rows: '" + std::to_string(count) + "' is not below the training set's " +
                               std::to_string(n) + " rows");
    std::vector<std::uint32_t> held, kept;
    for (std::size_t r = 0; r < n; ++r)  // row r is held when floor(r * count / n) steps up at r + 1
        ((r + 1) * count / n > r * count / n ? held : kept).push_back(static_cast<std::uint32_t>(r));
    t.validation = ist::subset(t.train, held);
    t.validation.name = "validation";
    t.train = ist::subset(t.train, kept);
}

Task load(const Config& c) {
    if (c.train.empty()) {
        auto task = ist::wordnet::build_reverse_dictionary(ist::wordnet::read_synsets(c.wordnet), c.task);
        return {std::move(task.train), std::move(task.test), {}};
    }
    const ist::XmlOptions options{.allow_empty_label_sets = c.allow_empty};
    Task t{ist::load_xml_repository(c.train, options), ist::load_xml_repository(c.test, options), {}};
    ist::check_test_fits_train(t.train, t.test);
    return t;
}

ist::XmlWorkerShape worker_shape(const ist::SparseDataset& d, std::size_t batch, std::size_t held, bool all_reduce) {
    const double per_row = static_cast<double>(d.features.nnz()) / static_cast<double>(d.size());
    const double labels_per_row = static_cast<double>(d.labels.indices.size()) / static_cast<double>(d.size());
    return {d.feature_count(), held, d.classes, batch, static_cast<std::size_t>(per_row * static_cast<double>(batch)) + 1,
            static_cast<std::size_t>(labels_per_row * static_cast<double>(batch)) + 1, 0, all_reduce};
}

void print_fits(const Config& c, const ist::SparseDataset& d) {
    std::printf("widest hidden width per worker budget (%zu features, %zu labels, batch %zu, SGD)\n", d.feature_count(),
                d.classes, c.options.batch_size);
    std::printf("%-10s %14s %10s %10s %10s\n", "budget", "data parallel", "IST S=2", "IST S=4", "IST S=8");
    for (double gib : c.fit_budgets) {
        const double bytes = gib * 1073741824.0;
        const ist::XmlWorkerShape shape = worker_shape(d, c.options.batch_size, 0, false);
        std::printf("%-10s %14zu %10zu %10zu %10zu\n", (ist::format_gib(bytes)).c_str(),
                    ist::widest_fitting_width(worker_shape(d, c.options.batch_size, 0, true), 1, bytes),
                    ist::widest_fitting_width(shape, 2, bytes), ist::widest_fitting_width(shape, 4, bytes),
                    ist::widest_fitting_width(shape, 8, bytes));
    }
}

void print_ranking(const std::string& label, const ist::RankingMetrics& m) {
    std::printf("%-32s %.4f %.4f %.4f   %.4f", label.c_str(), m.precision[0], m.precision[1], m.precision[2], m.ndcg[2]);
}

/// --eval-every's curve: one line per evaluation as it happens (a run cut off still leaves it),
/// and the best P@1 over the run, so a method can be judged at its best round as well as its last.
struct Curve {
    bool printing = false;  ///< only with --eval-every: the last round's line would repeat the table's
    std::size_t best_round = 0;
    double best_p1 = -1.0;
    bool on_round_end(const ist::RoundMetrics& m) {
        if (!printing || !m.test || !m.test->ranking) return false;
        print_ranking("  round " + std::to_string(m.round) + "/" + std::to_string(m.rounds), *m.test->ranking);
        std::printf("\n");
        std::fflush(stdout);
        if (m.test->ranking->precision[0] > best_p1) {
            best_p1 = m.test->ranking->precision[0];
            best_round = m.round;
        }
        return false;
    }
};

/// --checkpoint: a file already there resumes the run where it was saved. The curve's line of the
/// round resumed after is printed again (when that round is evaluated): a process killed between
/// printing it and its reader's storing it would otherwise leave a gap in the curve.
template <class Trainer>
std::size_t resume_run(Trainer& trainer, const Config& c, const Task& t, Curve& curve) {
    const std::size_t done = ist::cli::resume_from_checkpoint(trainer, c.checkpoint, false);
    const ist::TrainerOptions& o = trainer.options();
    if (done > 0 && o.eval_every > 0 && (done % o.eval_every == 0 || done == o.rounds)) {
        ist::RoundMetrics again;
        again.round = done;
        again.rounds = o.rounds;
        again.test = trainer.evaluate(t.evaluated());
        curve.on_round_end(again);
    }
    return done;
}

/// Trains and prints P@1/3/5, nDCG@5, the wall time, and the largest worker peak heap as counted
/// (a worker thread's live bytes: subnet, gradients, batch, activations) beside `formula`, the
/// footprint formula's bytes for that worker.
template <class Trainer>
void train_and_report(Trainer&& trainer, const Task& t, const Config& c, const std::string& label, double formula) {
    if (c.step_decay) trainer.set_schedule(ist::step_decay(trainer.options().rounds));  // /10 at 50% and 75%
    const std::uint64_t generation = heap_counter::new_generation();
    const auto start = std::chrono::steady_clock::now();
    Curve curve{.printing = trainer.options().eval_every > 0};
    const std::size_t resumed_after = resume_run(trainer, c, t, curve);
    ist::Checkpoint checkpoint(c.checkpoint, c.checkpoint_every);  // empty path: off; after the curve's line
    const ist::TrainResult r = trainer.train(t.train, t.evaluated(), curve, checkpoint);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double measured = static_cast<double>(heap_counter::worker_peak(generation));
    print_ranking(label, *r.final_test->ranking);
    std::printf("   %8.1f s   %10s %10s\n", seconds, heap_counter::human(measured).c_str(),
                heap_counter::human(formula).c_str());
    const std::string resumed = resumed_after ? " (from round " + std::to_string(resumed_after) + " on: resumed)" : "";
    if (curve.printing)
        std::printf("  best P@1 %.4f at round %zu of %zu%s\n", curve.best_p1, curve.best_round, trainer.options().rounds,
                    resumed.c_str());
    std::fflush(stdout);
}

int run(const Config& c) {
    heap_counter::mark_coordinator();  // loading and evaluation are not a worker's
    Task t = load(c);
    if (c.validation_rows) carve_validation(t, c.validation_rows);
    std::printf("train %zu rows, test %zu rows, %zu features, %zu labels\n", t.train.size(), t.test.size(),
                t.train.feature_count(), t.train.classes);
    if (t.validation.size())
        std::printf("validation %zu rows held out of training; P@k below are on them, not on the test set\n",
                    t.validation.size());
    if (c.fits) return print_fits(c, t.train), 0;
    const auto loss = c.loss == "bce" ? ist::MultiLabelLoss::BinaryCrossEntropy : ist::MultiLabelLoss::SoftmaxNormalized;
    std::printf("%-32s %-6s %-6s %-6s   %-6s   %10s   %10s %10s\n", "run", "P@1", "P@3", "P@5", "nDCG@5", "time",
                "peak heap", "formula");
    for (const std::string& method : ist::cli::split(c.methods))
        for (std::size_t width : c.hidden)
            for (std::size_t seed : c.seeds) {
                const bool ist_run = method == "ist";
                const std::size_t held = ist_run ? (width + c.options.workers - 1) / c.options.workers : width;
                const std::string label = method + " H=" + std::to_string(width) + " seed " + std::to_string(seed);
                const ist::XmlWorkerShape shape = worker_shape(t.train, c.options.batch_size, held, !ist_run);
                if (c.budget_gib > 0.0) {
                    try {
                        ist::check_memory_budget(shape, c.budget_gib * 1073741824.0, label);
                    } catch (const ist::ConfigError& e) {
                        std::printf("refused %s\n", e.what());
                        continue;
                    }
                }
                ist::TrainerOptions o = c.options;
                o.seed = seed;
                ist::XmlNetwork net(t.train.feature_count(), width, t.train.classes, seed, loss);
                const double formula = ist::xml_worker_footprint(shape).total();
                const ist::Sgd sgd(c.lr);
                if (ist_run)
                    train_and_report(ist::IstTrainer<ist::XmlNetwork>(net, o, {}, sgd), t, c, label, formula);
                else
                    train_and_report(ist::DataParallelTrainer<ist::XmlNetwork>(net, o, {}, sgd), t, c, label, formula);
            }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    return ist::cli::run_main("xml-train", [&] { return run(parse(argc, argv)); });
}
