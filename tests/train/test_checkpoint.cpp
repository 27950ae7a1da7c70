// Checkpoints: bit-identical resume, atomic files, refusal of bad or mismatched files. (A real
// process killed with SIGKILL is in tests/programs/, which needs the ist-train binary.)
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

#include "helpers.hpp"
#include "../scratch.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
    return ist::test::scratch_path("ckpt", name);
}

TrainerOptions options(std::size_t rounds) {
    TrainerOptions o;
    o.workers = 3;
    o.local_steps = 4;
    o.rounds = rounds;
    o.batch_size = 16;
    o.seed = 11;
    o.eval_every = 0;
    o.optimizer_state = OptimizerState::Carry;
    return o;
}

std::vector<char> file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("checkpoint: resuming gives the same weights as an unbroken run") {
    const Dataset train = test::blobs(300, 10, 3, 1), test_set = test::blobs(90, 10, 3, 2);
    const Network initial = make_mlp({10, {14, 12}, 3});
    Network unbroken = initial;
    IstTrainer full(unbroken, options(8), NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    full.train(train, test_set);

    const fs::path path = scratch("resume.npz");
    Network first = initial;
    IstTrainer part1(first, options(5), NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    part1.train(train, test_set, Checkpoint(path.string(), 5));
    CHECK(fs::exists(path));
    CHECK_FALSE(fs::exists(path.string() + ".tmp"));

    Network resumed = make_mlp({10, {14, 12}, 3, Norm::Batch, 99});  // different weights, overwritten
    IstTrainer part2(resumed, options(8), NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    part2.load_checkpoint(path.string());
    CHECK(part2.rounds_done() == 5);
    CHECK(test::same_parameters(resumed, first));
    part2.train(train, test_set);
    CHECK(part2.rounds_done() == 8);
    CHECK(test::same_parameters(resumed, unbroken));
    CHECK(part2.total_bytes() == full.total_bytes());
}

TEST_CASE("checkpoint: bad files are refused and the model is untouched") {
    const Dataset train = test::blobs(300, 10, 3, 1), test_set = test::blobs(90, 10, 3, 2);
    Network net = make_mlp({10, {14}, 3});
    IstTrainer trainer(net, options(2), NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    trainer.train(train, test_set);
    const fs::path good = scratch("good.npz");
    trainer.save_checkpoint(good.string());

    Network other = make_mlp({10, {14}, 3, Norm::Batch, 5});
    const Network before = other;
    IstTrainer target(other, options(4), NeuronPartition(), MomentumSgd(0.05f, 0.9f));

    const auto bytes = file_bytes(good);
    const fs::path truncated = scratch("truncated.npz");
    std::ofstream(truncated, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
    CHECK_THROWS_WITH_AS(target.load_checkpoint(truncated.string()), doctest::Contains("truncated.npz"), DataError);

    const fs::path flipped = scratch("flipped.npz");
    auto corrupt = bytes;
    corrupt[bytes.size() / 3] ^= 0x55;
    std::ofstream(flipped, std::ios::binary).write(corrupt.data(), static_cast<std::streamsize>(corrupt.size()));
    CHECK_THROWS_AS(target.load_checkpoint(flipped.string()), DataError);

    Network wider = make_mlp({10, {15}, 3});
    IstTrainer wrong_shape(wider, options(4), NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    CHECK_THROWS_WITH_AS(wrong_shape.load_checkpoint(good.string()),
                         doctest::Contains("[param_0]: shape (14, 10), expected (15, 10)"), DataError);

    TrainerOptions four_workers = options(4);
    four_workers.workers = 4;
    Network same = make_mlp({10, {14}, 3});
    IstTrainer wrong_workers(same, four_workers, NeuronPartition(), MomentumSgd(0.05f, 0.9f));
    CHECK_THROWS_WITH_AS(wrong_workers.load_checkpoint(good.string()),
                         doctest::Contains("was not written for 4 workers"), DataError);

    CHECK_THROWS_WITH_AS(target.load_checkpoint(scratch("missing.npz").string()), doctest::Contains("cannot open"), DataError);
    CHECK(test::same_parameters(other, before));
    CHECK(target.rounds_done() == 0);
}

namespace {

/// A checkpoint for `net` and 3 workers written member by member, so a test can plant one bad
/// member (the RNG texts and a sampler position) that save_checkpoint would never write.
void write_checkpoint_with(const fs::path& path, const Network& net, const std::string& partition_rng,
                           const std::string& sampler_rng, std::uint64_t position) {
    NpzWriter npz;
    npz.add("format", std::string(kCheckpointFormat));
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        npz.add("param_" + std::to_string(i), net.parameter(i).value);
    npz.add("counters", std::vector<std::uint64_t>{2, 8, 100, 0, 300});
    npz.add("partition_rng", partition_rng);
    for (std::size_t s = 0; s < 3; ++s) {
        const std::string key = "sampler_" + std::to_string(s);
        npz.add(key + "_pool", std::vector<std::uint32_t>{1, 2, 3});
        npz.add(key + "_position", std::vector<std::uint64_t>{s == 1 ? position : 0});
        std::ostringstream valid;
        valid << std::mt19937_64(s);
        npz.add(key + "_rng", s == 1 ? sampler_rng : valid.str());
    }
    npz.write_atomically(path.string());
}

}  // namespace

// Found by tests/fuzz/fuzz_checkpoint: a bad partition RNG was detected only after the
// parameters had been replaced, and a bad sampler member gave a message without the file name.
TEST_CASE("checkpoint: bad RNG states and positions name the file and leave the model untouched") {
    std::ostringstream engine;
    engine << std::mt19937_64(3);
    const std::string good_rng = engine.str();

    Network source = make_mlp({10, {14}, 3, Norm::Batch, 5});
    Network net = make_mlp({10, {14}, 3});
    const Network before = net;
    IstTrainer trainer(net, options(4));

    const fs::path ok = scratch("planted_ok.npz");
    write_checkpoint_with(ok, source, good_rng, good_rng, 1);
    {
        Network copy = before;
        IstTrainer check(copy, options(4));
        check.load_checkpoint(ok.string());  // the planted layout itself is valid
        CHECK(check.rounds_done() == 2);
        CHECK(test::same_parameters(copy, source));
    }

    const fs::path bad_partition = scratch("bad_partition_rng.npz");
    write_checkpoint_with(bad_partition, source, "not an engine", good_rng, 1);
    CHECK_THROWS_WITH_AS(trainer.load_checkpoint(bad_partition.string()),
                         doctest::Contains("bad_partition_rng.npz[partition_rng]"), DataError);
    CHECK(test::same_parameters(net, before));

    const fs::path bad_sampler = scratch("bad_sampler_rng.npz");
    write_checkpoint_with(bad_sampler, source, good_rng, "12 x", 1);
    CHECK_THROWS_WITH_AS(trainer.load_checkpoint(bad_sampler.string()),
                         doctest::Contains("bad_sampler_rng.npz[sampler_1"), DataError);

    const fs::path bad_position = scratch("bad_position.npz");
    write_checkpoint_with(bad_position, source, good_rng, good_rng, 4);
    CHECK_THROWS_WITH_AS(trainer.load_checkpoint(bad_position.string()),
                         doctest::Contains("bad_position.npz[sampler_1"), DataError);

    CHECK(test::same_parameters(net, before));
    CHECK(trainer.rounds_done() == 0);
}
