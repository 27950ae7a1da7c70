// Your own partitioner: which neurons each worker trains this round.
//
// A partitioner models ist::Partitioner (include/ist/partition/partitioner.hpp): `validate`
// refuses an impossible S once, before training; `plan` returns, every round, one IndexSet per
// dimension for each worker (std::nullopt: all of it). Here, contiguous blocks: worker s holds a
// run of neurons starting at a random offset (drawn from the shared RNG, so every rank would draw
// the same), wrapping around, the runs disjoint and covering every neuron.
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

class RotatingBlocks {
public:
    void validate(const ist::DimensionTable& dims, std::size_t workers) const {
        ist::NeuronPartition::check_widths("RotatingBlocks", dims, ist::NeuronPartition::feature_dims(dims), workers);
    }

    ist::Plan plan(const ist::DimensionTable& dims, std::size_t workers, ist::PartitionRng& rng) const {
        ist::Plan plan = ist::full_plan(dims, workers);  // every dimension whole, then cut the hidden ones
        for (std::size_t d : ist::NeuronPartition::feature_dims(dims)) {
            const std::size_t width = dims[d].size, offset = rng() % width;
            std::vector<std::uint32_t> order(width);
            for (std::size_t i = 0; i < width; ++i) order[i] = static_cast<std::uint32_t>((offset + i) % width);
            auto blocks = ist::NeuronPartition::split(order, workers);  // near-equal runs, each sorted
            for (std::size_t s = 0; s < workers; ++s) plan[s].dims[d] = std::move(blocks[s]);
        }
        return plan;
    }
};
static_assert(ist::Partitioner<RotatingBlocks>);

/// The definition of a disjoint cut: every neuron of every cut dimension held by exactly one worker.
bool disjoint_and_covering(const ist::DimensionTable& dims, const ist::Plan& plan) {
    for (std::size_t d : ist::NeuronPartition::feature_dims(dims)) {
        std::vector<int> holders(dims[d].size, 0);
        for (const ist::WorkerPlan& wp : plan)
            for (std::uint32_t i : *wp.dims[d]) ++holders[i];
        for (int h : holders)
            if (h != 1) return false;
    }
    return true;
}

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 1);
    ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {128, 128}, 10});
    ist::PartitionRng rng(7);
    const bool disjoint = disjoint_and_covering(net.dimensions(), RotatingBlocks().plan(net.dimensions(), 3, rng));

    ist::TrainerOptions options{.workers = 3, .local_steps = 10, .rounds = 40, .batch_size = 64, .eval_every = 0};
    ist::IstTrainer trainer(net, options, RotatingBlocks(), ist::Sgd(0.05f));
    const double accuracy = trainer.train(train, test).final_test->accuracy;
    std::cout << "rotating blocks: disjoint " << (disjoint ? "yes" : "no") << ", final test accuracy " << accuracy << '\n';
    return disjoint && accuracy > 0.9 ? 0 : 1;
}
