// Training your own layer types with IST.
//
// A layer only has to model ist::Layer (include/ist/model/layer.hpp). Here, two user layers:
//  - LeakyReLU: no parameters, keeps its input's feature dimension;
//  - FeatureGain: one learnable gain per feature. Tagging its axis Axis::Out tells IST the gains
//    belong to the neurons they scale, so each subnet receives exactly its neurons' gains.
#include <iostream>

#include <ist/data/loaders.hpp>
#include <ist/ist.hpp>

class LeakyReLU {
public:
    static constexpr bool opens_dimension = false;
    explicit LeakyReLU(float slope = 0.01f) : slope_(slope) {}

    void forward(const ist::Matrix& x, ist::Matrix& y, ist::Mode) { y = xt::where(x > 0.0f, x, slope_ * x); }
    void backward(const ist::Matrix& x, const ist::Matrix&, const ist::Matrix& dy, ist::Matrix* dx) {
        if (dx) *dx = xt::where(x > 0.0f, dy, slope_ * dy);
    }
    std::span<ist::Parameter> parameters() { return {}; }
    std::span<const ist::Parameter> parameters() const { return {}; }

private:
    float slope_;
};

class FeatureGain {
public:
    static constexpr bool opens_dimension = false;
    explicit FeatureGain(std::size_t features) : gain_{"gain", xt::ones<float>({features}), {}, {ist::Axis::Out}} {}

    void forward(const ist::Matrix& x, ist::Matrix& y, ist::Mode) {
        y = x * xt::view(gain_.value, xt::newaxis(), xt::all());
    }
    void backward(const ist::Matrix& x, const ist::Matrix&, const ist::Matrix& dy, ist::Matrix* dx) {
        gain_.grad = xt::sum(dy * x, {0});
        if (dx) *dx = dy * xt::view(gain_.value, xt::newaxis(), xt::all());
    }
    std::span<ist::Parameter> parameters() { return {&gain_, 1}; }
    std::span<const ist::Parameter> parameters() const { return {&gain_, 1}; }

private:
    ist::Parameter gain_;
};

static_assert(ist::Layer<LeakyReLU> && ist::Layer<FeatureGain>);

int main() {
    auto [train, test] = ist::train_test_split(ist::load_digits(), 0.25, 1);
    ist::standardize(train, test);

    ist::Network net;
    net.add(ist::Dense(64, 128, false, 1)).add(ist::BatchNorm(128)).add(FeatureGain(128)).add(LeakyReLU());
    net.add(ist::Dense(128, 10, false, 2)).add(ist::BatchNorm(10, false));
    // net.add(42);  // would fail to compile: "this type does not model ist::Layer ..."

    ist::TrainerOptions options;
    options.workers = 4;
    options.local_steps = 10;
    options.rounds = 40;
    options.batch_size = 64;
    options.eval_every = 10;
    ist::IstTrainer trainer(net, options, ist::NeuronPartition(), ist::Sgd(0.05f));
    const auto result = trainer.train(train, test, ist::PrintMetrics());
    std::cout << "custom layers: final test accuracy " << result.final_test->accuracy << '\n';
    return result.final_test->accuracy > 0.9 ? 0 : 1;
}
