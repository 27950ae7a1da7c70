#pragma once
// A worker's part of a round of IST (Yuan et al. 2019; Wolfe et al.): l local steps on its subnet,
// each on the next batch of its own data stream, with the round's copy of the local optimizer.
// IstTrainer makes a LocalTraining view each round and hands the workers only that, so the loop
// over rounds (trainer.hpp) stays apart from what one worker does within a round.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ist/aggregate/aggregator.hpp"
#include "ist/codec/codec.hpp"
#include "ist/core/error.hpp"
#include "ist/core/plan.hpp"
#include "ist/data/dataset.hpp"
#include "ist/data/sparse_dataset.hpp"
#include "ist/detail/gather.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/exchange/round.hpp"
#include "ist/model/model.hpp"
#include "ist/optim/optimizer.hpp"
#include "ist/exchange/exchange.hpp"
#include "ist/exchange/exchange_coding.hpp"
#include "ist/core/trainer_options.hpp"
#include "ist/sampling/training_set.hpp"
#include "ist/sampling/worker_streams.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail {

/// What the workers' local steps need of the trainer; a view, valid while the trainer lives.
/// The aggregator `A` may take part in every step (its AveragesGradients hook, data parallel).
template <Model M, LocalOptimizer O, Codec C, Aggregator A>
class LocalTraining {
public:
    using WorkerPackage = ist::WorkerPackage<M, C>;

    /// `input_span`: columns per index of the model's input dimension (GIST's split input).
    LocalTraining(const TrainerOptions& options, const WorkerStreams& streams, ExchangeCoding<M, C>& coding,
                  const A& aggregator, std::size_t input_span, bool carries_state)
        : options_(options), streams_(streams), coding_(coding), aggregator_(aggregator), input_span_(input_span),
          carries_state_(carries_state) {}

    /// Worker comm.worker()'s local steps of `round` on `pkg`, cut with its plan, drawing from its
    /// stream of the round; `optimizer` is the round's copy of the prototype, taken when it starts.
    template <TrainingSet Data>
    void run(WorkerPackage& pkg, Communicator& comm, const Data& data, Round<WorkerPackage>& round,
             const O& optimizer) const {
        if constexpr (kReplicasOf<A> == Replicas::PerRound) detail::deliver_in_process(pkg);  // unless its bytes did
        const GemmPrecisionGuard precision(options_.precision);  // this worker thread's GEMMs
        const WorkerPlan& plan = round.plan.at(comm.worker());
        BatchSampler& sampler = round.streams.sampler.at(comm.worker());
        const auto params = parameter_pointers(pkg.model);
        CarriedState carried;
        if (carries_state_) carried = {std::move(pkg.optimizer_state), round.steps_before};
        auto run = optimizer.start(params, std::move(carried));
        LocalBatch<Data> batch;
        std::vector<std::uint32_t> rows;
        double loss_sum = 0.0;
        for (std::size_t t = 0; t < options_.local_steps; ++t) {
            const auto [features, labels] = draw_local_batch(sampler, data, plan, batch, rows);
            if constexpr (TakesBatchRows<M>) pkg.model.set_batch_rows(rows);
            const float loss = pkg.model.loss_and_gradient(*features, *labels);
            if (!std::isfinite(loss))
                throw TrainingError("round " + std::to_string(round.number) + ", worker " +
                                    std::to_string(comm.worker()) + ", local step " + std::to_string(t + 1) +
                                    ": the loss is " + std::to_string(loss) + "; lower the learning rate");
            if constexpr (AveragesGradients<A>) {
                auto exchange = coding_.gradient_exchange(comm, round.steps_before + t + 1);
                aggregator_.average_gradients(params, exchange);
                if constexpr (TracksGradientWrites<M>) pkg.model.gradients_overwritten();
            }
            run.step(params);
            if constexpr (ProjectsParameters<M>) pkg.model.project_parameters();  // e.g. pruned weights back to 0
            loss_sum += loss;
        }
        pkg.stats = {loss_sum, static_cast<double>(options_.local_steps)};
        if (carries_state_) pkg.optimizer_state = run.take_state().tensors;
        // Refused here, inside the worker's work, so every transport reports it as this worker's failure
        // (on every process), before anything merges.
        if constexpr (WorkerPackage::kCodable)
            if (pkg.coded()) pkg.coding.check_encodable(pkg.tensors());
        check_finite(pkg, comm.worker());
    }

private:
    /// GIST's "split input features": a worker holding part of the input sees only its columns.
    std::optional<std::vector<std::uint32_t>> held_input_columns(const WorkerPlan& plan) const {
        if (!plan.dims.front()) return std::nullopt;
        return expand_indices(*plan.dims.front(), input_span_);
    }

    /// The next local batch of a dense set: its features (only the held input columns, if the
    /// plan cuts the input) and labels.
    std::pair<const Matrix*, const Labels*> draw_local_batch(BatchSampler& sampler, const Dataset& data,
                                                             const WorkerPlan& plan, LocalBatch<Dataset>& batch,
                                                             std::vector<std::uint32_t>& rows) const {
        auto [features, labels] = streams_.draw_batch(sampler, data, batch.x, batch.y, rows);
        if (const auto columns = held_input_columns(plan)) {
            select_columns(*features, *columns, batch.x_held);
            features = &batch.x_held;
        }
        return {features, labels};
    }

    /// The next local batch of a sparse set, gathered as CSR: rows drawn from the same stream
    /// (Batches::Rows), or every row (FullSet); the input is never cut.
    std::pair<const CsrMatrix*, const LabelSets*> draw_local_batch(BatchSampler& sampler, const SparseDataset& data,
                                                                   const WorkerPlan& plan,
                                                                   LocalBatch<SparseDataset>& batch,
                                                                   std::vector<std::uint32_t>& rows) const {
        if (held_input_columns(plan)) throw ConfigError("a sparse input layer is never cut: the plan cuts dimension 0");
        streams_.draw_rows(sampler, data.size(), rows);
        gather_rows(data, rows, batch.x, batch.y);
        return {&batch.x, &batch.y};
    }

    /// The next local batch of a regression set: its features and targets (the set's own with
    /// Batches::FullSet, else gathered copies); the input is never cut.
    std::pair<const Matrix*, const Matrix*> draw_local_batch(BatchSampler& sampler, const RegressionSet& data,
                                                             const WorkerPlan& plan, LocalBatch<RegressionSet>& batch,
                                                             std::vector<std::uint32_t>& rows) const {
        if (held_input_columns(plan)) throw ConfigError("a regression model's input is never cut: the plan cuts dimension 0");
        streams_.draw_rows(sampler, data.size(), rows);
        if (options_.batches == Batches::FullSet) return {&data.features, &data.targets};
        gather_rows(data, rows, batch.x, batch.y);
        return {&batch.x, &batch.y};
    }

    const TrainerOptions& options_;
    const WorkerStreams& streams_;
    ExchangeCoding<M, C>& coding_;
    const A& aggregator_;
    std::size_t input_span_;
    bool carries_state_;
};

}  // namespace ist::detail
