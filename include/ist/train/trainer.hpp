#pragma once
// IstTrainer: the IST meta-algorithm (Yuan et al. 2019; Wolfe et al.) over compile-time policies.
//
//   for t in rounds:  plan = Partitioner(dims, S);  each worker s trains model.subnet(plan[s])
//                     for l local steps with LocalOptimizer;  model = Aggregator(subnets)
//
// Data parallel and local SGD are other policy choices of the same loop (see ist/baselines.hpp).
// The pieces live beside it: the workers' data streams (worker_streams.hpp), what travels each
// round (exchange.hpp; coded by the Codec policy: exchange_coding.hpp) and evaluation (evaluate.hpp).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "ist/aggregate/holder_average.hpp"
#include "ist/codec/fp32.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/seed.hpp"
#include "ist/model/model.hpp"
#include "ist/model/network.hpp"
#include "ist/optim/sgd.hpp"
#include "ist/partition/neuron_partition.hpp"
#include "ist/train/callback.hpp"
#include "ist/train/checkpoint_file.hpp"
#include "ist/train/evaluate.hpp"
#include "ist/train/exchange.hpp"
#include "ist/train/exchange_coding.hpp"
#include "ist/train/metrics.hpp"
#include "ist/train/options.hpp"
#include "ist/train/parameter_shards.hpp"
#include "ist/train/schedule.hpp"
#include "ist/train/training_set.hpp"
#include "ist/train/worker_streams.hpp"
#include "ist/transport/threads.hpp"

namespace ist {

template <Model M = Network, Partitioner P = NeuronPartition, LocalOptimizer O = Sgd, Aggregator A = HolderAverage,
          Transport T = ThreadsTransport, Codec C = Fp32>
class IstTrainer {
public:
    using ModelType = M;

    /// What travels between the coordinator and a worker each round.
    using WorkerPackage = ist::WorkerPackage<M, C>;

    /// Trains `model` in place (the trainer keeps a reference; the model must outlive it).
    /// `codec` codes the subnets both ways (Fp32, the default: exact, nothing is coded).
    explicit IstTrainer(M& model, TrainerOptions options = TrainerOptions(), P partitioner = P(),
                        O optimizer = O(), A aggregator = A(), T transport = T(), C codec = C())
        : model_(model), options_(options), partitioner_(std::move(partitioner)), optimizer_(std::move(optimizer)),
          aggregator_(std::move(aggregator)), transport_(std::move(transport)), coding_(std::move(codec), options, A::synchronises_gradients),
          partition_rng_(options.seed), streams_(options) {
        options_.validate();
        optimizer_.validate();
        coding_.validate(WorkerPackage::kCodable);
        partitioner_.validate(model_.dimensions(), options_.workers);
        transport_.handshake(options_.workers, model_.parameter_count(), fingerprint());
        apply_unit_scales();
    }

    /// Trains until rounds_done() reaches options().rounds (a run resumed from a checkpoint does
    /// only the rounds left; raise the total with set_rounds() to go on), evaluating on `test`
    /// every options().eval_every rounds. Invalid data throws before the model is touched; a
    /// failing round throws and leaves the model as it was before that round.
    /// Distributed transports: only the coordinator evaluates and calls the callbacks; every
    /// process takes the coordinator's stop decision and ends with the coordinator's model.
    /// `Data` is a Dataset, or a SparseDataset for a SparseModel (extreme classification).
    template <TrainingSet Data, class... Callbacks>
        requires TrainsOn<M, Data>
    TrainResult train(const Data& train, const Data& test, Callbacks&&... callbacks) {
        check_data_fits(model_, train);
        check_data_fits(model_, test);
        prepare_workers(train);
        const bool coordinator = transport_.is_coordinator();
        TrainResult result;
        if (coordinator) (detail::callback_train_begin(callbacks, *this), ...);
        training_ = true;
        const struct Done {
            bool& training;
            ~Done() { training = false; }
        } done{training_};
        while (rounds_done_ < options_.rounds) {
            RoundMetrics m = run_round(train);
            m.rounds = options_.rounds;
            const bool last = rounds_done_ == options_.rounds;
            const bool evaluating = last || (options_.eval_every && m.round % options_.eval_every == 0);
            if (evaluating) gather_shards();
            if (coordinator && evaluating) m.test = evaluate(test);
            result.history.push_back(m);
            bool stop = false;
            if (coordinator) ((stop = detail::callback_round_end(callbacks, m, *this) || stop), ...);
            stop = transport_.agree(stop);
            write_pending_checkpoint();
            if (stop && !last) {
                result.stopped_early = true;
                gather_shards();
                if (coordinator && !m.test) result.history.back().test = evaluate(test);
                break;
            }
        }
        wait_for_stragglers();  // nothing may run on the data after train() returns
        if (result.history.empty()) {  // nothing left to train (a finished run resumed): just evaluate
            RoundMetrics m;
            m.round = m.rounds = rounds_done_;
            if (coordinator) m.test = evaluate(test);
            result.history.push_back(m);
        }
        gather_shards();
        transport_.broadcast(full_state());  // every process ends with the coordinator's model
        result.final_test = result.history.back().test;
        if (coordinator) (detail::callback_train_end(callbacks, result), ...);
        return result;
    }

    /// Loss and accuracy of the full model on the labelled rows of `data` (see ist::evaluate).
    template <TrainingSet Data>
        requires TrainsOn<M, Data>
    Evaluation evaluate(const Data& data) {
        return ist::evaluate(model_, data, options_);
    }

    /// Writes the model, carried optimizer state, counters and every RNG state to `path`
    /// atomically (see ist/train/checkpoint_file.hpp for the format). Call between rounds, e.g. from
    /// the Checkpoint callback, after train() has set up the workers.
    /// Distributed runs with error feedback: call it from a round-end callback; the file is
    /// written once the round's callbacks are done and every worker's residuals are gathered.
    /// A sharded parameter node likewise writes it once every rank's shard is gathered.
    void save_checkpoint(const std::string& path) {
        detail::require(streams_.ready(), "save_checkpoint: nothing to save before train() has started");
        if (shards_.active() && training_) {
            pending_checkpoint_ = path;
            return;
        }
        if (coding_.residuals_on_workers(kInProcess)) {
            if (!training_)
                throw ConfigError("save_checkpoint: with error feedback over a distributed transport, checkpoint from "
                                  "a round-end callback of train() (e.g. ist::Checkpoint), where the workers' ranks "
                                  "hand over their residuals");
            pending_checkpoint_ = path;
            return;
        }
        write_checkpoint_file(path);
    }

    /// Restores a checkpoint written by save_checkpoint for the same model shapes and options;
    /// the next train() continues exactly where that run stopped. On error nothing changes.
    void load_checkpoint(const std::string& path) {
        allocate_optimizer_state();
        coding_.allocate(model_, carried_per_parameter(), options_.workers);
        RunState state;
        state.optimizer_state = master_state_;
        state.codec = coding_.description();
        state.residuals = coding_.saved();
        read_checkpoint(path, model_, state, streams_.stream_count());
        std::istringstream rng(state.partition_rng);
        PartitionRng partition_rng;
        rng >> partition_rng;
        if (rng.fail()) throw DataError(path + "[partition_rng]: corrupt RNG state");
        partition_rng_ = partition_rng;
        rounds_done_ = state.rounds_done;
        steps_taken_ = state.steps_taken;
        total_bytes_ = state.total_bytes;
        seconds_ = state.seconds;
        streams_.restore(state);
        master_state_ = std::move(state.optimizer_state);
        coding_.restore(std::move(state.residuals));
    }

    /// Sets the learning rate of round r (1-based) to `schedule(r, base)`, base being the
    /// optimizer's rate now. Applied on every process before the workers copy the optimizer, so
    /// it is the same under every transport and on resume. See step_decay (schedule.hpp).
    void set_schedule(LearningRateSchedule schedule) {
        base_learning_rate_ = optimizer_.learning_rate();
        schedule_ = std::move(schedule);
    }

    /// Sampling::Clients (federated): the rows each client owns (ist/data/clients.hpp deals them,
    /// IID or skewed). Each round S of them are drawn (TrainerOptions::client_selection) from the
    /// seed and the round alone, so every rank agrees; worker s trains on its client's rows. A
    /// client's stream advances only when its worker completes the round.
    void set_clients(ClientShards shards) { streams_.set_clients(std::move(shards)); }

    /// Changes the total number of rounds train() runs to.
    void set_rounds(std::size_t rounds) {
        detail::require(rounds > 0, "set_rounds: rounds must be at least 1");
        options_.rounds = rounds;
    }

    M& model() { return model_; }
    const TrainerOptions& options() const { return options_; }
    P& partitioner() { return partitioner_; }
    O& optimizer() { return optimizer_; }  ///< the prototype each worker copies every round
    A& aggregator() { return aggregator_; }
    T& transport() { return transport_; }
    const C& codec() const { return coding_.codec(); }
    std::size_t rounds_done() const { return rounds_done_; }
    std::uint64_t total_bytes() const { return total_bytes_; }
    double seconds() const { return seconds_; }

private:
    /// What every process of a distributed run must agree on (checked by Transport::handshake).
    std::uint64_t fingerprint() const {
        Fingerprint f;
        for (std::size_t i = 0; i < model_.parameter_count(); ++i) {
            f.add(model_.parameter(i).value.dimension());
            for (std::size_t n : model_.parameter(i).value.shape()) f.add(n);
        }
        f.add(options_.workers).add(options_.local_steps).add(options_.rounds).add(options_.batch_size);
        f.add(options_.seed).add(options_.sampling).add(options_.optimizer_state).add(options_.scale_activations);
        if (options_.sampling == Sampling::Clients) f.add(options_.client_selection);
        f.add(options_.batches).add(options_.clusters_per_batch);
        if (coding_.description() != "fp32") f.add(coding_.description());  // uncoded runs keep their fingerprint
        return f.value();
    }

    static constexpr bool kInProcess = std::derived_from<T, ThreadsTransport>;

    bool carries_state() const {
        return options_.optimizer_state == OptimizerState::Carry && O::state_per_parameter > 0;
    }

    /// Optimizer state tensors per parameter that travel with the subnets (0 unless carried).
    std::size_t carried_per_parameter() const { return carries_state() ? O::state_per_parameter : 0; }

    /// save_checkpoint's file (in a distributed run, on the coordinator).
    void write_checkpoint_file(const std::string& path) {
        wait_for_stragglers();  // their data streams must be at rest
        RunState state{rounds_done_, steps_taken_, total_bytes_, 0, seconds_, {}, {}, master_state_,
                       coding_.description(), coding_.saved()};
        streams_.save(state);
        std::ostringstream rng;
        rng << partition_rng_;
        state.partition_rng = rng.str();
        write_checkpoint(path, model_, state);
    }

    /// A distributed run with error feedback: the checkpoint the coordinator's callbacks asked
    /// for this round, written once it holds every worker's residuals (every rank takes part).
    void write_pending_checkpoint() {
        const bool deferred = coding_.residuals_on_workers(kInProcess) || shards_.active();
        if (!deferred || !transport_.agree(!pending_checkpoint_.empty())) return;
        gather_shards();
        if (coding_.residuals_on_workers(kInProcess)) coding_.gather_residuals(transport_);
        if (transport_.is_coordinator()) write_checkpoint_file(std::exchange(pending_checkpoint_, std::string()));
    }

    /// The model and carried optimizer state, as packages order their tensors.
    std::vector<Tensor*> full_state() {
        std::vector<Tensor*> out = parameter_values(model_);
        for (auto& t : master_state_) out.push_back(&t);
        return out;
    }

    /// A sharded parameter node: every process sends its shard to the coordinator (no-op otherwise).
    void gather_shards() { shards_.gather(transport_, full_state()); }

    /// Workers a fault-tolerant transport dropped may still be running: wait for them.
    void wait_for_stragglers() {
        if constexpr (HasStragglers<T>) transport_.wait_idle();
    }

    /// ResIST: the full model evaluates every block, each partitioned branch scaled as the
    /// partitioner says (1/S by default), since each was trained in 1/S of the subnets. Every
    /// trainer sets every block's scale, 1 when its partitioner has no unit_scale, so a model
    /// fine-tuned by another trainer does not keep an earlier trainer's scales.
    void apply_unit_scales() {
        if constexpr (ScalesUnits<M>) {
            const auto& dims = model_.dimensions();
            for (std::size_t d = 0; d < dims.size(); ++d)
                for (std::uint32_t i = 0; dims[d].kind == DimKind::Units && i < dims[d].size; ++i) {
                    const UnitRef unit{static_cast<DimId>(d), i};
                    model_.set_unit_scale(unit, unit_scale(dims, unit));
                }
        }
    }

    float unit_scale(const DimensionTable& dims, UnitRef unit) const {
        if constexpr (HasUnitScale<P>)
            return partitioner_.unit_scale(dims, unit, options_.workers);
        else
            return 1.0f;
    }

    /// Worker data streams (once per training set) and carried optimizer state (once).
    template <TrainingSet Data>
    void prepare_workers(const Data& train) {
        if constexpr (std::same_as<Data, Dataset>) streams_.prepare(train);
        else streams_.prepare_rows(train.size());
        allocate_optimizer_state();
        coding_.allocate(model_, carried_per_parameter(), options_.workers);
    }

    /// The full-size optimizer state carried across rounds (OptimizerState::Carry), zero at first.
    void allocate_optimizer_state() {
        if (carries_state() && master_state_.empty())
            for (std::size_t i = 0; i < model_.parameter_count(); ++i)
                for (std::size_t k = 0; k < O::state_per_parameter; ++k)
                    master_state_.push_back(xt::zeros<float>(model_.parameter(i).value.shape()));
    }

    WorkerPackage extract(const Plan& plan, std::size_t s, std::size_t round) {
        WorkerPackage pkg = extract_package<M, C>(model_, master_state_, carried_per_parameter(), plan[s],
                                                  options_.scale_activations);
        if constexpr (WorkerPackage::kCodable)
            coding_.prepare(pkg.coding, model_, carried_per_parameter(), plan[s], s, round);
        return pkg;
    }

    /// GIST's "split input features": a worker holding part of the input sees only its columns.
    std::optional<std::vector<std::uint32_t>> held_input_columns(const WorkerPlan& plan) const {
        if (!plan.dims.front()) return std::nullopt;
        return expand_indices(*plan.dims.front(), model_.dimensions().front().span);
    }

    /// The next local batch of a dense set: its features (only the held input columns, if the
    /// plan cuts the input) and labels.
    std::pair<const Matrix*, const Labels*> draw_local_batch(BatchSampler& sampler, const Dataset& data,
                                                             const WorkerPlan& plan, LocalBatch<Dataset>& batch,
                                                             std::vector<std::uint32_t>& rows) const {
        auto [features, labels] = streams_.draw_batch(sampler, data, batch.x, batch.y, rows);
        if (const auto columns = held_input_columns(plan)) {
            detail::select_columns(*features, *columns, batch.x_held);
            features = &batch.x_held;
        }
        return {features, labels};
    }

    /// The next local batch of a sparse set, gathered as CSR: rows drawn from the same stream
    /// (Batches::Rows); the input is never cut.
    std::pair<const CsrMatrix*, const LabelSets*> draw_local_batch(BatchSampler& sampler, const SparseDataset& data,
                                                                   const WorkerPlan& plan,
                                                                   LocalBatch<SparseDataset>& batch,
                                                                   std::vector<std::uint32_t>& rows) const {
        if (held_input_columns(plan)) throw ConfigError("a sparse input layer is never cut: the plan cuts dimension 0");
        rows = sampler.take(options_.batch_size);
        gather_rows(data, rows, batch.x, batch.y);
        return {&batch.x, &batch.y};
    }

    /// `optimizer` is the round's copy of the prototype, taken when the round starts.
    template <TrainingSet Data>
    void train_locally(WorkerPackage& pkg, Communicator& comm, const Data& data, const WorkerPlan& plan,
                       RoundStreams& round_streams, std::size_t round, std::uint64_t steps_before, const O& optimizer) {
        BatchSampler& sampler = *round_streams.sampler.at(comm.worker());
        const auto params = parameter_pointers(pkg.model);
        CarriedState carried;
        if (carries_state()) carried = {std::move(pkg.optimizer_state), steps_before};
        auto run = optimizer.start(params, std::move(carried));
        LocalBatch<Data> batch;
        std::vector<std::uint32_t> rows;
        double loss_sum = 0.0;
        for (std::size_t t = 0; t < options_.local_steps; ++t) {
            const auto [features, labels] = draw_local_batch(sampler, data, plan, batch, rows);
            if constexpr (TakesBatchRows<M>) pkg.model.set_batch_rows(rows);
            const float loss = pkg.model.loss_and_gradient(*features, *labels);
            if (!std::isfinite(loss))
                throw TrainingError("round " + std::to_string(round) + ", worker " +
                                    std::to_string(comm.worker()) + ", local step " + std::to_string(t + 1) +
                                    ": the loss is " + std::to_string(loss) + "; lower the learning rate");
            if constexpr (A::synchronises_gradients) {
                coding_.all_reduce_gradients(params, comm, steps_before + t + 1);
                if constexpr (TracksGradientWrites<M>) pkg.model.gradients_overwritten();
            }
            run.step(params);
            if constexpr (ProjectsParameters<M>) pkg.model.project_parameters();  // e.g. pruned weights back to 0
            loss_sum += loss;
        }
        pkg.stats = {loss_sum, static_cast<double>(options_.local_steps)};
        if (carries_state()) pkg.optimizer_state = run.take_state().tensors;
        if (shards_.active()) check_finite(pkg, comm.worker());  // sharded: no rank sees the others' whole
        // Refused here, inside the worker's work, so every transport reports it as this worker's failure.
        if constexpr (WorkerPackage::kCodable)
            if (pkg.coded()) pkg.coding.check_encodable(pkg.tensors());
        round_streams.done[comm.worker()] = true;
    }

    void merge(const Plan& plan, std::vector<WorkerPackage>& packages) {
        merge_packages(model_, master_state_, carried_per_parameter(), aggregator_, plan, packages);
    }

    template <TrainingSet Data>
    RoundMetrics run_round(const Data& train) {
        const auto start = std::chrono::steady_clock::now();
        Plan plan = partitioner_.plan(model_.dimensions(), options_.workers, partition_rng_);
        derive_indices(model_.dimensions(), plan);
        shards_.begin_round(transport_, model_, carried_per_parameter(), plan);
        // Captures by value: a straggler dropped by a fault-tolerant transport may still run them
        // after this round is over.
        const std::size_t round = rounds_done_ + 1;
        const std::uint64_t steps_before = steps_taken_;
        if (schedule_) optimizer_.set_learning_rate(schedule_(round, base_learning_rate_));
        auto round_streams = std::make_shared<RoundStreams>(streams_.begin_round(round));
        auto result = transport_.round(
            options_.workers, [this, plan, round](std::size_t s) { return extract(plan, s, round); },
            [this, &train, plan, round_streams, round, steps_before, optimizer = optimizer_](WorkerPackage& pkg,
                                                                                              Communicator& comm) {
                train_locally(pkg, comm, train, plan[comm.worker()], *round_streams, round, steps_before, optimizer);
            },
            A::synchronises_gradients ? Replicas::Persistent : Replicas::PerRound);
        streams_.replay_remote_draws(*round_streams, result.dropped);
        streams_.end_round(*round_streams);
        RoundMetrics m;
        m.dropped_workers = result.dropped;
        m.failures = result.failures;
        m.worker_seconds = result.worker_seconds;
        if (!result.packages.empty()) {  // the coordinator, or every process when replicas persist
            Plan returned;  // the plans of the workers whose subnets came back, in package order
            std::vector<double> samples;  // and the rows each trained on (FedAvg weighting only)
            for (std::size_t k = 0; k < result.packages.size(); ++k) {
                const std::size_t s = result.workers.empty() ? k : result.workers[k];
                if (!shards_.active()) check_finite(result.packages[k], s);
                returned.push_back(plan[s]);
                if constexpr (WeighsSamples<A>)
                    samples.push_back(static_cast<double>(round_streams->sampler.at(s)->pool().size()));
            }
            if constexpr (WeighsSamples<A>) aggregator_.set_worker_samples(std::move(samples));
            merge(returned, result.packages);
            double loss = 0.0, steps = 0.0;
            for (auto& pkg : result.packages) loss += pkg.stats.loss_sum, steps += pkg.stats.steps;
            m.train_loss = steps > 0 ? loss / steps : 0.0;
        }
        ++rounds_done_;
        steps_taken_ += options_.local_steps;
        m.round = rounds_done_;
        m.bytes = result.traffic.total();
        for (std::size_t s = 0; s < result.traffic.sent.size(); ++s) {
            m.worker_bytes.push_back(result.traffic.sent[s] + result.traffic.received[s]);
            m.max_worker_bytes = std::max(m.max_worker_bytes, m.worker_bytes.back());
        }
        total_bytes_ += m.bytes;
        m.total_bytes = total_bytes_;
        m.round_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        seconds_ += m.round_seconds;
        m.seconds = seconds_;
        return m;
    }

    M& model_;
    TrainerOptions options_;
    P partitioner_;
    O optimizer_;
    A aggregator_;
    T transport_;
    detail::ExchangeCoding<M, C> coding_;
    detail::ParameterShards shards_ = detail::ParameterShards::of(transport_, !A::synchronises_gradients);
    PartitionRng partition_rng_;
    WorkerStreams streams_;
    std::vector<Tensor> master_state_;
    LearningRateSchedule schedule_;
    float base_learning_rate_ = 0.0f;
    std::size_t rounds_done_ = 0;
    std::uint64_t steps_taken_ = 0;
    std::uint64_t total_bytes_ = 0;
    double seconds_ = 0.0;
    bool training_ = false;            ///< inside train(): a distributed checkpoint can gather residuals
    std::string pending_checkpoint_;  ///< asked for this round, written by write_pending_checkpoint
};

}  // namespace ist
