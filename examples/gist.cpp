// GIST: IST on a graph convolutional network, cutting the hidden features of every GraphConv.
//
// Nodes are the 1,797 digits, edges each digit's 10 nearest neighbours; a quarter of the nodes
// keep their labels hidden for the test. Every subnet trains on the whole graph with its slice of
// each hidden layer: GraphConv -> LayerNorm (no parameters) -> ReLU, Adam rebuilt every round.
#include <cstdint>
#include <iostream>
#include <vector>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

int main() {
    const ist::Dataset all = ist::load_digits();
    ist::GcnGraph graph(ist::knn_graph(all.features, 10));  // keeps the plain graph and A_hat
    std::vector<std::uint32_t> train_rows, test_rows;
    for (std::uint32_t i = 0; i < all.size(); ++i) (i % 4 == 0 ? test_rows : train_rows).push_back(i);
    const ist::Dataset train = ist::keep_labels(all, train_rows), test = ist::keep_labels(all, test_rows);

    ist::Network gcn;
    gcn.add(ist::GraphConv(graph, 64, 128, {.seed = 1})).add(ist::LayerNorm()).add(ist::ReLU());
    gcn.add(ist::GraphConv(graph, 128, 128, {.seed = 2})).add(ist::LayerNorm()).add(ist::ReLU());
    gcn.add(ist::GraphConv(graph, 128, 10, {.seed = 3}));

    ist::TrainerOptions options{.workers = 4, .local_steps = 5, .rounds = 20};
    options.batches = ist::Batches::FullSet;  // every local step on the whole graph
    options.eval_every = 0;
    ist::IstTrainer trainer(gcn, options, ist::GistPartition({.split_input = false, .keep_last_hidden = false}),
                            ist::Adam(0.01f));
    const double accuracy = trainer.train(train, test).final_test->accuracy;
    std::cout << "GIST: " << graph.plain()->edges() << " edges, final test accuracy " << accuracy << '\n';
    return accuracy > 0.9 ? 0 : 1;
}
