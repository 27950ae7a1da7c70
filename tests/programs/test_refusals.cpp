// ist-train refuses the options a run would ignore (each of these ran before with the checksum of
// the run without it), naming the option and why, and accepts shares that sum to 1 only to four
// decimals. The messages are asserted whole: they are what a user reads.
#include <doctest/doctest.h>

#include <string>

#include "program_output.hpp"

namespace {

/// ist-train's error line and exit code for `args` (a quick run, were it accepted).
std::string refusal(const std::string& args) {
    return ist_test::run_program(IST_TRAIN_EXE, "--quiet --rounds 2 --hidden 16,16 " + args);
}

std::string refused(const std::string& line) { return "ist-train: error: " + line + "\nexit 2"; }

/// Each option a run would ignore, with the run that would ignore it and the whole message.
struct Refusal {
    const char* args;
    const char* message;
};
const Refusal kIgnored[] = {
    {"--keep 0.3",
     "--keep would be ignored: only --partition bernoulli keeps each neuron with a probability (this run: --partition neuron)"},
    {"--partition categorical --keep 0.3",
     "--keep would be ignored: only --partition bernoulli keeps each neuron with a probability (this run: --partition "
     "categorical)"},
    {"--partition bernoulli --method local-sgd",
     "--partition would be ignored: --method local-sgd trains full models: it does not partition"},
    {"--partition bernoulli --method data-parallel",
     "--partition would be ignored: --method data-parallel trains full models: it does not partition"},
    {"--quorum 9", "--quorum: 9 is more than the 4 workers of a round (--workers)"},
    {"--quorum 3 --workers 2", "--quorum: 3 is more than the 2 workers of a round (--workers)"},
    {"--optimizer adam --momentum 0.5",
     "--momentum would be ignored: --optimizer adam has no momentum term (it is --optimizer momentum's)"},
    {"--momentum 0.5", "--momentum would be ignored: --optimizer sgd has no momentum term (it is --optimizer momentum's)"},
    {"--method local-sgd --scale-activations",
     "--scale-activations would be ignored: --method local-sgd trains full models: no subnet activations to scale"},
    {"--method data-parallel --scale-activations",
     "--scale-activations would be ignored: --method data-parallel trains full models: no subnet activations to scale"},
};

}  // namespace

TEST_CASE("refusals: --keep, --partition, --quorum, --momentum and --scale-activations where a run ignores them") {
    for (const Refusal& r : kIgnored) {
        INFO("ist-train " << r.args);
        CHECK(refusal(r.args) == refused(r.message));
    }
}

TEST_CASE("refusals: the options they refuse are taken where they apply") {
    for (const char* args : {"--partition bernoulli --keep 0.3", "--quorum 4", "--optimizer momentum --momentum 0.5",
                             "--scale-activations"})
        CHECK(ist_test::checksum_of(refusal(args)).size() == 16);
}

TEST_CASE("refusals: --shares sum to 1 within 0.001, are renormalised, and set S") {
    // At width 16, thirds cut 6, 5, 5 neurons (16/3 = 5.33 each, the first remainder to worker 0),
    // and so do 0.34, 0.33, 0.33 (5.44, 5.28, 5.28): the same cut, the same weights.
    const std::string thirds = refusal("--shares 0.3333,0.3333,0.3333");
    CHECK(ist_test::checksum_of(thirds).size() == 16);
    CHECK(ist_test::checksum_of(thirds) == ist_test::checksum_of(refusal("--shares 0.34,0.33,0.33 --workers 3")));
    CHECK(refusal("--shares 0.5,0.2,0.2,0.2") ==
          refused("--shares: they sum to 1.1, not 1 (within 0.001): each is worker s's fraction of every hidden layer"));
    CHECK(refusal("--shares 0.5,0.2,0.2,0.102") ==  // off by 0.002: past the tolerance, however close
          refused("--shares: they sum to 1.002, not 1 (within 0.001): each is worker s's fraction of every hidden layer"));
    CHECK(refusal("--shares 0.5,0.5 --workers 4") ==
          refused("--shares: 2 shares for --workers 4 (one per worker; --shares alone sets S)"));
}

TEST_CASE("refusals: a shared option has one rule in every program") {
    // --batch 0 was accepted by ist-train (and refused later by the trainer) and refused by xml-train.
    for (const char* exe : {IST_TRAIN_EXE, IST_XML_TRAIN_EXE}) {
        const std::string program = std::string(exe).substr(std::string(exe).rfind('/') + 1);
        CHECK(ist_test::run_program(exe, "--batch 0") == program + ": error: --batch: '0' is not a positive integer\nexit 2");
        CHECK(ist_test::run_program(exe, "--lr -1") == program + ": error: --lr: '-1' is not a positive number\nexit 2");
    }
}

TEST_CASE("refusals: xml-train's --scale-activations without IST") {
    CHECK(ist_test::run_program(IST_XML_TRAIN_EXE, "--methods data-parallel --scale-activations") ==
          "xml-train: error: --scale-activations would be ignored: --methods data-parallel trains full models: no "
          "subnet activations to scale\nexit 2");
}

TEST_CASE("refusals: xml-train's --checkpoint holds one run") {
    // The second run of one command would resume the first's file (or overwrite it). The data files do not
    // exist: refused, the command stops before reading them; taken, it stops there too, not hours later.
    const std::string no_data = "--train /nonexistent/train.txt --test /nonexistent/test.txt ";
    CHECK(ist_test::run_program(IST_XML_TRAIN_EXE, no_data + "--checkpoint unused.npz --hidden 16,32") ==
          "xml-train: error: --checkpoint: a checkpoint holds one run, and this command makes 4 (give one method, one "
          "width and one seed)\nexit 2");
    CHECK(ist_test::run_program(IST_XML_TRAIN_EXE, no_data + "--checkpoint unused.npz --hidden 16 --methods ist --seeds 1,2") ==
          "xml-train: error: --checkpoint: a checkpoint holds one run, and this command makes 2 (give one method, one "
          "width and one seed)\nexit 2");
    CHECK(ist_test::run_program(IST_XML_TRAIN_EXE, no_data + "--checkpoint-every 5") ==
          "xml-train: error: --checkpoint-every would be ignored: no --checkpoint to write\nexit 2");
}
