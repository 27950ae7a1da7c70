#pragma once
// The trainer's side of a coded exchange (quantised exchange as in ResIST, Dun et al. 2022): the
// codec, what it codes, and each worker's error-feedback residuals, full-size in the model's
// coordinates and sliced with the plan like carried optimizer state. Data parallel codes its
// gradients instead (exchange/coded_all_reduce.hpp), one residual per parameter and worker.
#include <algorithm>
#include <cstddef>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "ist/aggregate/aggregator.hpp"
#include "ist/codec/codec.hpp"
#include "ist/exchange/coded_all_reduce.hpp"
#include "ist/core/error.hpp"
#include "ist/exchange/exchange.hpp"
#include "ist/core/trainer_options.hpp"

namespace ist::detail {

/// The gradients' floats, parameter after parameter, cut into buckets of kGradientBucketFloats:
/// one allreduce_mean per bucket instead of one per parameter (a blocking round trip each), so
/// a step costs one exchange for a model up to 128 MB. A piece that fills a whole bucket is
/// reduced where it lies; smaller ones are packed into one buffer (kept by the thread, so a step
/// does not fault its pages in again) and copied back. The mean is elementwise, so the result is
/// bit for bit the per-parameter one. Large buckets: on a rate-limited link each exchange pays
/// a handshake queued behind the other direction's data (measured at 1 Gbit/s: 16 MB all-reduces
/// moved 500 Mbit/s of message, 64 MB ones 680), and nothing overlaps the exchange yet that
/// smaller buckets would serve. In process (ThreadsTransport) nothing is packed: each parameter is
/// all-reduced where it lies, as there is no wire to save and the copy would cost heap.
inline constexpr std::size_t kGradientBucketFloats = std::size_t{1} << 25;  // 128 MB

inline void allreduce_in_buckets(std::span<Parameter* const> params, Communicator& comm,
                                 std::size_t bucket_floats = kGradientBucketFloats) {
    if (comm.in_process()) {  // shared memory: no wire to save, and a packed copy would cost a gradient's heap
        for (Parameter* p : params) comm.allreduce_mean({p->grad.data(), p->grad.size()});
        return;
    }
    std::size_t total = 0;
    for (const Parameter* p : params) total += p->grad.size();
    thread_local std::vector<float> packed;
    packed.clear();
    packed.reserve(std::min(total, bucket_floats));
    std::vector<std::span<float>> pieces;  // where the packed floats came from, in order
    const auto flush = [&] {
        if (packed.empty()) return;
        comm.allreduce_mean(packed);
        const float* from = packed.data();
        for (std::span<float> piece : pieces) {
            std::copy_n(from, piece.size(), piece.begin());
            from += piece.size();
        }
        packed.clear();
        pieces.clear();
    };
    for (Parameter* p : params) {
        std::span<float> rest(p->grad.data(), p->grad.size());
        while (!rest.empty()) {
            if (packed.empty() && rest.size() >= bucket_floats) {
                comm.allreduce_mean(rest.first(bucket_floats));
                rest = rest.subspan(bucket_floats);
                continue;
            }
            const std::span<float> piece = rest.first(std::min(rest.size(), bucket_floats - packed.size()));
            packed.insert(packed.end(), piece.begin(), piece.end());
            pieces.push_back(piece);
            rest = rest.subspan(piece.size());
            if (packed.size() == bucket_floats) flush();
        }
    }
    flush();
}

template <Model M, Codec C>
class ExchangeCoding {
public:
    /// With persistent replicas (data parallel) no subnet travels: the all-reduced gradients are
    /// coded instead.
    ExchangeCoding(C codec, const TrainerOptions& options, Replicas replicas)
        : codec_(std::move(codec)), values_(options.coded_values), error_feedback_(options.error_feedback),
          master_copy_(options.master_copy),           codes_gradients_(replicas == Replicas::Persistent), seed_(options.seed) {}

    const C& codec() const { return codec_; }

    /// Whether the subnets travel coded (a lossy codec).
    bool active() const { return !codec_.exact(); }

    /// The codec and what it codes, e.g. "q4 updates + error feedback" ("fp32": no coding).
    std::string description() const {
        std::string out = codec_.name();
        if (codes_gradients_ && active()) out += " gradients";
        if (values_ == CodedValues::Updates) out += " updates";
        if (error_feedback_) out += " + error feedback";
        if (master_copy_) out += " + master copy";
        return out;
    }

    /// ConfigError for settings no exchange can carry out.
    void validate(bool codable) const {
        const std::string what = "IstTrainer: codec " + codec_.name();
        require(active() || (values_ == CodedValues::Weights && !error_feedback_),
                what + " is exact: coded updates and error feedback need a lossy codec (fp16, bf16, q2..q8)");
        require(!active() || codable, what + ": a lossy codec cannot be used as Fp32");
        require(!codes_gradients_ || values_ == CodedValues::Weights,
                what + ": data parallel codes its gradients; coded updates apply to exchanged subnets only");
        require(!error_feedback_ || codes_gradients_ || values_ == CodedValues::Updates,
                "TrainerOptions: error_feedback needs coded_values = CodedValues::Updates (error feedback corrects "
                "coded updates)");
        require(!master_copy_ || (active() && !codes_gradients_ && values_ == CodedValues::Updates),
                "TrainerOptions: master_copy needs coded_values = CodedValues::Updates with a lossy codec on exchanged "
                "subnets (the coordinator adds the decoded updates to it; coded weights and data parallel's gradients "
                "would ignore it)");
    }

    /// Data parallel: worker comm.worker()'s all-reduce of its gradients at global step `step`,
    /// coded when the codec is lossy (exact: the plain all-reduce, bit for bit today's).
    void all_reduce_gradients(std::span<Parameter* const> params, Communicator& comm, std::uint64_t step) {
        if (!active()) return allreduce_in_buckets(params, comm);
        std::vector<Tensor>* residuals = error_feedback_ ? &residuals_.at(comm.worker()) : nullptr;
        coded_allreduce_mean(codec_, params, residuals, seed_, step, comm);
    }

    /// Worker comm.worker()'s GradientExchange at global step `step` (what an AveragesGradients
    /// aggregator averages through), valid while `comm` is.
    class WorkerGradients final : public GradientExchange {
    public:
        WorkerGradients(ExchangeCoding& coding, Communicator& comm, std::uint64_t step)
            : coding_(coding), comm_(comm), step_(step) {}
        std::size_t worker() const override { return comm_.worker(); }
        std::size_t workers() const override { return comm_.workers(); }
        void average(std::span<Parameter* const> params) override { coding_.all_reduce_gradients(params, comm_, step_); }

    private:
        ExchangeCoding& coding_;
        Communicator& comm_;
        std::uint64_t step_;
    };
    WorkerGradients gradient_exchange(Communicator& comm, std::uint64_t step) { return {*this, comm, step}; }

    /// Package `coding` of worker s in `round`: this run's codec and settings and worker s's residuals.
    void prepare(PackageCoding<C>& coding, const M& model, std::size_t K, const WorkerPlan& plan, std::size_t s,
                 std::size_t round) {
        if (codes_gradients_) return;  // data parallel's replicas persist: no subnet travels to be coded
        coding.codec = codec_;
        coding.values = values_;
        coding.seed = seed_;
        coding.round = round;
        coding.worker = s;
        coding.master_copy = master_copy_;
        if (!error_feedback_) return;
        coding.residual = slice_package_tensors(model, residuals_[s], K, plan, true);
        // Called by worker s's own thread or rank only, once its update is coded.
        coding.keep_residual = [this, &model, plan, s, K](const std::vector<Tensor>& residual) {
            scatter_package_tensors(model, residual, K, plan, true, residuals_[s]);
        };
    }

    /// Error feedback: per worker, residuals for every tensor a full package holds, or for every
    /// parameter's gradient under data parallel (zero at first).
    void allocate(const M& model, std::size_t K, std::size_t workers) {
        if (!error_feedback_ || !residuals_.empty()) return;
        residuals_.resize(workers);
        std::vector<std::size_t> owners(model.parameter_count());
        for (std::size_t i = 0; i < owners.size(); ++i) owners[i] = i;
        if (!codes_gradients_) owners = package_owners(model, K, true);
        for (auto& worker : residuals_)
            for (std::size_t i : owners) worker.push_back(xt::zeros<float>(model.parameter(i).value.shape()));
    }

    /// Whether the residuals live on the workers' ranks (a distributed run with error feedback),
    /// so a checkpoint must first gather them (gather_residuals).
    bool residuals_on_workers(bool in_process) const { return !in_process && error_feedback_; }

    /// Collective over `transport`: the coordinator takes every worker's residuals from its rank.
    template <class T>
    void gather_residuals(T& transport) {
        if constexpr (GathersToCoordinator<T>)
            transport.gather_to_coordinator(std::span<std::vector<Tensor>>(residuals_));
        else
            throw ConfigError("IstTrainer: checkpoints with error feedback over a distributed transport need its "
                              "GathersToCoordinator hook (gather_to_coordinator), which this transport lacks: the "
                              "residuals live on the workers' ranks");
    }

    /// The residuals as a checkpoint holds them: every worker's, one after the other (in a
    /// distributed run, valid on the coordinator right after gather_residuals).
    std::vector<Tensor> saved() const {
        std::vector<Tensor> out;
        for (const auto& worker : residuals_) out.insert(out.end(), worker.begin(), worker.end());
        return out;
    }

    /// Takes back what saved() gave (shapes already checked by the checkpoint reader).
    void restore(std::vector<Tensor> saved) {
        for (std::size_t j = 0; j < saved.size(); ++j)
            residuals_[j / residuals_.front().size()][j % residuals_.front().size()] = std::move(saved[j]);
    }

private:
    C codec_;
    CodedValues values_;
    bool error_feedback_;
    bool master_copy_;
    bool codes_gradients_;
    std::uint64_t seed_;
    std::vector<std::vector<Tensor>> residuals_;  ///< per worker, in package order (package_owners)
};

}  // namespace ist::detail
