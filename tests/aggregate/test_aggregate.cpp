// HolderAverage merged against an independent oracle written with plain loops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "helpers.hpp"

using namespace ist;

namespace {

using Indices = std::vector<std::uint32_t>;

/// Position of `index` in a worker's sorted held indices (all held: the index itself), or -1.
long position(const IndexSet& held, std::size_t index) {
    if (!held) return static_cast<long>(index);
    for (std::size_t k = 0; k < held->size(); ++k)
        if ((*held)[k] == index) return static_cast<long>(k);
    return -1;
}

/// The index set of axis `a` of a parameter whose axes are `dims` (shared axes: everything).
const IndexSet& axis_set(const WorkerPlan& plan, const std::vector<DimId>& dims, std::size_t a) {
    static const IndexSet all;
    return dims[a] == kWholeAxis ? all : plan.dims[static_cast<std::size_t>(dims[a])];
}

/// What HolderAverage must produce for a 2-D tensor, computed independently: every entry is the
/// mean, in double, over the workers that hold its row, its column and its unit (weighted by
/// `weights[s]` when given: FedAvg); entries with no holder keep the master's value.
std::vector<std::vector<double>> oracle(const Tensor& master, const std::vector<DimId>& dims, UnitRef unit,
                                        const Plan& plan, const std::vector<Tensor>& copies,
                                        const std::vector<double>& weights = {}) {
    std::vector<std::vector<double>> out(master.shape()[0], std::vector<double>(master.shape()[1]));
    for (std::size_t i = 0; i < master.shape()[0]; ++i)
        for (std::size_t j = 0; j < master.shape()[1]; ++j) {
            double sum = 0.0, total = 0.0;
            for (std::size_t s = 0; s < plan.size(); ++s) {
                if (!plan[s].holds(unit)) continue;
                const long r = position(axis_set(plan[s], dims, 0), i), c = position(axis_set(plan[s], dims, 1), j);
                if (r < 0 || c < 0) continue;
                const double w = weights.empty() ? 1.0 : weights[s];
                sum += w * copies[s](static_cast<std::size_t>(r), static_cast<std::size_t>(c));
                total += w;
            }
            out[i][j] = total == 0.0 ? master(i, j) : sum / total;
        }
    return out;
}

/// A row-major r x c tensor whose entry (i, j) is base + 0.5 i - 0.25 j + 0.125 i j.
Tensor filled(std::size_t rows, std::size_t cols, float base) {
    Tensor t = Tensor::from_shape({rows, cols});
    for (std::size_t i = 0; i < rows; ++i)
        for (std::size_t j = 0; j < cols; ++j)
            t(i, j) = base + 0.5f * static_cast<float>(i) - 0.25f * static_cast<float>(j) +
                      0.125f * static_cast<float>(i * j);
    return t;
}

/// Worker s's compact copy of a `master`-shaped tensor: its held rows and columns (empty when it
/// lacks the unit), with values of its own.
Tensor worker_copy(const Tensor& master, const std::vector<DimId>& dims, UnitRef unit, const WorkerPlan& plan,
                   std::size_t s) {
    if (!plan.holds(unit)) return Tensor::from_shape({0, 0});
    const IndexSet &rows = axis_set(plan, dims, 0), &cols = axis_set(plan, dims, 1);
    return filled(rows ? rows->size() : master.shape()[0], cols ? cols->size() : master.shape()[1],
                  100.0f * static_cast<float>(s + 1));
}

/// Merges one tensor per item through HolderAverage and checks every entry against the oracle.
void check_against_oracle(const Plan& plan, std::vector<std::vector<DimId>> dims, std::vector<UnitRef> units,
                          const std::vector<std::pair<std::size_t, std::size_t>>& shapes,
                          const std::vector<double>& samples = {}) {
    std::vector<Tensor> masters;
    std::vector<std::vector<Tensor>> copies(shapes.size());
    for (std::size_t k = 0; k < shapes.size(); ++k) {
        masters.push_back(filled(shapes[k].first, shapes[k].second, -7.0f - static_cast<float>(k)));
        for (std::size_t s = 0; s < plan.size(); ++s)
            copies[k].push_back(worker_copy(masters[k], dims[k], units[k], plan[s], s));
    }
    std::vector<std::vector<std::vector<double>>> expected;
    std::vector<MergeItem> items;
    for (std::size_t k = 0; k < shapes.size(); ++k) {
        expected.push_back(oracle(masters[k], dims[k], units[k], plan, copies[k], samples));
        MergeItem item{&masters[k], dims[k], {}, units[k]};
        for (const Tensor& copy : copies[k]) item.workers.push_back(&copy);
        items.push_back(std::move(item));
    }
    HolderAverage average(samples.empty() ? HolderAverage::Weighting::Equal : HolderAverage::Weighting::BySamples);
    average.merge(items, MergeContext(plan, samples));
    for (std::size_t k = 0; k < shapes.size(); ++k)
        for (std::size_t i = 0; i < shapes[k].first; ++i)
            for (std::size_t j = 0; j < shapes[k].second; ++j) {
                CAPTURE(k);
                CAPTURE(i);
                CAPTURE(j);
                CHECK(masters[k](i, j) == doctest::Approx(expected[k][i][j]).epsilon(1e-6));
            }
}

/// Worker plans from, per dimension, the holders of each index (holders[d][i]: workers of index i).
Plan plan_from_holders(const std::vector<std::vector<std::vector<std::size_t>>>& holders, std::size_t S) {
    Plan plan(S, WorkerPlan{std::vector<IndexSet>(holders.size())});
    for (std::size_t d = 0; d < holders.size(); ++d)
        for (std::size_t s = 0; s < S; ++s) {
            Indices held;
            for (std::size_t i = 0; i < holders[d].size(); ++i)
                if (std::find(holders[d][i].begin(), holders[d][i].end(), s) != holders[d][i].end())
                    held.push_back(static_cast<std::uint32_t>(i));
            plan[s].dims[d] = held;
        }
    return plan;
}

}  // namespace

TEST_CASE("aggregate: holder average of a 2-D weight from 4 partially overlapping workers") {
    // Per axis, indices held by 1, 2, 3, 4 or no workers; along no axis is the cut disjoint.
    const Plan plan = plan_from_holders({{{0, 1}, {0, 1, 2}, {}, {2}, {1, 2, 3}, {3, 0}},
                                         {{0, 1, 2}, {1, 3}, {}, {0, 2, 3}, {0, 1, 2, 3}}},
                                        4);
    check_against_oracle(plan, {{0, 1}}, {UnitRef{}}, {{6, 5}});
    // Spot checks by hand. Entry (0, 0): workers 0 and 1 hold it; their mean, not their sum / S.
    const std::vector<DimId> dims{0, 1};
    const Tensor before = filled(6, 5, -7.0f);
    Tensor master = before;
    std::vector<Tensor> copies;
    for (std::size_t s = 0; s < 4; ++s) copies.push_back(worker_copy(master, dims, {}, plan[s], s));
    std::vector<MergeItem> items{{&master, dims, {&copies[0], &copies[1], &copies[2], &copies[3]}}};
    HolderAverage{}.merge(items, plan);
    CHECK(master(0, 0) == doctest::Approx((copies[0](0, 0) + copies[1](0, 0)) / 2.0));
    CHECK(master(2, 3) == before(2, 3));      // row 2 is nobody's: kept bit-exactly
    CHECK(master(3, 3) == copies[2](1, 1));  // only worker 2 holds row 3: copied bit-exactly
}

TEST_CASE("aggregate: holder average with one disjoint axis scatters (a neuron partition)") {
    const Plan plan = plan_from_holders({{{2}, {0}, {1}, {3}, {0}, {}, {2}}, {{0, 1}, {1, 2, 3}, {}, {0, 3}}}, 4);
    check_against_oracle(plan, {{0, 1}, {kWholeAxis, 1}, {0, kWholeAxis}}, {UnitRef{}, UnitRef{}, UnitRef{}},
                         {{7, 4}, {3, 4}, {7, 2}});
}

TEST_CASE("aggregate: a residual block's parameters average over the workers that hold the block") {
    // Dimension 2 is the blocks: workers 0 and 2 hold block 1, workers 1 and 3 do not (their
    // copies of its parameters are empty); block 3 is held by nobody and keeps its values.
    Plan plan = plan_from_holders({{{0, 1}, {1, 2, 3}, {0, 3}, {2}},
                                   {{0, 1, 2, 3}, {1, 2}, {0, 3}},
                                   {{1, 3}, {0, 2}, {0, 1, 2, 3}, {}}},
                                  4);
    const UnitRef block1{2, 1}, block3{2, 3};
    check_against_oracle(plan, {{kWholeAxis, kWholeAxis}, {kWholeAxis, 1}, {0, 1}, {kWholeAxis, kWholeAxis}},
                         {block1, block1, block1, block3}, {{3, 4}, {2, 3}, {4, 3}, {2, 2}});
}

TEST_CASE("aggregate: an entry with one holder becomes that holder's value bit for bit, whatever it was") {
    // A master of 1e7 and copies near 0.1: old + (copy - old) / 1 would round the copy away, so
    // only a true copy passes. The plan overlaps along both axes (no scatter shortcut).
    const Plan plan = plan_from_holders({{{0, 1}, {2}, {1, 2}, {0}}, {{0}, {0, 2}, {1}, {1, 2}}}, 3);
    const std::vector<DimId> dims{0, 1};
    Tensor master = Tensor::from_shape({4, 4});
    master.fill(1e7f);
    std::vector<Tensor> copies;
    for (std::size_t s = 0; s < 3; ++s) {
        copies.push_back(worker_copy(master, dims, {}, plan[s], s));
        for (std::size_t k = 0; k < copies[s].size(); ++k)
            copies[s].data()[k] = 0.1f * static_cast<float>(s + 1) + 0.0123f * static_cast<float>(k);
    }
    std::vector<MergeItem> items{{&master, dims, {&copies[0], &copies[1], &copies[2]}}};
    HolderAverage{}.merge(items, plan);
    std::size_t single = 0;
    for (std::size_t i = 0; i < 4; ++i)
        for (std::size_t j = 0; j < 4; ++j) {
            std::vector<float> held;  // the copies of the workers that hold (i, j)
            for (std::size_t s = 0; s < 3; ++s) {
                const long r = position(plan[s].dims[0], i), c = position(plan[s].dims[1], j);
                if (r >= 0 && c >= 0) held.push_back(copies[s](static_cast<std::size_t>(r), static_cast<std::size_t>(c)));
            }
            CAPTURE(i);
            CAPTURE(j);
            if (held.size() == 1) {
                ++single;
                CHECK(master(i, j) == held[0]);
            } else if (held.empty()) {
                CHECK(master(i, j) == 1e7f);
            }
        }
    CHECK(single >= 4);
}

TEST_CASE("aggregate: FedAvg weighting averages each entry over its holders in proportion to their samples") {
    const std::vector<double> samples{600, 50, 300, 1000};
    const Plan overlapping = plan_from_holders({{{0, 1}, {0, 1, 2}, {}, {2}, {1, 2, 3}, {3, 0}},
                                                {{0, 1, 2}, {1, 3}, {}, {0, 2, 3}, {0, 1, 2, 3}}},
                                               4);
    check_against_oracle(overlapping, {{0, 1}}, {UnitRef{}}, {{6, 5}}, samples);
    Plan blocks = plan_from_holders({{{0, 1}, {1, 2, 3}, {0, 3}, {2}}, {{0, 1, 2, 3}, {1, 2}, {0, 3}},
                                     {{1, 3}, {0, 2}, {0, 1, 2, 3}, {}}},
                                    4);
    const UnitRef block1{2, 1}, block3{2, 3};
    check_against_oracle(blocks, {{kWholeAxis, kWholeAxis}, {0, 1}, {kWholeAxis, kWholeAxis}}, {block1, block1, block3},
                         {{3, 4}, {4, 3}, {2, 2}}, samples);
    // By hand: entry (0, 0) is held by workers 0 (600 samples) and 1 (50 samples).
    const std::vector<DimId> dims{0, 1};
    Tensor master = filled(6, 5, -7.0f);
    std::vector<Tensor> copies;
    for (std::size_t s = 0; s < 4; ++s) copies.push_back(worker_copy(master, dims, {}, overlapping[s], s));
    std::vector<MergeItem> items{{&master, dims, {&copies[0], &copies[1], &copies[2], &copies[3]}}};
    HolderAverage fedavg(HolderAverage::Weighting::BySamples);
    fedavg.merge(items, MergeContext(overlapping, samples));
    CHECK(master(0, 0) == doctest::Approx((600.0 * 100.0 + 50.0 * 200.0) / 650.0).epsilon(1e-6));
}

TEST_CASE("aggregate: FedAvg weighting with equal sample counts is the equal-weight average bit for bit") {
    const Plan plan = plan_from_holders({{{0, 1}, {0, 1, 2}, {}, {2}, {1, 2, 3}, {3, 0}},
                                         {{0, 1, 2}, {1, 3}, {}, {0, 2, 3}, {0, 1, 2, 3}}},
                                        4);
    const std::vector<DimId> dims{0, 1};
    auto merged = [&](HolderAverage average, const std::vector<double>& samples) {
        Tensor master = filled(6, 5, -7.0f);
        std::vector<Tensor> copies;
        for (std::size_t s = 0; s < 4; ++s) {
            copies.push_back(worker_copy(master, dims, {}, plan[s], s));
            copies.back() *= 1.0f + 0.013f * static_cast<float>(s);  // values whose mean rounds
        }
        std::vector<MergeItem> items{{&master, dims, {&copies[0], &copies[1], &copies[2], &copies[3]}}};
        average.merge(items, MergeContext(plan, samples));
        return master;
    };
    const HolderAverage fedavg(HolderAverage::Weighting::BySamples);
    const Tensor equal = merged(HolderAverage{}, {}), weighted = merged(fedavg, {750, 750, 750, 750});
    CHECK(std::equal(equal.begin(), equal.end(), weighted.begin()));
    const Tensor skewed = merged(fedavg, {750, 751, 750, 750});
    CHECK_FALSE(std::equal(equal.begin(), equal.end(), skewed.begin()));
}

TEST_CASE("aggregate: bad sample counts are refused, naming the value") {
    HolderAverage fedavg(HolderAverage::Weighting::BySamples);
    const Plan plan = plan_from_holders({{{0}, {1}}}, 2);
    Tensor master = filled(2, 1, 1.0f), first = filled(1, 1, 2.0f), second = filled(1, 1, 3.0f);
    const std::vector<DimId> dims{0, kWholeAxis};
    std::vector<MergeItem> items{{&master, dims, {&first, &second}}};
    const std::vector<double> samples{10, 0};
    CHECK_THROWS_WITH_AS(fedavg.merge(items, MergeContext(plan, samples)),
                         "HolderAverage: a worker's sample count is 0.000000; counts must be positive", ConfigError);
    CHECK(master(0, 0) == 1.0f);  // refused before anything merged
}

namespace {
/// HolderAverage that records the sample counts the trainer passes with each merge.
struct RecordingAverage : HolderAverage {
    RecordingAverage() : HolderAverage(Weighting::BySamples) {}
    std::shared_ptr<std::vector<std::vector<double>>> seen = std::make_shared<std::vector<std::vector<double>>>();
    void merge(std::span<MergeItem> items, const MergeContext& round) {
        seen->emplace_back(round.samples.begin(), round.samples.end());
        HolderAverage::merge(items, round);
    }
};
}  // namespace

TEST_CASE("aggregate: the trainer passes each worker's client rows to a FedAvg-weighted merge") {
    const Dataset train = test::blobs(600, 12, 3, 1), test_set = test::blobs(150, 12, 3, 2);
    TrainerOptions o = test::test_options(3, 2, 4, 16, 3);
    o.sampling = Sampling::Clients;
    ClientShards clients(6);
    for (std::uint32_t r = 0; r < 600; ++r) clients[r < 300 ? 0 : 1 + r % 5].push_back(r);  // 300, then 60 each
    Network net = make_mlp({12, {16}, 3});
    RecordingAverage recording;
    IstTrainer trainer(net, o, NeuronPartition(), Sgd(0.05f), recording);
    trainer.set_clients(clients);
    trainer.train(train, test_set);
    REQUIRE(recording.seen->size() == 4);
    for (std::size_t round = 1; round <= 4; ++round) {
        const auto picked = select_clients(clients, o, round);
        std::vector<double> expected;
        for (std::size_t c : picked) expected.push_back(static_cast<double>(clients[c].size()));
        CHECK((*recording.seen)[round - 1] == expected);
    }
}
