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

}  // namespace

TEST_CASE("refusals: --keep without --partition bernoulli") {
    CHECK(refusal("--keep 0.3") ==
          refused("--keep would be ignored: only --partition bernoulli keeps each neuron with a probability "
                  "(this run: --partition neuron)"));
    CHECK(refusal("--partition categorical --keep 0.3") ==
          refused("--keep would be ignored: only --partition bernoulli keeps each neuron with a probability "
                  "(this run: --partition categorical)"));
}

TEST_CASE("refusals: --partition with local SGD or data parallel") {
    CHECK(refusal("--partition bernoulli --method local-sgd") ==
          refused("--partition would be ignored: --method local-sgd trains full models: it does not partition"));
    CHECK(refusal("--partition bernoulli --method data-parallel") ==
          refused("--partition would be ignored: --method data-parallel trains full models: it does not partition"));
}

TEST_CASE("refusals: --quorum above S") {
    CHECK(refusal("--quorum 9") == refused("--quorum: 9 is more than the 4 workers of a round (--workers)"));
    CHECK(refusal("--quorum 3 --workers 2") == refused("--quorum: 3 is more than the 2 workers of a round (--workers)"));
}

TEST_CASE("refusals: --momentum without --optimizer momentum") {
    CHECK(refusal("--optimizer adam --momentum 0.5") ==
          refused("--momentum would be ignored: --optimizer adam has no momentum term (it is --optimizer momentum's)"));
    CHECK(refusal("--momentum 0.5") ==
          refused("--momentum would be ignored: --optimizer sgd has no momentum term (it is --optimizer momentum's)"));
}

TEST_CASE("refusals: --scale-activations with full models") {
    CHECK(refusal("--method local-sgd --scale-activations") ==
          refused("--scale-activations would be ignored: --method local-sgd trains full models: no subnet "
                  "activations to scale"));
    CHECK(refusal("--method data-parallel --scale-activations") ==
          refused("--scale-activations would be ignored: --method data-parallel trains full models: no subnet "
                  "activations to scale"));
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
