// The program every consumer test builds (tests/consumers/README.md): it includes ist the way a
// user does, loads the bundled digits from the data directory the build gave it, and trains a
// small MLP with IST for a few rounds.
//
//   consumer [EXPECTED_DATA_DIR [EXPECTED_VERSION]]
//
// Fails (exit 1) if the data directory compiled in is not EXPECTED_DATA_DIR, if the headers' version
// (ist::version, IST_VERSION_*) is not EXPECTED_VERSION (CMake's project(VERSION), "0.2.0"), if the
// digits do not load as 1,797 x 64 with 10 classes, or if training does not get well above chance.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

namespace {

int fail(const std::string& what) {
    std::cerr << "consumer: FAILED: " << what << "\n";
    return EXIT_FAILURE;
}

/// Whether the headers say `expected` ("major.minor.patch"), as numbers, macros and text alike.
bool version_is(const std::string& expected) {
    ist::Version wanted{};
    char rest = 0;
    if (std::sscanf(expected.c_str(), "%d.%d.%d%c", &wanted.major, &wanted.minor, &wanted.patch, &rest) != 3) return false;
    const ist::Version macros{IST_VERSION_MAJOR, IST_VERSION_MINOR, IST_VERSION_PATCH};
    return ist::version == wanted && macros == wanted && ist::version_string == expected && IST_VERSION_STRING == expected;
}

}  // namespace

int main(int argc, char** argv) try {
    const std::string data_dir = ist::default_data_dir();
    std::cout << "consumer: data directory " << data_dir << "\n";
    if (argc > 1) {
        std::error_code ec;
        if (!std::filesystem::equivalent(data_dir, argv[1], ec))
            return fail("data directory is " + data_dir + ", expected " + argv[1]);
    }
    std::cout << "consumer: ist " << ist::version_string << "\n";
    if (argc > 2 && !version_is(argv[2]))
        return fail("the headers say ist " + std::string(ist::version_string) + ", expected " + argv[2]);

    ist::Dataset digits = ist::load_digits();
    if (digits.size() != 1797 || digits.feature_count() != 64 || digits.classes != 10)
        return fail("digits: unexpected shape " + std::to_string(digits.size()) + " x " +
                    std::to_string(digits.feature_count()));

    auto [train, test] = ist::train_test_split(digits, 0.25, 3);
    ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {64}, 10});
    const ist::TrainerOptions options{.workers = 2, .local_steps = 5, .rounds = 12, .batch_size = 32, .eval_every = 0};
    ist::IstTrainer trainer(net, options, ist::NeuronPartition{}, ist::Sgd(0.05f));
    const ist::TrainResult result = trainer.train(train, test);
    const double accuracy = result.final_test->accuracy;
    std::cout << "consumer: test accuracy " << accuracy << " after " << options.rounds << " IST rounds\n";
    // Chance is 0.1; a few rounds of IST on standardized digits reach about 0.9.
    if (!(accuracy >= 0.7)) return fail("test accuracy " + std::to_string(accuracy) + " below 0.7");
    std::cout << "consumer: ok\n";
    return EXIT_SUCCESS;
} catch (const std::exception& e) {
    return fail(e.what());
}
