// Deploy a trained model: save it so that it reads raw rows (its input standardisation in front,
// its batch norms on the training rows' population statistics), then predict with ist::Predictor
// from the file alone; one row alone gets the classes it gets among the whole test set.
#include <cstdio>
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 42);
    const ist::Dataset raw_test = test;  // what a user will feed the model
    const ist::Standardization standardization = ist::standardize(train, test);
    ist::Network net = ist::make_mlp({64, {128, 128}, 10});
    ist::TrainerOptions options{.workers = 4, .local_steps = 10, .rounds = 30, .batch_size = 64, .eval_every = 0};
    ist::IstTrainer(net, options).train(train, test);

    ist::use_population_statistics(net, train.features);  // a prediction no longer depends on its batch
    ist::ModelMetadata metadata;
    metadata.class_names = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
    const char* path = "predictor.npz";
    ist::save_model(ist::with_standardization(net, standardization), path, metadata);

    ist::Predictor predictor(path);  // the file alone: no training data, no seed
    std::remove(path);
    const double accuracy = predictor.evaluate(raw_test).accuracy;
    const std::vector<std::uint32_t> all = predictor.predict(raw_test.features);
    const ist::Matrix first_row = xt::view(raw_test.features, xt::range(0, 1), xt::all());
    const std::uint32_t alone = predictor.predict(first_row).front();
    std::cout << "raw test rows: accuracy " << accuracy << "; row 0 is a " << predictor.class_name(alone)
              << " (label " << predictor.class_name(raw_test.labels[0]) << "), the same alone as among all: "
              << (alone == all.front() ? "yes" : "no") << '\n';
    return accuracy > 0.9 && alone == all.front() ? 0 : 1;
}
