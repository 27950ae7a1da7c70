#pragma once
// A real transport with chosen (round, worker) pairs made to throw or to stall: the faulty
// workers of tests/transport/test_faults.cpp (threads) and tests/transport/mpi/test_stragglers.cpp (MPI).
#include <chrono>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>

#include <ist/ist.hpp>

namespace ist::test {

template <class Base>
class FaultyTransport : public Base {
public:
    using Fault = std::pair<std::size_t, std::size_t>;  // 1-based round, worker
    FaultyTransport(typename Base::Options options, std::set<Fault> failures, std::set<Fault> stalls = {},
                    std::chrono::milliseconds stall = std::chrono::milliseconds(0))
        : Base(options), failures_(std::move(failures)), stalls_(std::move(stalls)), stall_(stall) {}

    /// Base's round, the faults injected; `merges`: a MergesDuringRound hook's, passed on.
    template <class Extract, class Work, class... Merges>
    auto round(std::size_t workers, Extract&& extract, Work work, Replicas replicas, Merges... merges) {
        ++round_;
        auto faulty = [work, r = round_, failures = failures_, stalls = stalls_, stall = stall_](auto& pkg,
                                                                                                Communicator& comm) {
            if (failures.count({r, comm.worker()})) throw std::runtime_error("injected failure");
            if (stalls.count({r, comm.worker()})) std::this_thread::sleep_for(stall);
            work(pkg, comm);
        };
        return Base::round(workers, std::forward<Extract>(extract), faulty, replicas, merges...);
    }

private:
    std::set<Fault> failures_, stalls_;
    std::chrono::milliseconds stall_;
    std::size_t round_ = 0;
};

}  // namespace ist::test
