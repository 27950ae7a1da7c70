#pragma once
// The workers' data streams: which rows (or clusters) each worker draws its local batches from,
// and where each stream stands. Their state is what a checkpoint saves besides the model.
#include <algorithm>
#include <numeric>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/data/dataset.hpp"
#include "ist/train/checkpoint_file.hpp"
#include "ist/train/options.hpp"
#include "ist/train/worker_rows.hpp"

namespace ist {

class WorkerStreams {
public:
    explicit WorkerStreams(const TrainerOptions& options) : options_(options) {}

    /// Indexes the clusters of `train` (Batches::Clusters) and builds every worker's sampler,
    /// unless streams for as many items already exist (a second train() or a restored checkpoint
    /// continues them).
    void prepare(const Dataset& train) {
        if (options_.batches == Batches::Clusters) index_clusters(train);
        const std::size_t items = options_.batches == Batches::Clusters ? cluster_rows_.size() : train.size();
        if (samplers_.empty() || sampled_rows_ != items) {
            sampled_rows_ = items;
            auto pools = worker_row_pools(items, options_);
            samplers_.clear();
            for (std::size_t s = 0; s < pools.size(); ++s) samplers_.push_back(worker_sampler(std::move(pools[s]), options_, s));
        }
    }

    /// Whether prepare() (or restore()) has built the streams.
    bool ready() const { return !samplers_.empty(); }

    /// The next local batch of `worker`: its features and labels (the data set's own with
    /// Batches::FullSet, else copies in x / y) and its row numbers in `rows`. Workers may draw
    /// concurrently, each from its own stream.
    std::pair<const Matrix*, const Labels*> draw_batch(std::size_t worker, const Dataset& data, Matrix& x, Labels& y,
                                                       std::vector<std::uint32_t>& rows) {
        BatchSampler& sampler = samplers_.at(worker);
        switch (options_.batches) {
        case Batches::FullSet:
            if (rows.size() != data.size()) {
                rows.resize(data.size());
                std::iota(rows.begin(), rows.end(), 0u);
            }
            return {&data.features, &data.labels};
        case Batches::Clusters:
            rows.clear();
            for (std::uint32_t c : sampler.take(options_.clusters_per_batch))
                rows.insert(rows.end(), cluster_rows_[c].begin(), cluster_rows_[c].end());
            std::sort(rows.begin(), rows.end());
            BatchSampler::copy_rows(data, rows, x, y);
            return {&x, &y};
        case Batches::Rows: break;
        }
        sampler.next(data, options_.batch_size, x, y, &rows);
        return {&x, &y};
    }

    /// Copies the streams' state into a checkpoint's run state.
    void save(RunState& state) const {
        state.sampled_rows = sampled_rows_;
        state.samplers = samplers_;
    }

    /// Takes the streams' state (its samplers moved out) from a checkpoint read by read_checkpoint.
    void restore(RunState& state) {
        sampled_rows_ = state.sampled_rows;
        samplers_ = std::move(state.samplers);
    }

private:
    /// Batches::Clusters: the rows of every cluster of the training set.
    void index_clusters(const Dataset& train) {
        if (train.clusters.empty())
            throw DataError(train.name + ": Batches::Clusters needs a cluster id per row (Dataset::clusters)");
        const std::uint32_t count = *std::max_element(train.clusters.begin(), train.clusters.end()) + 1;
        cluster_rows_.assign(count, {});
        for (std::size_t r = 0; r < train.size(); ++r) cluster_rows_[train.clusters[r]].push_back(static_cast<std::uint32_t>(r));
    }

    TrainerOptions options_;
    std::vector<BatchSampler> samplers_;
    std::vector<std::vector<std::uint32_t>> cluster_rows_;
    std::size_t sampled_rows_ = 0;
};

}  // namespace ist
