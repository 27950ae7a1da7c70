// support/training_options.hpp: each shared option parsed in-process, its rule checked against the
// values it must take and refuse, and the default in --help read from the bound variable; the value
// kinds of the GEMM options (--gemm).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "training_options.hpp"

namespace {

struct Bound {
    std::size_t workers = 4, local_steps = 10, rounds = 60, batch = 64, eval_every = 1;
    std::uint64_t seed = 42;
    float lr = 0.05f, momentum = 0.9f, weight_decay = 0.0f;
    bool carry = false;
};

/// Parses `args` into a fresh Bound through every shared option; the ConfigError's text, or "".
std::string parse_training(std::vector<std::string> args, Bound& b) {
    ist::cli::Options cli("prog", "test");
    ist::cli::TrainingOptions training(cli);
    training.workers(b.workers);
    training.local_steps(b.local_steps);
    training.rounds(b.rounds);
    training.batch(b.batch);
    training.eval_every(b.eval_every);
    training.seed(b.seed);
    training.lr(b.lr);
    training.momentum(b.momentum);
    training.weight_decay(b.weight_decay);
    training.carry_state(b.carry);
    args.insert(args.begin(), "prog");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    try {
        cli.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const ist::ConfigError& e) {
        return e.what();
    }
    return "";
}

std::string error_of(const std::string& option, const std::string& value) {
    Bound b;
    return parse_training({option, value}, b);
}

}  // namespace

TEST_CASE("training options: counts of workers, steps, rounds and rows are positive") {
    for (const char* option : {"--workers", "--local-steps", "--rounds", "--batch"}) {
        CHECK(error_of(option, "0") == std::string(option) + ": '0' is not a positive integer");
        CHECK(error_of(option, "-1") == std::string(option) + ": '-1' is not a positive integer");
        CHECK(error_of(option, "1") == "");
    }
}

TEST_CASE("training options: --seed and --eval-every take 0") {
    Bound b;
    REQUIRE(parse_training({"--seed", "0", "--eval-every", "0"}, b) == "");
    CHECK(b.seed == 0);
    CHECK(b.eval_every == 0);
    CHECK(error_of("--seed", "x") == "--seed: 'x' is not a non-negative integer");
}

TEST_CASE("training options: --lr positive, --momentum below 1, --weight-decay not negative") {
    CHECK(error_of("--lr", "0") == "--lr: '0' is not a positive number");
    CHECK(error_of("--momentum", "1") == "--momentum: '1' is not a momentum in [0, 1)");
    CHECK(error_of("--momentum", "0") == "");
    CHECK(error_of("--weight-decay", "-0.1") == "--weight-decay: '-0.1' is not a non-negative number");
    CHECK(error_of("--weight-decay", "0") == "");
}

TEST_CASE("training options: values read as std::stof reads them, into the bound variables") {
    Bound b;
    REQUIRE(parse_training({"--workers", "8", "--local-steps", "20", "--rounds", "3", "--batch", "128", "--lr", "0.01",
                            "--momentum", "0.5", "--weight-decay", "5e-4", "--carry-state"},
                           b) == "");
    CHECK(b.workers == 8);
    CHECK(b.local_steps == 20);
    CHECK(b.rounds == 3);
    CHECK(b.batch == 128);
    CHECK(b.lr == std::stof("0.01"));
    CHECK(b.momentum == 0.5f);
    CHECK(b.weight_decay == std::stof("5e-4"));
    CHECK(b.carry);
}

TEST_CASE("training options: --help shows each default from its variable") {
    ist::cli::Options cli("prog", "test");
    ist::cli::TrainingOptions training(cli);
    std::size_t batch = 128, eval_every = 0;
    std::vector<std::size_t> workers{2, 4, 8};
    float lr = 1e-3f;
    training.batch(batch);
    training.eval_every(eval_every);
    training.workers(workers);
    training.lr(lr, "Adam's learning rate");
    const std::string help = cli.help();
    CHECK(help.find("mini-batch per worker (default 128)") != std::string::npos);
    CHECK(help.find("evaluate every K rounds (default 0: at the end only)") != std::string::npos);
    CHECK(help.find("S values (default 2,4,8)") != std::string::npos);
    CHECK(help.find("Adam's learning rate (default 0.001)") != std::string::npos);
}

TEST_CASE("training options: a GEMM backend by name, built in or not; another name refused as every kind's") {
    using ist::detail::GemmBackend;
    CHECK(ist::cli::kGemmBackendRule("openblas") == GemmBackend::OpenBlas);
    CHECK(ist::cli::kGemmBackendRule("onednn") == GemmBackend::OneDnn);  // whether built: checked after parsing
    for (const char* other : {"mkl", "OpenBLAS", "", "onednn "}) CHECK(!ist::cli::kGemmBackendRule(other).has_value());
    CHECK_THROWS_WITH_AS(ist::cli::convert(ist::cli::kGemmBackendRule, "--gemm", "mkl"),
                         "--gemm: 'mkl' is not one of openblas, onednn", ist::ConfigError);
}
