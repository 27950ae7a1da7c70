// FedAvg with a dropped worker (issue 36): the trainer's merge weighs only the workers that
// returned, each by its client's rows, against a weighted mean written here from the returned
// copies and the clients' sizes.
#include <doctest/doctest.h>

#include <cmath>
#include <memory>
#include <vector>

#include "faulty_transport.hpp"
#include "helpers.hpp"

using namespace ist;

namespace {

/// Copies of what each merge received (per item, the returned workers' tensors), then FedAvg.
struct CopyingFedAvg : HolderAverage {
    CopyingFedAvg() : HolderAverage(Weighting::BySamples) {}
    std::shared_ptr<std::vector<std::vector<Tensor>>> returned = std::make_shared<std::vector<std::vector<Tensor>>>();
    void merge(std::span<MergeItem> items, const MergeContext& round) {
        for (const MergeItem& item : items) {
            returned->emplace_back();
            for (const Tensor* copy : item.workers) returned->back().push_back(*copy);
        }
        HolderAverage::merge(items, round);
    }
};

/// Clients of 250, 40, 60, 80, 100 and 70 rows, in row order.
ClientShards unequal_clients() {
    ClientShards clients;
    std::uint32_t row = 0;
    for (std::uint32_t size : {250u, 40u, 60u, 80u, 100u, 70u}) {
        clients.emplace_back();
        for (std::uint32_t k = 0; k < size; ++k) clients.back().push_back(row++);
    }
    return clients;
}

}  // namespace

TEST_CASE("aggregate: FedAvg with a dropped worker weighs only the returned workers by their client rows") {
    const Dataset train = test::blobs(600, 12, 3, 1), test_set = test::blobs(150, 12, 3, 2);
    TrainerOptions o = test::test_options(3, 3, 1, 16, 3);
    o.sampling = Sampling::Clients;
    const ClientShards clients = unequal_clients();
    Network net = make_mlp({12, {16}, 3, Norm::Layer});  // dense layers with biases: the output bias is shared
    const Network before = net;
    ThreadsTransport::Options dropping;
    dropping.drop_failed_workers = true;
    CopyingFedAvg fedavg;
    // Worker 1 (not the last) fails in round 1: the returned workers are 0 and 2.
    IstTrainer trainer(net, o, NeuronPartition(), Sgd(0.05f), fedavg,
                       test::FaultyTransport<ThreadsTransport>(dropping, {{1, 1}}));
    trainer.set_clients(clients);
    const TrainResult result = trainer.train(train, test_set);
    REQUIRE(result.history.at(0).dropped_workers == std::vector<std::size_t>{1});

    const std::vector<std::size_t> picked = select_clients(clients, o, 1);
    const double n0 = static_cast<double>(clients[picked[0]].size()), n2 = static_cast<double>(clients[picked[2]].size());
    const double n1 = static_cast<double>(clients[picked[1]].size());
    REQUIRE((n0 != n2 && n1 != n2 && n0 != n1));  // weights by the wrong worker would show
    PartitionRng rng(o.seed);                     // the trainer's first plan
    const Plan plan = NeuronPartition().plan(before.dimensions(), 3, rng);
    REQUIRE(fedavg.returned->size() == net.parameter_count());
    const std::vector<Tensor>& hidden_weight = (*fedavg.returned)[0];  // hidden x input: rows follow the hidden cut
    const std::vector<Tensor>& output_bias = (*fedavg.returned)[3];    // shared by every subnet
    REQUIRE(hidden_weight.size() == 2);
    REQUIRE(output_bias.size() == 2);

    // Held by one returned worker: its copy, exactly.
    const Tensor& w_after = net.parameter(0).value;
    const auto hidden = static_cast<std::size_t>(net.parameter_dims(0)[0]);
    const std::vector<std::uint32_t>& rows0 = *plan[0].dims[hidden];
    for (std::size_t k = 0; k < rows0.size(); ++k)
        CHECK(xt::view(w_after, rows0[k], xt::all()) == xt::view(hidden_weight[0], k, xt::all()));
    // Held only by the dropped worker: its previous value.
    for (std::uint32_t row : *plan[1].dims[hidden])
        CHECK(xt::view(w_after, row, xt::all()) == xt::view(before.parameter(0).value, row, xt::all()));
    // Held by both returned workers: sum n_s copy_s / (n0 + n2) over workers 0 and 2 only.
    const Tensor& b_after = net.parameter(3).value;
    REQUIRE(b_after.size() == 3);
    for (std::size_t j = 0; j < 3; ++j) {
        const double c0 = output_bias[0](j), c2 = output_bias[1](j);
        const double expected = (n0 * c0 + n2 * c2) / (n0 + n2);
        CAPTURE(j);
        CHECK(std::abs(b_after(j) - expected) < 1e-6);
        CHECK(std::abs(expected - (c0 + c2) / 2.0) > 1e-5);  // the weighting is visible at this tolerance
    }
}
