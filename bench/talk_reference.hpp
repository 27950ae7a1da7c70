#pragma once
// The talk's own numbers, printed beside ours by `ist-bench talk` (seconds to an accuracy on the
// Google Speech networks, m5.2xlarge CPU nodes, from the IST talk / Yuan et al. 2019; ResNet101
// bytes per round from the ResIST reference's README, Dun et al. 2022).
#include <array>
#include <cstddef>

namespace ist_bench::talk {

/// Seconds to reach `accuracy` at S = 2 / 4 / 8 for data parallel, local SGD and IST.
struct TalkRow {
    std::size_t hidden_layers;  ///< 1 = the talk's "2-layer" net, 2 = its "3-layer" net
    double accuracy;
    std::array<double, 3> data_parallel, local_sgd, ist;
};

inline constexpr std::array<TalkRow, 4> kSpeechRows{{
    {1, 0.63, {118, 269, 450}, {68, 130, 235}, {35, 28, 24}},
    {1, 0.75, {759, 1708, 2417}, {444, 742, 1110}, {231, 167, 192}},
    {2, 0.63, {376, 1228, 1922}, {182, 586, 1115}, {76, 141, 300}},
    {2, 0.75, {4534, 9340, 14886}, {2032, 4107, 6539}, {812, 664, 1161}},
}};
inline constexpr std::array<std::size_t, 3> kTalkWorkers{2, 4, 8};

/// Final accuracy of data parallel / local SGD / IST on Speech, by hidden layers (1 or 2).
struct TalkFinal {
    std::size_t hidden_layers;
    double data_parallel, local_sgd, ist;
};
inline constexpr std::array<TalkFinal, 2> kSpeechFinal{{{1, 0.7938, 0.7998, 0.8153}, {2, 0.7950, 0.7992, 0.8327}}};

/// ResNet101 bytes per round (GB, as the README states them) at S = 2 / 4 / 8.
inline constexpr std::array<double, 3> kResnet101LocalSgdGB{0.66, 1.33, 2.65};
inline constexpr std::array<double, 3> kResnet101ResistGB{0.45, 0.72, 1.29};

}  // namespace ist_bench::talk
