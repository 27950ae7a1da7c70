// Federated clients: the training rows belong to 20 clients with skewed labels, and each round S
// of them (chosen at random, in proportion to their rows) train the S subnets on their own rows.
#include <algorithm>
#include <iostream>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 1);
    ist::standardize(train, test);
    // Dirichlet label skew, alpha = 0.5: most clients hold a few classes mostly.
    const ist::ClientShards clients = ist::dirichlet_clients(train, 20, 0.5, /*seed*/ 7);

    // The deal, checked by hand: every training row owned by exactly one client; and how skewed it is
    // (the mean share of a client's rows in its most common class; 0.1 would be no skew at 10 classes).
    std::vector<int> owners(train.size(), 0);
    double top_class_share = 0.0;
    for (const auto& rows : clients) {
        std::vector<std::size_t> per_class(train.classes, 0);
        for (std::uint32_t r : rows) ++owners[r], ++per_class[train.labels[r]];
        top_class_share += static_cast<double>(*std::max_element(per_class.begin(), per_class.end())) /
                           static_cast<double>(rows.size()) / static_cast<double>(clients.size());
    }
    const bool dealt_once = std::all_of(owners.begin(), owners.end(), [](int n) { return n == 1; });

    ist::Network net = ist::make_mlp({64, {128, 128}, 10});
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 60, .batch_size = 32, .eval_every = 0};
    options.sampling = ist::Sampling::Clients;
    options.client_selection = ist::ClientSelection::BySize;
    ist::IstTrainer trainer(net, options);
    trainer.set_clients(clients);
    const double accuracy = trainer.train(train, test).final_test->accuracy;
    std::cout << "20 clients, each row dealt once: " << (dealt_once ? "yes" : "no") << ", mean top-class share "
              << top_class_share << ", final test accuracy " << accuracy << '\n';
    return dealt_once && top_class_share > 0.3 && accuracy > 0.85 ? 0 : 1;
}
