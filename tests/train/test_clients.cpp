// Federated rounds (Sampling::Clients): S of n clients per round, each worker on its client's
// rows only, client streams that advance only when their round completes, exact resume, and the
// errors for impossible client setups.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <unistd.h>

#include "helpers.hpp"

using namespace ist;
namespace fs = std::filesystem;

namespace {

TrainerOptions client_options(std::size_t rounds, ClientSelection selection = ClientSelection::Uniform) {
    TrainerOptions o = test::test_options(4, 5, rounds, 16, 21);
    o.sampling = Sampling::Clients;
    o.client_selection = selection;
    return o;
}

}  // namespace

TEST_CASE("clients: each round draws S distinct clients, reproducibly, and BySize favours big clients") {
    ClientShards shards(10);
    for (std::uint32_t r = 0; r < 550; ++r) shards[r % 10].push_back(r);
    const TrainerOptions uniform = client_options(1);
    for (std::size_t round = 1; round <= 50; ++round) {
        const auto chosen = select_clients(shards, uniform, round);
        CHECK(chosen.size() == 4);
        CHECK(std::set<std::size_t>(chosen.begin(), chosen.end()).size() == 4);
        CHECK(chosen == select_clients(shards, uniform, round));
    }
    CHECK(select_clients(shards, uniform, 1) != select_clients(shards, uniform, 2));
    // S = 1 and one client of 900 rows beside one of 100: BySize picks it 9 times in 10.
    ClientShards lopsided{std::vector<std::uint32_t>(900, 0), std::vector<std::uint32_t>(100, 1)};
    TrainerOptions one = client_options(1, ClientSelection::BySize);
    one.workers = 1;
    std::size_t big = 0;
    for (std::size_t round = 1; round <= 20000; ++round) big += select_clients(lopsided, one, round)[0] == 0;
    CHECK(big / 20000.0 == doctest::Approx(0.9).epsilon(0.02));
}

TEST_CASE("clients: a worker draws only its client's rows, and a stream advances only when its round completes") {
    const Dataset data = test::blobs(400, 6, 3, 4);
    const ClientShards shards = iid_clients(data, 8, 5);
    TrainerOptions o = client_options(1);
    WorkerStreams streams(o);
    streams.set_clients(shards);
    streams.prepare(data);
    RoundStreams round = streams.begin_round(1);
    REQUIRE(round.clients.size() == 4);
    Matrix x;
    Labels y;
    std::vector<std::uint32_t> rows;
    for (std::size_t s = 0; s < 4; ++s) {
        streams.draw_batch(round.sampler[s], data, x, y, rows);
        const auto& own = shards[round.clients[s]];
        for (std::uint32_t r : rows) CHECK(std::binary_search(own.begin(), own.end(), r));
    }
    streams.end_round(round, std::vector<std::size_t>{0});  // only worker 0 completed the round
    RoundStreams again = streams.begin_round(1);  // the same clients, as round 1 is drawn again
    std::vector<std::uint32_t> first, second;
    streams.draw_batch(again.sampler[0], data, x, y, first);
    streams.draw_batch(again.sampler[1], data, x, y, second);
    std::vector<std::uint32_t> fresh0, fresh1;
    WorkerStreams clean(o);  // untouched streams, for comparison
    clean.set_clients(shards);
    clean.prepare(data);
    RoundStreams untouched = clean.begin_round(1);
    clean.draw_batch(untouched.sampler[0], data, x, y, fresh0);
    clean.draw_batch(untouched.sampler[1], data, x, y, fresh1);
    CHECK(first != fresh0);   // client of worker 0 moved on past its first batch
    CHECK(second == fresh1);  // client of worker 1 did not: its round never completed
}

TEST_CASE("clients: federated IST on non-IID digits (Dirichlet 0.5, 20 clients, 4 per round) learns") {
    auto [train, test] = train_test_split(load_digits(), 0.25, 3);
    standardize(train, test);
    Network net = make_mlp({64, {128, 128}, 10});
    IstTrainer trainer(net, client_options(40));
    trainer.set_clients(dirichlet_clients(train, 20, 0.5, 8));
    const auto result = trainer.train(train, test);
    REQUIRE(result.final_test);
    MESSAGE("federated IST accuracy " << result.final_test->accuracy);
    CHECK(result.final_test->accuracy > 0.85);
}

TEST_CASE("clients: a resumed federated run ends bit-identical to an unbroken one") {
    const Dataset train = test::blobs(300, 10, 3, 1), test_set = test::blobs(90, 10, 3, 2);
    const ClientShards shards = dirichlet_clients(train, 9, 1.0, 2);
    const Network initial = make_mlp({10, {14, 12}, 3});
    Network unbroken = initial;
    IstTrainer full(unbroken, client_options(8, ClientSelection::BySize));
    full.set_clients(shards);
    full.train(train, test_set);

    const fs::path path = fs::temp_directory_path() / ("ist_clients_" + std::to_string(::getpid()) + ".npz");
    Network first = initial;
    IstTrainer part1(first, client_options(5, ClientSelection::BySize));
    part1.set_clients(shards);
    part1.train(train, test_set);
    part1.save_checkpoint(path.string());

    Network resumed = make_mlp({10, {14, 12}, 3, Norm::Batch, 99});
    IstTrainer part2(resumed, client_options(8, ClientSelection::BySize));
    part2.set_clients(shards);
    part2.load_checkpoint(path.string());
    part2.train(train, test_set);
    fs::remove(path);
    CHECK(test::same_parameters(resumed, unbroken));
}

TEST_CASE("clients: impossible client setups are refused before the model changes") {
    const Dataset data = test::blobs(100, 6, 3, 4);
    Network net = make_mlp({6, {8}, 3});
    const Network before = net;
    IstTrainer none(net, client_options(2));
    CHECK_THROWS_WITH_AS(none.train(data, data),
                         "Sampling::Clients needs the clients' rows: call set_clients() before train()", ConfigError);
    IstTrainer few(net, client_options(2));
    few.set_clients(iid_clients(data, 3, 1));
    CHECK_THROWS_WITH_AS(few.train(data, data), "Sampling::Clients: S = 4 workers but only 3 clients to sample from",
                         ConfigError);
    IstTrainer wrong(net, client_options(2));
    wrong.set_clients({{0, 1}, {2}, {3}, {4, 100}});
    CHECK_THROWS_WITH_AS(wrong.train(data, data),
                         "Sampling::Clients: client 3 has row 100, but the training set has 100 rows", DataError);
    IstTrainer empty(net, client_options(2));
    empty.set_clients({{0, 1}, {2}, {}, {4}});
    CHECK_THROWS_WITH_AS(empty.train(data, data), "Sampling::Clients: client 2 has no rows", ConfigError);
    CHECK(test::same_parameters(net, before));
}
