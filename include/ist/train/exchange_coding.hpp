#pragma once
// The trainer's side of a coded exchange (quantised exchange as in ResIST, Dun et al. 2022): the
// codec, what it codes, and each worker's error-feedback residuals, full-size in the model's
// coordinates and sliced with the plan like carried optimizer state.
#include <string>
#include <utility>
#include <vector>

#include "ist/codec/codec.hpp"
#include "ist/core/error.hpp"
#include "ist/train/exchange.hpp"
#include "ist/train/options.hpp"

namespace ist::detail {

template <Model M, Codec C>
class ExchangeCoding {
public:
    ExchangeCoding(C codec, const TrainerOptions& options)
        : codec_(std::move(codec)), values_(options.coded_values), error_feedback_(options.error_feedback),
          seed_(options.seed) {}

    const C& codec() const { return codec_; }

    /// Whether the subnets travel coded (a lossy codec).
    bool active() const { return !codec_.exact(); }

    /// The codec and what it codes, e.g. "q4 updates + error feedback" ("fp32": no coding).
    std::string description() const {
        std::string out = codec_.name();
        if (values_ == CodedValues::Updates) out += " updates";
        if (error_feedback_) out += " + error feedback";
        return out;
    }

    /// ConfigError for settings no exchange can carry out.
    void validate(bool codable, bool synchronises_gradients) const {
        const std::string what = "IstTrainer: codec " + codec_.name();
        require(active() || (values_ == CodedValues::Weights && !error_feedback_),
                what + " is exact: coded updates and error feedback need a lossy codec (fp16, bf16, q2..q8)");
        require(!active() || codable, what + ": a lossy codec cannot be used as Fp32");
        require(!active() || !synchronises_gradients,
                what + ": data parallel exchanges gradients, not subnets, and does not code them (use fp32)");
    }

    /// Package `coding` of worker s in `round`: this run's codec and settings and worker s's residuals.
    void prepare(PackageCoding<C>& coding, const M& model, std::size_t K, const WorkerPlan& plan, std::size_t s,
                 std::size_t round) {
        coding.codec = codec_;
        coding.values = values_;
        coding.seed = seed_;
        coding.round = round;
        coding.worker = s;
        if (!error_feedback_) return;
        coding.residual = slice_package_tensors(model, residuals_[s], K, plan, true);
        // Called by worker s's own thread or rank only, once its update is coded.
        coding.keep_residual = [this, &model, plan, s, K](const std::vector<Tensor>& residual) {
            scatter_package_tensors(model, residual, K, plan, true, residuals_[s]);
        };
    }

    /// Error feedback: per worker, residuals for every tensor a full package holds (zero at first).
    void allocate(const M& model, std::size_t K, std::size_t workers) {
        if (!error_feedback_ || !residuals_.empty()) return;
        residuals_.resize(workers);
        for (auto& worker : residuals_)
            for (std::size_t i : package_owners(model, K, true))
                worker.push_back(xt::zeros<float>(model.parameter(i).value.shape()));
    }

    /// The residuals as a checkpoint holds them: every worker's, one after the other. Only an
    /// in-process run has them all (ConfigError otherwise).
    std::vector<Tensor> saved(bool in_process) const {
        if (!in_process && error_feedback_)
            throw ConfigError("IstTrainer: checkpoints with error feedback need an in-process transport (threads or "
                              "serial): the residuals live on the workers' ranks");
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
    std::uint64_t seed_;
    std::vector<std::vector<Tensor>> residuals_;  ///< per worker, in package order (package_owners)
};

}  // namespace ist::detail
