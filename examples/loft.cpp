// LOFT: IST as cheap pre-training for pruning. Pre-train with IST, prune 90 % of every weight
// matrix by magnitude, rewind the survivors to their initial values, fine-tune under the mask.
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

/// The fraction of the weight matrices' entries that are exactly zero, counted by hand.
double zero_fraction(const ist::Network& net) {
    std::size_t zeros = 0, total = 0;
    for (std::size_t i = 0; i < net.parameter_count(); ++i) {
        const ist::Parameter& p = net.parameter(i);
        if (p.value.dimension() < 2) continue;  // biases and norm parameters are not pruned
        for (float w : p.value) zeros += w == 0.0f;
        total += p.value.size();
    }
    return static_cast<double>(zeros) / static_cast<double>(total);
}

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    ist::standardize(train, test);
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 20, .batch_size = 64, .eval_every = 0};

    const ist::Network initial = ist::make_mlp({64, {128, 128}, 10});
    ist::Network net = initial;
    ist::IstTrainer(net, options).train(train, test);          // 1. IST pre-training

    ist::Masked<ist::Network> ticket(net);
    ist::prune(ticket, 0.9, ist::PruneScope::PerLayer);         // 2. prune 90 % of every weight matrix
    ist::rewind(ticket, initial);                               // 3. the survivors back to their start
    options.rounds = 8;                                         // data parallel: an all-reduce every step
    ist::DataParallelTrainer<ist::Masked<ist::Network>> fine(ticket, options);
    const double accuracy = fine.train(train, test).final_test->accuracy;  // 4. pruned weights stay 0

    const double sparsity = zero_fraction(ticket.model());
    std::cout << "LOFT: " << sparsity * 100 << " % of the weights pruned, fine-tuned test accuracy " << accuracy << '\n';
    return sparsity >= 0.9 && accuracy > 0.85 ? 0 : 1;
}
