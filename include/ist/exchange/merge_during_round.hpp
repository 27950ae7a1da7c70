#pragma once
// The trainer's side of a transport's MergesDuringRound hook: the merge of a round split into what
// can be written in as each package comes back and what must wait for the round's end.
#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

#include "ist/aggregate/aggregator.hpp"
#include "ist/detail/gather.hpp"
#include "ist/exchange/exchange.hpp"
#include "ist/transport/transport.hpp"

namespace ist::detail {

/// The items whose merge is a plain scatter under the round's plan (the aggregator's
/// ScattersDisjointItems hook: no entry has two holders) are written into the model worker by
/// worker, each as soon as its package is back (merge, called by the transport during the round),
/// by swapping the package's copies with the model's values: the package keeps what they replaced,
/// so undo swaps back. The other items, and the scatters of packages the round did not merge, are
/// written once the round is over (finish), so the model is bit for bit what merge_packages makes.
template <Model M, Codec C>
class ScatterAsReturned final : public RoundMerge<WorkerPackage<M, C>> {
public:
    using Package = WorkerPackage<M, C>;

    template <ScattersDisjointItems A>
    ScatterAsReturned(M& model, std::vector<Tensor>& carried, std::size_t K, const A& aggregator, const Plan& plan)
        : items_(merge_slots(model, carried, K)), K_(K), plan_(plan) {
        for (const MergeItem& item : items_) scatters_.push_back(aggregator.scatters(item, plan_) ? 1 : 0);
    }

    void merge(std::size_t worker, Package& package) override {
        write(worker, package, Write::Swap);
        merged_.push_back(worker);
    }

    void undo(std::size_t worker, Package& package) override {
        write(worker, package, Write::Swap);
        merged_.erase(std::find(merged_.begin(), merged_.end(), worker));
    }

    /// Once the round is over: the scatters of the finished workers the round did not merge, then
    /// every other item merged by `aggregator` from `packages` (the finished workers', in the order
    /// of `finished`). A worker merged during the round must be among them (std::logic_error).
    template <Aggregator A>
    void finish(A& aggregator, const MergeContext& round, const std::vector<std::size_t>& finished,
                std::vector<Package>& packages) {
        for (std::size_t s : merged_)
            if (std::find(finished.begin(), finished.end(), s) == finished.end())
                throw std::logic_error("ScatterAsReturned: worker " + std::to_string(s) +
                                       "'s package was merged during the round but the round dropped it");
        for (std::size_t k = 0; k < finished.size(); ++k)
            if (std::find(merged_.begin(), merged_.end(), finished[k]) == merged_.end())
                write(finished[k], packages[k], Write::Copy);
        std::vector<MergeItem> rest;
        std::vector<std::vector<Tensor*>> copies;
        for (Package& pkg : packages) copies.push_back(slot_copies(pkg, K_));
        for (std::size_t j = 0; j < items_.size(); ++j) {
            if (scatters_[j]) continue;
            rest.push_back(items_[j]);
            for (const std::vector<Tensor*>& c : copies) rest.back().workers.push_back(c[j]);
        }
        aggregator.merge(rest, round);
    }

    /// The workers merged during the round, in the order they were.
    const std::vector<std::size_t>& merged() const { return merged_; }

private:
    enum class Write { Swap, Copy };

    /// Worker s's copies of the scattered items written into the model.
    void write(std::size_t s, Package& package, Write how) {
        const std::vector<Tensor*> copies = slot_copies(package, K_);
        for (std::size_t j = 0; j < items_.size(); ++j) {
            if (!scatters_[j]) continue;
            const std::vector<DimId> dims(items_[j].dims.begin(), items_[j].dims.end());
            const AxisSelection sel = select_axes(dims, plan_[s]);
            if (how == Write::Swap) swap_scatter(*copies[j], sel, *items_[j].master);
            else scatter(*copies[j], sel, *items_[j].master);
        }
    }

    std::vector<MergeItem> items_;  ///< merge_slots, without copies
    std::size_t K_;
    const Plan& plan_;                  ///< the round's, every worker's
    std::vector<char> scatters_;        ///< per item, whether its merge is a scatter
    std::vector<std::size_t> merged_;  ///< during the round, in worker order
};

}  // namespace ist::detail
