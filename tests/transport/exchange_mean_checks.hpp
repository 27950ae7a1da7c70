#pragma once
// The checks of allreduce_mean by direct exchange (transport/coordinator_reduction.hpp), run on
// one rank of a transport whose ranks are workers (MpiTransport under mpiexec, WireTransport over
// MailboxWire threads): each returns the checks that failed on this rank, so that ranks running as
// threads report after they are joined. The oracle is a hand-written loop: the workers' values
// added from +0 in worker order 0..S-1, times 1/S (as OrderedMean documents it); the values mix
// magnitudes so that another order rounds differently (checked: the test could fail).
#include <array>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include <ist/ist.hpp>

namespace ist::exchange_mean_test {

/// A package of one float: the rounds here only all-reduce.
struct Blank {
    std::vector<Tensor> ts;
    std::array<double, 1> stat{};
    static Blank make() {
        Blank b;
        b.ts.push_back(xt::zeros<float>({std::size_t{1}}));
        return b;
    }
    std::vector<Tensor*> tensors() { return {&ts[0]}; }
    std::span<double> scalars() { return stat; }
};

/// Every worker's n values, stored before any sum reads them (products summed as they are made
/// could be contracted into fused multiply-adds, which round otherwise): random mantissas of a
/// scale per worker, so sums round by order.
inline std::vector<std::vector<float>> contributions(std::size_t S, std::size_t n) {
    std::vector<std::vector<float>> values(S, std::vector<float>(n));
    for (std::size_t w = 0; w < S; ++w)
        for (std::size_t i = 0; i < n; ++i) {
            const float unit = static_cast<float>((i * 2654435761u + w * 40503u) % 1000u) / 997.0f - 0.5f;
            values[w][i] = unit * (1.0f + 3.0f * static_cast<float>(w));
        }
    return values;
}

/// The oracle: value i of every worker added from +0 in worker order (or reversed), times 1/S.
inline float ordered_mean(const std::vector<std::vector<float>>& values, std::size_t i, bool reversed = false) {
    const std::size_t S = values.size();
    float sum = 0.0f;
    for (std::size_t k = 0; k < S; ++k) sum += values[reversed ? S - 1 - k : k][i];
    return sum * (1.0f / static_cast<float>(S));
}

/// The lengths a chunked all-reduce must get right at S: shorter than S (empty chunks), S - 1,
/// S + 1 (uneven chunks), and a large odd one.
inline std::vector<std::size_t> lengths(std::size_t S) { return {1, S - 1, S + 1, (std::size_t{1} << 20) + 3}; }

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

/// Runs `work(comm)` in one data-parallel round (every worker in every all-reduce); returns what
/// it threw on this rank, or "" if nothing.
template <class T, class Work>
std::string round_error(T& transport, std::size_t S, Work&& work, std::vector<std::uint64_t>* bytes = nullptr) {
    try {
        auto result = transport.round(
            S, [](std::size_t) { return Blank::make(); }, [&](Blank&, Communicator& comm) { work(comm); }, Replicas::Persistent);
        if (bytes) *bytes = result.traffic.sent;
        return "";
    } catch (const std::exception& e) {
        return e.what();
    }
}

/// Every check on rank `me` of S; the failures' descriptions.
template <class T>
std::vector<std::string> failures(T& transport, std::size_t S, std::size_t me) {
    std::vector<std::string> failed;
    const auto check = [&](bool ok, const std::string& what) {
        if (!ok) failed.push_back("S = " + std::to_string(S) + ", rank " + std::to_string(me) + ": " + what);
    };
    // The mean of every length, bit for bit the hand-written ordered sum; the bytes each way are
    // every all-reduce's message (4 n), as every transport counts them.
    std::vector<std::uint64_t> bytes;
    std::uint64_t expected_bytes = 0;
    bool order_matters = false;
    const std::string error = round_error(transport, S, [&](Communicator& comm) {
        for (std::size_t n : lengths(S)) {
            const std::vector<std::vector<float>> values = contributions(S, n);
            std::vector<float> v = values[comm.worker()];
            comm.allreduce_mean(v);
            std::size_t wrong = 0;
            for (std::size_t i = 0; i < n; ++i) {
                wrong += !same_bits(v[i], ordered_mean(values, i));
                order_matters |= !same_bits(ordered_mean(values, i, true), ordered_mean(values, i));
            }
            check(wrong == 0, "length " + std::to_string(n) + ": " + std::to_string(wrong) +
                                  " values differ from the ordered sum x 1/S");
            expected_bytes += 4 * n;
        }
    }, &bytes);
    check(error.empty(), "the all-reduces threw: " + error);
    check(S < 3 || order_matters, "the values round differently in reverse order (the check can fail)");
    for (std::size_t s = 0; s < bytes.size(); ++s)
        if (me == 0 || s == me)
            check(bytes[s] == expected_bytes, "worker " + std::to_string(s) + " sent " + std::to_string(bytes[s]) +
                                                  " bytes, " + std::to_string(expected_bytes) + " expected");

    // A wrong length, on the last worker (judged by worker 0 before any chunk moves), or on worker
    // 0 itself: every rank ends with the coordinator's std::logic_error; nothing is left in flight.
    const std::string wrong_length = "allreduce_mean: workers passed buffers of different lengths";
    for (std::size_t odd : {S - 1, std::size_t{0}}) {
        const std::string got = round_error(transport, S, [&](Communicator& comm) {
            std::vector<float> v(S + 1 + (comm.worker() == odd ? 1 : 0), 1.0f);
            comm.allreduce_mean(v);
        });
        check(got == wrong_length, "worker " + std::to_string(odd) + "'s wrong length: '" + got + "'");
    }
    // A worker that leaves before a large all-reduce (the others wait in it): its error, everywhere.
    for (std::size_t leaver : {S - 1, std::size_t{0}}) {
        const std::string boom = "boom from worker " + std::to_string(leaver);
        const std::string got = round_error(transport, S, [&](Communicator& comm) {
            std::vector<float> v(lengths(S).back(), 1.0f);
            comm.allreduce_mean(v);
            if (comm.worker() == leaver) throw TrainingError(boom);
            comm.allreduce_mean(v);
        });
        check(got == boom, "worker " + std::to_string(leaver) + " left mid-reduction: '" + got + "'");
    }
    // And the transport still reduces afterwards.
    const std::string after = round_error(transport, S, [&](Communicator& comm) {
        std::vector<float> v(S + 1, static_cast<float>(comm.worker()));
        comm.allreduce_mean(v);
        float sum = 0.0f;
        for (std::size_t w = 0; w < S; ++w) sum += static_cast<float>(w);
        check(same_bits(v.back(), sum * (1.0f / static_cast<float>(S))), "a round after the failures reduces");
    });
    check(after.empty(), "a round after the failures threw: " + after);
    return failed;
}

}  // namespace ist::exchange_mean_test
