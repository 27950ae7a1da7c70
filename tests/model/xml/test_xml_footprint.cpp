// The per-worker memory formula of XmlNetwork and the budget checks built on it.
#include <doctest/doctest.h>

#include <ist/model/xml/footprint.hpp>

TEST_CASE("xml: the worker footprint by hand, the widest widths and the budget refusal") {
    const ist::XmlWorkerShape shape{.features = 1000, .hidden = 10, .labels = 100, .batch = 4, .batch_nnz = 20,
                                    .batch_labels = 6, .optimizer_state = 1};
    const ist::XmlFootprint f = ist::xml_worker_footprint(shape);
    const double parameters = 1000.0 * 10 + 10 + 100.0 * 10 + 100;
    CHECK(f.parameters == 4 * parameters);
    CHECK(f.gradients == 4 * parameters + 4 * 100);
    CHECK(f.optimizer == 4 * parameters);
    CHECK(f.activations == 4.0 * 4 * (3 * 10 + 2 * 100));
    CHECK(f.batch == 8.0 * 20 * 1.5 + 8.0 * 5 * 2 + 4.0 * 6);

    ist::XmlWorkerShape wide = shape;
    const double budget = 1 << 20;
    const std::size_t dp = ist::widest_fitting_width(wide, 1, budget);
    const std::size_t ist4 = ist::widest_fitting_width(wide, 4, budget);
    wide.hidden = dp;
    CHECK(ist::xml_worker_footprint(wide).total() <= budget);
    wide.hidden = dp + 1;
    CHECK(ist::xml_worker_footprint(wide).total() > budget);
    CHECK(ist4 % 4 == 0);
    CHECK(ist4 >= 4 * dp);
    CHECK(ist4 < 4 * (dp + 1));
    CHECK_NOTHROW(ist::check_memory_budget(shape, budget, "run"));
    CHECK_THROWS_WITH_AS(ist::check_memory_budget(wide, budget, "data-parallel H=75"),
                         doctest::Contains("data-parallel H=75: a worker holding"), ist::ConfigError);
    CHECK_THROWS_WITH_AS(ist::check_memory_budget(wide, budget, "run"), doctest::Contains("over the memory budget of 0.00 GiB"),
                         ist::ConfigError);
}

TEST_CASE("xml: data parallel's footprint adds the all-reduce's buffer, as long as the largest gradient") {
    ist::XmlWorkerShape shape{.features = 1000, .hidden = 10, .labels = 100, .batch = 4, .batch_nnz = 20, .batch_labels = 6};
    const double alone = ist::xml_worker_footprint(shape).total();
    CHECK(ist::xml_worker_footprint(shape).exchange == 0.0);
    shape.all_reduce = true;
    CHECK(ist::xml_worker_footprint(shape).exchange == 4.0 * 1000 * 10);
    CHECK(ist::xml_worker_footprint(shape).total() == alone + 4.0 * 1000 * 10);
    shape.labels = 5000;  // the output layer's gradient is now the largest
    CHECK(ist::xml_worker_footprint(shape).exchange == 4.0 * 5000 * 10);
    CHECK_THROWS_WITH_AS(ist::check_memory_budget(shape, 1024.0, "data-parallel H=10"),
                         doctest::Contains("all-reduce buffer"), ist::ConfigError);
}
