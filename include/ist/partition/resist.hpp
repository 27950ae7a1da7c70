#pragma once
// ResIST: subnets of a residual network are shallower copies of it, each with some of the
// residual blocks of the partitioned section(s) (ResIST: Dun et al. 2022).
#include <algorithm>
#include <string>
#include <vector>

#include "ist/partition/neuron_partition.hpp"
#include "ist/partition/partitioner.hpp"
#include "ist/partition/worker_shares.hpp"

namespace ist {

/// Every rule of the talk's ablation is an option, so it can be re-run.
struct ResistOptions {
    /// Which sections (Units dimensions, i.e. runs of residual blocks) are dealt to workers, by
    /// dimension name ("section2", ...). Empty: the longest section only (the reference cuts
    /// ResNet101's 23-block section 3). Sections not named are shared by every worker.
    std::vector<std::string> sections;
    bool all_sections = false;      ///< deal every section (overrides `sections`)
    bool share_projecting = true;   ///< strided / downsampling blocks go to every worker
    std::size_t min_depth = 1;      ///< each worker gets at least this many blocks of a section
    bool scale_branches = true;     ///< evaluation scales each dealt branch by max(1/S, min_depth/n)
    /// Heterogeneous workers: worker s's share of each dealt section's blocks (summing to 1, as
    /// CapacityPartition's), so a device with half the compute trains a subnet half as deep.
    /// Empty: equal shares. Each worker's blocks must still number at least min_depth.
    std::vector<double> shares{};  // {}: designated initialisers may omit it without a warning
};

/// Deals the blocks of the chosen sections at random: n blocks (projecting ones excluded when
/// shared), max(n/S, min_depth) each. Without overlap (min_depth <= n/S) the blocks are split
/// disjointly like IST's neurons, the first n % S workers taking one more; with a minimum depth
/// that needs it, worker s takes min_depth blocks starting at s * n / S of one random cyclic
/// order, so every block is held and overlaps are averaged over their holders. With `shares`,
/// worker s takes about shares[s] x n blocks of the random order (largest remainder, as
/// CapacityPartition rounds), still disjointly. Feature dimensions are never cut (every worker
/// holds full-width blocks).
class ResistPartition {
public:
    ResistPartition() = default;
    explicit ResistPartition(ResistOptions options) : options_(std::move(options)) {}

    void validate(const DimensionTable& dims, std::size_t workers) const {
        detail::require(workers > 0, "ResistPartition: the number of workers S must be at least 1");
        detail::require(options_.min_depth > 0, "ResistPartition: min_depth must be at least 1");
        bool any = false;
        for (const auto& d : dims) any |= d.kind == DimKind::Units;
        if (!any) throw ConfigError("ResistPartition: the model has no residual blocks (add ist::Residual blocks)");
        for (const auto& name : options_.sections) {
            const bool known = std::any_of(dims.begin(), dims.end(),
                                           [&](const Dimension& d) { return d.kind == DimKind::Units && d.name == name; });
            if (!known) throw ConfigError("ResistPartition: the model has no section of residual blocks named '" + name + "'");
        }
        if (!options_.shares.empty()) validate_shares(dims, workers);
    }

    /// Assumes validate(dims, workers) passed.
    Plan plan(const DimensionTable& dims, std::size_t workers, PartitionRng& rng) const {
        Plan plan = full_plan(dims, workers);
        for (std::size_t d = 0; d < dims.size(); ++d) {
            if (!dealt(dims, d)) continue;
            const std::vector<std::uint32_t> shared = shared_blocks(dims[d]);
            auto chunks = deal(dealable_blocks(dims[d]), workers, rng);
            for (std::size_t s = 0; s < workers; ++s) {
                chunks[s].insert(chunks[s].end(), shared.begin(), shared.end());
                std::sort(chunks[s].begin(), chunks[s].end());
                plan[s].dims[d] = std::move(chunks[s]);
            }
        }
        return plan;
    }

    /// Evaluation scale of block `unit`'s branch: the share of subnets that trained it,
    /// max(1/S, min_depth/n), for dealt blocks; 1 for shared ones or with scaling off.
    float unit_scale(const DimensionTable& dims, UnitRef unit, std::size_t workers) const {
        const auto d = static_cast<std::size_t>(unit.dim);
        if (!options_.scale_branches || !dealt(dims, d)) return 1.0f;
        const auto shared = shared_blocks(dims[d]);
        if (std::binary_search(shared.begin(), shared.end(), unit.index)) return 1.0f;
        const std::size_t n = dims[d].size - shared.size();
        return std::max(1.0f / static_cast<float>(workers),
                        static_cast<float>(std::min(options_.min_depth, n)) / static_cast<float>(n));
    }

    const ResistOptions& options() const { return options_; }

private:
    static constexpr const char* kName = "ResistPartition";

    /// Shares by capacity: one per worker, summing to 1, none rounding below min_depth blocks.
    void validate_shares(const DimensionTable& dims, std::size_t workers) const {
        detail::check_shares(kName, options_.shares, workers);
        detail::check_shares_sum_to_one(kName, options_.shares);
        for (std::size_t d = 0; d < dims.size(); ++d) {
            if (!dealt(dims, d)) continue;
            const std::size_t n = dealable_blocks(dims[d]).size();
            const auto sizes = detail::proportional_sizes(options_.shares, n);
            for (std::size_t s = 0; s < workers; ++s)
                if (sizes[s] < options_.min_depth)
                    throw ConfigError(std::string(kName) + ": worker " + std::to_string(s) + "'s share " +
                                      std::to_string(options_.shares[s]) + " of section '" + dims[d].name + "' (" +
                                      std::to_string(n) + " blocks) is " + std::to_string(sizes[s]) +
                                      " blocks, fewer than min_depth = " + std::to_string(options_.min_depth));
        }
    }

    /// Whether dimension d is a section this partitioner deals.
    bool dealt(const DimensionTable& dims, std::size_t d) const {
        if (dims[d].kind != DimKind::Units || dims[d].size == 0) return false;
        if (options_.all_sections) return true;
        if (!options_.sections.empty())
            return std::find(options_.sections.begin(), options_.sections.end(), dims[d].name) != options_.sections.end();
        std::size_t longest = d;  // the first of the longest sections
        for (std::size_t e = 0; e < dims.size(); ++e)
            if (dims[e].kind == DimKind::Units && dims[e].size > dims[longest].size) longest = e;
        for (std::size_t e = 0; e < d; ++e)
            if (dims[e].kind == DimKind::Units && dims[e].size == dims[longest].size) return false;
        return longest == d;
    }

    std::vector<std::uint32_t> shared_blocks(const Dimension& section) const {
        std::vector<std::uint32_t> shared = options_.share_projecting ? section.projecting : std::vector<std::uint32_t>{};
        std::sort(shared.begin(), shared.end());
        if (shared.size() == section.size) shared.clear();  // nothing else to deal: deal these
        return shared;
    }

    std::vector<std::uint32_t> dealable_blocks(const Dimension& section) const {
        const auto shared = shared_blocks(section);
        std::vector<std::uint32_t> blocks;
        for (std::uint32_t i = 0; i < section.size; ++i)
            if (!std::binary_search(shared.begin(), shared.end(), i)) blocks.push_back(i);
        return blocks;
    }

    std::vector<std::vector<std::uint32_t>> deal(const std::vector<std::uint32_t>& blocks, std::size_t workers,
                                                 PartitionRng& rng) const {
        const std::size_t n = blocks.size();
        std::vector<std::uint32_t> order = blocks;
        detail::shuffle(order, rng);
        if (!options_.shares.empty()) return detail::cut_in_runs(order, detail::proportional_sizes(options_.shares, n));
        if (options_.min_depth * workers <= n) return NeuronPartition::split(order, workers);
        const std::size_t depth = std::min(options_.min_depth, n);
        std::vector<std::vector<std::uint32_t>> out(workers);
        for (std::size_t s = 0; s < workers; ++s)
            for (std::size_t k = 0; k < depth; ++k) out[s].push_back(order[(s * n / workers + k) % n]);
        return out;
    }

    ResistOptions options_;
};

}  // namespace ist
