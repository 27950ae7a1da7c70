#pragma once
// IstTrainer: the IST meta-algorithm (Yuan et al. 2019; Wolfe et al.) over compile-time policies.
//
//   for t in rounds:  plan = Partitioner(dims, S);  each worker s trains model.subnet(plan[s])
//                     for l local steps with LocalOptimizer;  model = Aggregator(subnets)
//
// Data parallel and local SGD are other policy choices of the same loop (see ist/baselines.hpp).
// The pieces live beside it: a worker's local steps (local_training.hpp) on its data stream
// (worker_streams.hpp), what travels each round (exchange.hpp; coded by the Codec policy:
// exchange_coding.hpp; a sharded parameter node: parameter_shards.hpp), the run's counters
// (run_progress.hpp) and evaluation (evaluate.hpp).
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "ist/aggregate/holder_average.hpp"
#include "ist/codec/fp32.hpp"
#include "ist/data/dataset.hpp"
#include "ist/detail/gemm.hpp"
#include "ist/detail/seed.hpp"
#include "ist/exchange/round.hpp"
#include "ist/model/model.hpp"
#include "ist/model/network.hpp"
#include "ist/optim/sgd.hpp"
#include "ist/partition/neuron_partition.hpp"
#include "ist/partition/batch_plans.hpp"
#include "ist/callbacks/callback.hpp"
#include "ist/train/checkpoint_file.hpp"
#include "ist/metrics/evaluate.hpp"
#include "ist/exchange/exchange.hpp"
#include "ist/exchange/exchange_coding.hpp"
#include "ist/exchange/merge_during_round.hpp"
#include "ist/train/launch_fingerprint.hpp"
#include "ist/train/local_training.hpp"
#include "ist/metrics/round_metrics.hpp"
#include "ist/core/trainer_options.hpp"
#include "ist/exchange/parameter_shards.hpp"
#include "ist/train/run_progress.hpp"
#include "ist/optim/schedule.hpp"
#include "ist/sampling/training_set.hpp"
#include "ist/train/unit_scales.hpp"
#include "ist/sampling/worker_streams.hpp"
#include "ist/transport/threads.hpp"

namespace ist {

template <Model M = Network, Partitioner P = NeuronPartition, LocalOptimizer O = Sgd, Aggregator A = HolderAverage,
          class T = ThreadsTransport, Codec C = Fp32>
class IstTrainer {
    static_assert(detail::check_transport<T>());  // names the Transport member T lacks

public:
    using ModelType = M;

    /// What travels between the coordinator and a worker each round.
    using WorkerPackage = ist::WorkerPackage<M, C>;
    /// One round: its plan, its workers' streams and, once run, who finished it.
    using Round = ist::Round<WorkerPackage>;

    /// Trains `model` in place (the trainer keeps a reference; the model must outlive it).
    /// `codec` codes the subnets both ways (Fp32, the default: exact, nothing is coded).
    explicit IstTrainer(M& model, TrainerOptions options = TrainerOptions(), P partitioner = P(),
                        O optimizer = O(), A aggregator = A(), T transport = T(), C codec = C())
        : model_(model), options_(options), partitioner_(std::move(partitioner)), optimizer_(std::move(optimizer)),
          aggregator_(std::move(aggregator)), transport_(std::move(transport)), coding_(std::move(codec), options, kReplicas),
          progress_(options.seed), streams_(options) {
        options_.validate();
        detail::check_gemm_precision(options_.precision);  // e.g. bf16 with the OpenBLAS backend
        optimizer_.validate();
        coding_.validate(WorkerPackage::kCodable);
        partitioner_.validate(model_.dimensions(), options_.workers);
        transport_.handshake(options_.workers, model_.parameter_count(),
                            detail::launch_fingerprint(model_, options_, coding_.description()));
        detail::apply_unit_scales(model_, partitioner_, options_.workers);  // ResIST's scaled branches
    }

    /// Trains until rounds_done() reaches options().rounds (a run resumed from a checkpoint does
    /// only the rounds left; raise the total with set_rounds() to go on), evaluating on `test`
    /// every options().eval_every rounds. Invalid data throws before the model is touched; a
    /// failing round throws and leaves the model as it was before that round.
    /// Distributed transports: only the coordinator evaluates and calls the callbacks; every
    /// process takes the coordinator's stop decision and ends with the coordinator's model (unless
    /// TrainerOptions::final_model_everywhere is false: then only the coordinator's is final).
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
        while (progress_.rounds_done < options_.rounds) {
            RoundMetrics& m = result.history.emplace_back(next_round(train));
            m.rounds = options_.rounds;
            const bool last = progress_.rounds_done == options_.rounds;
            const bool evaluating = last || (options_.eval_every && m.round % options_.eval_every == 0);
            if (evaluating) gather_shards(m);
            if (coordinator && evaluating) m.test = evaluate(test);
            bool stop = false;
            if (coordinator) ((stop = detail::callback_round_end(callbacks, m, *this) || stop), ...);
            stop = transport_.agree(stop);
            write_pending_checkpoint(m);
            if (stop && !last) {
                result.stopped_early = true;
                gather_shards(m);
                if (coordinator && !m.test) m.test = evaluate(test);
                break;
            }
        }
        wait_for_stragglers();  // nothing may run on the data after train() returns
        if (result.history.empty()) {  // nothing left to train (a finished run resumed): just evaluate
            RoundMetrics m;
            m.round = m.rounds = progress_.rounds_done;
            if (coordinator) m.test = evaluate(test);
            result.history.push_back(m);
        }
        gather_shards(result.history.back());
        result.final_broadcast_bytes = share_final_model();
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
        if (training_ && checkpoint_gathers()) return void(pending_checkpoint_ = path);
        if (coding_.residuals_on_workers(kInProcess))
            throw ConfigError("save_checkpoint: with error feedback over a distributed transport, checkpoint from "
                              "a round-end callback of train() (e.g. ist::Checkpoint), where the workers' ranks "
                              "hand over their residuals");
        write_checkpoint_file(path);
    }

    /// Restores a checkpoint written by save_checkpoint for the same model shapes and options;
    /// the next train() continues exactly where that run stopped. On error nothing changes.
    void load_checkpoint(const std::string& path) {
        allocate_run_state();
        RunState state = run_state();
        read_checkpoint(path, model_, state, streams_.stream_count());
        progress_.restore(state, path);
        streams_.restore(std::move(state.streams));
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
    std::size_t rounds_done() const { return progress_.rounds_done; }
    std::uint64_t total_bytes() const { return progress_.total_bytes; }
    double seconds() const { return progress_.seconds; }

private:
    static constexpr bool kInProcess = RunsInProcess<T>;
    /// Where the workers' models live between rounds: the aggregator's choice (aggregator.hpp).
    static constexpr Replicas kReplicas = kReplicasOf<A>;
    /// Whether the coordinator writes each package's scattered items in as it comes back: the
    /// transport's MergesDuringRound and the aggregator's ScattersDisjointItems hooks, subnets that
    /// travel, and plain floats (a codec's return, error feedback's residuals above all, stays at
    /// the round's end, where a failed round never reaches it).
    static constexpr bool kMergesDuringRound = MergesDuringRound<T> && ScattersDisjointItems<A> &&
                                               kReplicas == Replicas::PerRound && !WorkerPackage::kCodable;
    using EarlyMerge = detail::ScatterAsReturned<M, C>;

    bool carries_state() const {
        return options_.optimizer_state == OptimizerState::Carry && O::state_per_parameter > 0;
    }

    /// Optimizer state tensors per parameter that travel with the subnets (0 unless carried).
    std::size_t carried_per_parameter() const { return carries_state() ? O::state_per_parameter : 0; }

    /// What a checkpoint holds besides the model and the counters, as this trainer keeps it.
    RunState run_state() const {
        RunState state;
        state.optimizer_state = master_state_;
        state.codec = coding_.description();
        state.residuals = coding_.saved();
        return state;
    }

    /// save_checkpoint's file (in a distributed run, on the coordinator).
    void write_checkpoint_file(const std::string& path) {
        wait_for_stragglers();  // their data streams must be at rest
        RunState state = run_state();
        progress_.save(state);
        state.streams = streams_.positions();
        write_checkpoint(path, model_, state);
    }

    /// Whether a checkpoint asked for now must wait for every rank to hand over what the
    /// coordinator lacks: error-feedback residuals, or the shards of a sharded parameter node.
    bool checkpoint_gathers() const { return coding_.residuals_on_workers(kInProcess) || shards_.scattered(); }

    /// The checkpoint the coordinator's callbacks asked for this round, written once it holds
    /// what checkpoint_gathers() names (every rank takes part); the gather counts in round `m`.
    void write_pending_checkpoint(RoundMetrics& m) {
        if (!checkpoint_gathers() || !transport_.agree(!pending_checkpoint_.empty())) return;
        gather_shards(m);
        if (coding_.residuals_on_workers(kInProcess)) coding_.gather_residuals(transport_);
        if (transport_.is_coordinator()) write_checkpoint_file(std::exchange(pending_checkpoint_, std::string()));
    }

    /// The model and carried optimizer state, as packages order their tensors.
    std::vector<Tensor*> full_state() {
        std::vector<Tensor*> out = parameter_values(model_);
        for (auto& t : master_state_) out.push_back(&t);
        return out;
    }

    /// Distributed runs: every process takes the coordinator's final model, unless the options say only
    /// the coordinator needs it or the replicas persist (equal on every process by construction).
    /// Returns the bytes moved: (S - 1) x the model and carried state, counted at the receiving ends.
    std::uint64_t share_final_model() {
        if constexpr (kInProcess || kReplicas == Replicas::Persistent) return 0;
        if (!options_.final_model_everywhere) return 0;
        const std::vector<Tensor*> state = full_state();
        transport_.broadcast(state);
        return (options_.workers - 1) * detail::tensor_bytes(state);
    }

    /// A sharded parameter node: every process sends its shard to the coordinator (no-op
    /// otherwise); the bytes count in round `m`, the round whose merge it follows.
    void gather_shards(RoundMetrics& m) { progress_.count_bytes(m, shards_.gather(transport_, full_state())); }

    /// Workers a fault-tolerant transport dropped may still be running: wait for them.
    void wait_for_stragglers() {
        if constexpr (HasStragglers<T>) transport_.wait_idle();
    }

    /// Worker data streams (once per training set) and carried optimizer state (once).
    template <TrainingSet Data>
    void prepare_workers(const Data& train) {
        if constexpr (std::same_as<Data, Dataset>) streams_.prepare(train);
        else streams_.prepare_rows(train.size());
        allocate_run_state();
    }

    /// The full-size optimizer state carried across rounds (OptimizerState::Carry), zero at
    /// first, and the coding's error-feedback residuals.
    void allocate_run_state() {
        if (carries_state() && master_state_.empty())
            for (std::size_t i = 0; i < model_.parameter_count(); ++i)
                for (std::size_t k = 0; k < O::state_per_parameter; ++k)
                    master_state_.push_back(xt::zeros<float>(model_.parameter(i).value.shape()));
        coding_.allocate(model_, carried_per_parameter(), options_.workers);
    }

    WorkerPackage extract(const Plan& plan, std::size_t s, std::size_t round) {
        WorkerPackage pkg = extract_package<M, C>(model_, master_state_, carried_per_parameter(), plan[s],
                                                  options_.scale_activations);
        if constexpr (WorkerPackage::kCodable)
            coding_.prepare(pkg.coding, model_, carried_per_parameter(), plan[s], s, round);
        return pkg;
    }

    /// What a worker's local steps need of this trainer (local_training.hpp), for one round.
    detail::LocalTraining<M, O, C, A> local_training() {
        return {options_, streams_, coding_, aggregator_, model_.dimensions().front().span, carries_state()};
    }

    /// run_round; should it throw, a sharded node first gathers the shards merged so far (every
    /// rank throws alike), so the coordinator's model is whole, as a central node's is.
    template <TrainingSet Data>
    RoundMetrics next_round(const Data& train) {
        if (!shards_.active()) return run_round(train);
        try {
            return run_round(train);
        } catch (...) {
            RoundMetrics failed;
            gather_shards(failed);
            throw;
        }
    }

    template <TrainingSet Data>
    RoundMetrics run_round(const Data& train) {
        const auto start = std::chrono::steady_clock::now();
        // Shared with the workers' work: a straggler dropped by a fault-tolerant transport may still
        // draw from its stream after this round is over.
        const std::shared_ptr<Round> round = begin_round(train);
        auto cut = [this, round](std::size_t s) { return extract(round->plan, s, round->number); };
        auto work = [&train, round, optimizer = optimizer_, local = local_training()](WorkerPackage& pkg,
                                                                                      Communicator& comm) {
            local.run(pkg, comm, train, *round, optimizer);
        };
        std::optional<EarlyMerge> early;
        if constexpr (kMergesDuringRound) {
            if (!shards_.active()) {  // a sharded node merges each shard where it lives
                early.emplace(model_, master_state_, carried_per_parameter(), aggregator_, round->plan);
                round->outcome = transport_.round(options_.workers, cut, work, kReplicas,
                                                  static_cast<RoundMerge<WorkerPackage>*>(&*early));
            }
        }
        if (!early) round->outcome = transport_.round(options_.workers, std::move(cut), std::move(work), kReplicas);
        streams_.end_round(round->streams, round->outcome.completed_workers());
        RoundMetrics m = merge_round(*round, early ? &*early : nullptr);
        progress_.finish_round(m, options_.local_steps, round->outcome.traffic,
                               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        return m;
    }

    /// The next round: its streams, its plan (refined on its batches where the partitioner plans
    /// on them) and the layout a sharded node learns; the learning rate of its schedule.
    template <TrainingSet Data>
    std::shared_ptr<Round> begin_round(const Data& train) {
        auto round = std::make_shared<Round>();
        round->number = progress_.rounds_done + 1;
        round->steps_before = progress_.steps_taken;
        round->streams = streams_.begin_round(round->number);
        round->plan = partitioner_.plan(model_.dimensions(), options_.workers, progress_.partition_rng);
        if constexpr (PlansOnBatches<P, Data>)
            partitioner_.refine(round->plan, model_.dimensions(), train, detail::round_rows(streams_, round->streams));
        derive_indices(model_.dimensions(), round->plan);
        shards_.begin_round(transport_, model_, carried_per_parameter(), round->plan);
        if (schedule_) optimizer_.set_learning_rate(schedule_(round->number, base_learning_rate_));
        return round;
    }

    /// The finished workers' packages merged into the model (where they came back: the
    /// coordinator, or every process when replicas persist), and the round's metrics. `early`: what
    /// the round merged already, and how the rest is merged (kMergesDuringRound).
    RoundMetrics merge_round(Round& round, EarlyMerge* early) {
        RoundResult<WorkerPackage>& outcome = round.outcome;
        RoundMetrics m;
        m.dropped_workers = outcome.dropped;
        m.failures = outcome.failures;
        m.worker_seconds = outcome.worker_seconds;
        if (outcome.packages.empty()) return m;
        if constexpr (kReplicas == Replicas::PerRound)
            for (WorkerPackage& pkg : outcome.packages) detail::return_in_process(pkg);  // unless it came back as bytes
        const Plan plans = round.completed_plans();
        const std::vector<double> samples = round.completed_samples();
        const MergeContext context(plans, samples, round.number);
        if (early) early->finish(aggregator_, context, outcome.completed_workers(), outcome.packages);
        else merge_packages(model_, master_state_, carried_per_parameter(), aggregator_, context, outcome.packages);
        double loss = 0.0, steps = 0.0;
        for (auto& pkg : outcome.packages) loss += pkg.stats.loss_sum, steps += pkg.stats.steps;
        m.train_loss = steps > 0 ? loss / steps : 0.0;
        return m;
    }

    M& model_;
    TrainerOptions options_;
    P partitioner_;
    O optimizer_;
    A aggregator_;
    T transport_;
    detail::ExchangeCoding<M, C> coding_;
    detail::ParameterShards shards_ = detail::ParameterShards::of(transport_, kReplicas);
    detail::RunProgress progress_;
    WorkerStreams streams_;
    std::vector<Tensor> master_state_;
    LearningRateSchedule schedule_;
    float base_learning_rate_ = 0.0f;
    bool training_ = false;            ///< inside train(): a distributed checkpoint can gather residuals
    std::string pending_checkpoint_;  ///< asked for this round, written by write_pending_checkpoint
};

}  // namespace ist
