#pragma once
// ist-bench talk --bytes: bytes per round of a ResNet101-shaped network under local SGD and
// ResIST (Dun et al. 2022) at S = 2 / 4 / 8, by the library's own accounting (the partitioner's
// plan, Network::subnet and the transport's payload_bytes of each worker's package; no training),
// beside the ResIST reference README's figures. Deterministic.
#include <cstdint>
#include <cstdio>
#include <ostream>
#include <string>

#include <ist/ist.hpp>

#include "talk_reference.hpp"

namespace ist_bench::talk {

/// The network of ResIST_release's PreActResNet101: pre-activation basic blocks, stages [3, 4, 23,
/// 3] of 64 / 128 / 256 / 512 channels, CIFAR-sized inputs (3 x 32 x 32), 10 classes. (Ours ends
/// with BatchNorm -> ReLU before the pool, 1,024 parameters the reference lacks.)
inline ist::Network resnet101_shape() {
    return ist::make_preact_resnet({.channels = 3, .height = 32, .width = 32, .classes = 10,
                                    .stage_channels = {64, 128, 256, 512}, .stage_blocks = {3, 4, 23, 3}, .seed = 1});
}

/// Bytes one round moves: every worker receives its package (its subnet) and returns it.
template <class Partitioner>
std::uint64_t bytes_per_round(const ist::Network& net, const Partitioner& partitioner, std::size_t S) {
    const auto& dims = net.dimensions();
    partitioner.validate(dims, S);
    ist::PartitionRng rng(42);
    std::uint64_t bytes = 0;
    for (const ist::WorkerPlan& plan : partitioner.plan(dims, S, rng)) {
        ist::WorkerPackage<ist::Network> package{.model = net.subnet(plan), .optimizer_state = {}};
        bytes += 2 * ist::payload_bytes(package);
    }
    return bytes;
}

inline int print_resnet101_bytes(std::ostream& out) {
    const ist::Network net = resnet101_shape();
    const double params = static_cast<double>(net.parameter_elements());
    char line[256];
    std::snprintf(line, sizeof line,
                  "ResNet101-shaped network (ResIST_release's PreActResNet101: basic pre-activation blocks, stages "
                  "[3, 4, 23, 3],\nwidths 64-128-256-512, 3x32x32 inputs, 10 classes): %.0f parameters, %.1f MB as fp32\n",
                  params, params * 4 / 1e6);
    out << line
        << "bytes per round = what the S workers receive and return (library accounting: plan, subnet, "
           "payload_bytes);\nResIST deals the 22 non-strided blocks of the 23-block section, the rest is "
           "shared; GB = 1e9 bytes, GiB = 2^30;\nthe last column gives every subnet a minimum depth D "
           "(ResistOptions::min_depth; D = 11 / 6 / 4 at S = 2 / 4 / 8)\n\n";
    std::snprintf(line, sizeof line, "  %3s  %-20s %-9s  %-20s %-9s  %-20s\n", "S", "local SGD: GB (GiB)", "reference",
                  "ResIST: GB (GiB)", "reference", "ResIST, depth D");
    out << line;
    const std::size_t min_depth[] = {11, 6, 4};
    for (std::size_t i = 0; i < kTalkWorkers.size(); ++i) {
        const std::size_t S = kTalkWorkers[i];
        const double local = static_cast<double>(bytes_per_round(net, ist::FullModel{}, S));
        const double resist = static_cast<double>(bytes_per_round(net, ist::ResistPartition{}, S));
        ist::ResistOptions deep;
        deep.min_depth = min_depth[i];
        const double deeper = static_cast<double>(bytes_per_round(net, ist::ResistPartition(deep), S));
        const auto cell = [](double b) {
            char c[48];
            std::snprintf(c, sizeof c, "%.3f (%.3f)", b / 1e9, b / (1024.0 * 1024.0 * 1024.0));
            return std::string(c);
        };
        std::snprintf(line, sizeof line, "  %3zu  %-20s %-9.2f  %-20s %-9.2f  %-20s\n", S, cell(local).c_str(),
                      kResnet101LocalSgdGB[i], cell(resist).c_str(), kResnet101ResistGB[i], cell(deeper).c_str());
        out << line;
    }
    return 0;
}

}  // namespace ist_bench::talk
