#pragma once
// The workers' data streams: which rows (or clusters) each worker draws its local batches from,
// and where each stream stands. Where they stand (StreamPositions) is what a checkpoint saves
// besides the model; the checkpoint format serialises it (train/checkpoint_file.hpp).
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <span>
#include <utility>
#include <vector>

#include "ist/core/error.hpp"
#include "ist/sampling/batch_sampler.hpp"
#include "ist/sampling/client_selection.hpp"
#include "ist/core/trainer_options.hpp"
#include "ist/sampling/worker_rows.hpp"

namespace ist {

/// The streams the workers of one round draw from: worker s draws from `sampler[s]`, a copy of
/// its stream (its own, or with Sampling::Clients its client's) taken when the round begins. No
/// stream moves while a round runs (a straggler may still draw from its copy after the round is
/// over); the round's outcome moves them (WorkerStreams::end_round).
struct RoundStreams {
    std::vector<BatchSampler> sampler;  ///< per worker
    std::vector<std::size_t> clients;   ///< Sampling::Clients: the client each worker serves
};

/// Where every stream stands: the training rows they were built for and each stream (one per
/// worker, or one per client with Sampling::Clients).
struct StreamPositions {
    std::uint64_t sampled_rows = 0;
    std::vector<BatchSampler> samplers;
};

class WorkerStreams {
public:
    explicit WorkerStreams(const TrainerOptions& options) : options_(options) {}

    /// Sampling::Clients: the rows of every client (see ist/data/clients.hpp), checked against the
    /// training set in prepare(). Replaces the clients' streams.
    void set_clients(ClientShards shards) {
        client_rows_ = std::move(shards);
        client_samplers_.clear();
    }
    const ClientShards& clients() const { return client_rows_; }

    /// Indexes the clusters of `train` (Batches::Clusters) and builds every worker's sampler,
    /// unless streams for as many items already exist (a second train() or a restored checkpoint
    /// continues them).
    void prepare(const Dataset& train) {
        if (options_.sampling == Sampling::Clients) return prepare_clients(train);
        if (options_.batches == Batches::Clusters) index_clusters(train);
        build_samplers(options_.batches == Batches::Clusters ? cluster_rows_.size() : train.size());
    }

    /// The same for a set known by its row count alone (a SparseDataset or RegressionSet: batches
    /// of rows, or the whole set; no clusters, no clients).
    void prepare_rows(std::size_t rows) {
        detail::require(options_.batches != Batches::Clusters && options_.sampling != Sampling::Clients,
                        "sparse and regression data sets are drawn in batches of rows or whole (Batches::Rows or "
                        "FullSet), not by clusters or clients");
        build_samplers(rows);
    }

    /// The rows of the next local batch of a set known by its row count (see prepare_rows): every
    /// row in order with Batches::FullSet, else batch_size rows from `sampler`.
    void draw_rows(BatchSampler& sampler, std::size_t rows_in_set, std::vector<std::uint32_t>& rows) const {
        if (options_.batches == Batches::FullSet) return every_row(rows_in_set, rows);
        rows = sampler.take(options_.batch_size);
    }

    /// Whether prepare() (or restore()) has built the streams.
    bool ready() const { return !streams().empty(); }

    /// How many streams a checkpoint holds: one per worker, or one per client (Sampling::Clients).
    std::size_t stream_count() const {
        return options_.sampling == Sampling::Clients ? client_rows_.size() : options_.workers;
    }

    /// The streams of round `round` (1-based): copies of each worker's own, or of the clients that
    /// select_clients() picks for the round.
    RoundStreams begin_round(std::size_t round) const {
        RoundStreams r;
        if (options_.sampling != Sampling::Clients) {
            r.sampler = samplers_;
            return r;
        }
        r.clients = select_clients(client_rows_, options_, round);
        for (std::size_t c : r.clients) r.sampler.push_back(client_samplers_.at(c));
        return r;
    }

    /// Closes round `r`: the stream of every worker in `completed` moves past the round's l local
    /// batches, the rest stay where they were. The same on every process whoever ran the worker
    /// (MPI: another rank, whose draws are replayed here: the same row or cluster indices, no
    /// data copied), so every process keeps every stream (a checkpoint saves them all; a client
    /// may be served from another rank next round). A dropped worker's draws are discarded with
    /// its subnet; with Sampling::Clients its client's stream stays for the next round it serves.
    void end_round(const RoundStreams& r, std::span<const std::size_t> completed) {
        for (std::size_t s : completed) {
            BatchSampler& stream = r.clients.empty() ? samplers_.at(s) : client_samplers_.at(r.clients.at(s));
            for (std::size_t t = 0; t < options_.local_steps; ++t) skip_batch(stream);
        }
    }

    /// The next local batch from `sampler` (a worker's stream of RoundStreams): its features and
    /// labels (the data set's own with Batches::FullSet, else copies in x / y) and its row numbers
    /// in `rows`. Workers may draw concurrently, each from its own stream.
    std::pair<const Matrix*, const Labels*> draw_batch(BatchSampler& sampler, const Dataset& data, Matrix& x, Labels& y,
                                                       std::vector<std::uint32_t>& rows) const {
        switch (options_.batches) {
        case Batches::FullSet:
            every_row(data.size(), rows);
            return {&data.features, &data.labels};
        case Batches::Clusters:
            rows.clear();
            append_batch_rows(sampler, rows);
            std::sort(rows.begin(), rows.end());
            copy_rows(data, rows, x, y);
            return {&x, &y};
        case Batches::Rows: break;
        }
        sampler.next(data, options_.batch_size, x, y, &rows);
        return {&x, &y};
    }

    /// The rows of the l local batches `sampler` is about to give, drawn from a copy (the stream
    /// does not move): what a partitioner that plans on the round's batches sees (PlansOnBatches).
    std::vector<std::uint32_t> peek_round_rows(BatchSampler sampler) const {
        std::vector<std::uint32_t> rows;
        if (options_.batches == Batches::FullSet) {
            every_row(sampled_rows_, rows);
            return rows;
        }
        for (std::size_t t = 0; t < options_.local_steps; ++t) append_batch_rows(sampler, rows);
        return rows;
    }

    /// Advances `sampler` past one local batch as draw_batch() would, drawing only the indices.
    void skip_batch(BatchSampler& sampler) const {
        if (options_.batches != Batches::FullSet) sampler.take(batch_items());
    }

    /// Where the streams stand (what a checkpoint saves).
    StreamPositions positions() const { return {sampled_rows_, streams()}; }

    /// Continues from `positions` (a checkpoint's, read for stream_count() streams).
    void restore(StreamPositions positions) {
        sampled_rows_ = positions.sampled_rows;
        (options_.sampling == Sampling::Clients ? client_samplers_ : samplers_) = std::move(positions.samplers);
    }

private:
    /// rows = 0, 1, ..., n - 1: a Batches::FullSet batch (under FullSet `rows` holds nothing else,
    /// so one of the right size already is it).
    static void every_row(std::size_t n, std::vector<std::uint32_t>& rows) {
        if (rows.size() == n) return;
        rows.resize(n);
        std::iota(rows.begin(), rows.end(), 0u);
    }

    /// How many items (rows, or clusters with Batches::Clusters) one local batch takes from a stream.
    std::size_t batch_items() const {
        return options_.batches == Batches::Clusters ? options_.clusters_per_batch : options_.batch_size;
    }

    /// Takes one local batch's items from `sampler` and appends their rows to `rows` (not FullSet).
    void append_batch_rows(BatchSampler& sampler, std::vector<std::uint32_t>& rows) const {
        const std::vector<std::uint32_t>& items = sampler.take(batch_items());
        if (options_.batches == Batches::Rows) {
            rows.insert(rows.end(), items.begin(), items.end());
            return;
        }
        for (std::uint32_t c : items) rows.insert(rows.end(), cluster_rows_[c].begin(), cluster_rows_[c].end());
    }

    const std::vector<BatchSampler>& streams() const {
        return options_.sampling == Sampling::Clients ? client_samplers_ : samplers_;
    }

    /// Every worker's sampler over `items` rows or clusters, unless streams for as many exist.
    void build_samplers(std::size_t items) {
        if (!samplers_.empty() && sampled_rows_ == items) return;
        sampled_rows_ = items;
        auto pools = worker_row_pools(items, options_);
        samplers_.clear();
        for (std::size_t s = 0; s < pools.size(); ++s) samplers_.push_back(worker_sampler(std::move(pools[s]), options_, s));
    }

    /// Sampling::Clients: one stream per client over its rows, unless they already exist.
    void prepare_clients(const Dataset& train) {
        detail::require(options_.batches == Batches::Rows, "Sampling::Clients draws batches of rows (Batches::Rows)");
        detail::require(!client_rows_.empty(), "Sampling::Clients needs the clients' rows: call set_clients() before train()");
        check_clients(client_rows_, options_.workers, train.size());
        if (!client_samplers_.empty() && sampled_rows_ == train.size()) return;
        sampled_rows_ = train.size();
        client_samplers_.clear();
        const std::uint64_t seed = detail::derive_seed(options_.seed, detail::kClientDataStream);
        for (std::size_t c = 0; c < client_rows_.size(); ++c)
            client_samplers_.emplace_back(client_rows_[c], detail::derive_seed(seed, c));
    }

    /// Batches::Clusters: the rows of every cluster of the training set.
    void index_clusters(const Dataset& train) {
        if (train.clusters.empty())
            throw DataError(train.name + ": Batches::Clusters needs a cluster id per row (Dataset::clusters)");
        const std::uint32_t count = *std::max_element(train.clusters.begin(), train.clusters.end()) + 1;
        cluster_rows_.assign(count, {});
        for (std::size_t r = 0; r < train.size(); ++r) cluster_rows_[train.clusters[r]].push_back(static_cast<std::uint32_t>(r));
    }

    TrainerOptions options_;
    std::vector<BatchSampler> samplers_;         ///< per worker (Shards, WholeSet)
    ClientShards client_rows_;                   ///< Sampling::Clients: per client ...
    std::vector<BatchSampler> client_samplers_;  ///< ... and its stream
    std::vector<std::vector<std::uint32_t>> cluster_rows_;
    std::size_t sampled_rows_ = 0;
};

}  // namespace ist
