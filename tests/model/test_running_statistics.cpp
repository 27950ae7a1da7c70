// BatchNorm's optional running statistics: off by default (the reference network normalises
// with the batch's statistics in evaluation too), PyTorch's update rule when on.
#include <doctest/doctest.h>

#include <cmath>

#include <ist/model/mlp.hpp>
#include <ist/model/refresh_statistics.hpp>

#include "helpers.hpp"

using namespace ist;

TEST_CASE("running_statistics: off by default, and the momentum must be between 0 and 1") {
    CHECK(!BatchNorm(3).running_statistics().enabled());
    CHECK_THROWS_WITH_AS(BatchNorm(3, true, 1e-5f, 1.5f),
                         "BatchNorm: momentum must be in [0, 1] (0: no running statistics), got 1.500000", ConfigError);
    CHECK_THROWS_WITH_AS(BatchNorm2d(3, 2, 2, true, 1e-5f, -0.5f),
                         "BatchNorm2d: momentum must be in [0, 1] (0: no running statistics), got -0.500000", ConfigError);
    Network net = make_mlp({6, {5}, 3, Norm::Batch, 7});
    CHECK_THROWS_WITH_AS(refresh_running_statistics(net, Matrix(), 1),
                         "refresh_running_statistics: batch_size must be at least 2", ConfigError);
}


TEST_CASE("running_statistics: training passes fold batches in with PyTorch's momentum rule") {
    BatchNorm bn(2, false, 1e-5f, 0.5f);
    Matrix x = {{1.0f, 10.0f}, {3.0f, 10.0f}, {5.0f, 13.0f}};
    Matrix y;
    bn.forward(x, y, Mode::Train);
    const detail::RunningStatistics& r = bn.running_statistics();
    // mean (3, 11); unbiased variance (4, 3); halfway from (0, 1) and (1, 1)
    CHECK(r.mean() == Tensor{1.5f, 5.5f});
    CHECK(r.variance() == Tensor{2.5f, 2.0f});
    bn.forward(x, y, Mode::Eval);  // evaluation reads them, and leaves them be
    CHECK(r.mean() == Tensor{1.5f, 5.5f});
    CHECK(y(0, 0) == doctest::Approx((1.0f - 1.5f) / std::sqrt(2.5f + 1e-5f)));
    Network net;
    net.add(Dense(2, 3, true, 1)).add(BatchNorm(3, true, 1e-5f, 0.1f)).add(ReLU()).add(Dense(3, 2, true, 2));
    Network sub = net.subnet(WorkerPlan{{std::nullopt, std::vector<std::uint32_t>{0, 2}, std::nullopt}});
    sub.forward(x, Mode::Train);  // a subnet's narrower copy trains on batch statistics alone
    CHECK(sub.layer(1).as<BatchNorm>()->running_statistics().mean() == xt::zeros<float>({3}));
}
