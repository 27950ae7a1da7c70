#pragma once
// What the MPI test programs share: pass/fail counting (a plain main prints the totals), a toy
// package whose values show where it has been, and a hash of a model's weights to compare ranks.
#include <array>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <ist/ist.hpp>
#include <ist/transport/mpi/mpi_transport.hpp>

namespace ist::mpi_test {

inline int passed = 0, failed = 0;
inline int my_rank = 0;

inline void check(bool ok, const std::string& what) {
    if (ok) {
        ++passed;
    } else {
        ++failed;
        std::fprintf(stderr, "[rank %d] FAILED: %s\n", my_rank, what.c_str());
    }
}

/// The main() of an MPI test program: MPI up, `body(S)` on every rank (S = np; an exception ends
/// the job naming `program`), then this rank's counts; non-zero if a check failed.
template <class Body>
int run_on_every_rank(int argc, char** argv, const std::string& program, Body body) {
    MpiEnvironment mpi(argc, argv);
    my_rank = MpiEnvironment::rank();
    try {
        body(static_cast<std::size_t>(MpiEnvironment::size()));
    } catch (const std::exception& e) {
        MpiEnvironment::abort(program + ": uncaught: " + e.what(), 2);
    }
    std::printf("[rank %d] %d passed, %d failed\n", my_rank, passed, failed);
    return failed ? 1 : 0;
}

template <class F>
void check_throws(F&& f, const std::string& expected, const std::string& what) {
    try {
        f();
        check(false, what + ": nothing thrown");
    } catch (const std::exception& e) {
        check(std::string(e.what()).find(expected) != std::string::npos,
              what + ": message '" + e.what() + "' lacks '" + expected + "'");
    }
}

/// A package of the test's own: tensor sizes depend on the worker, one scalar.
struct Toy {
    std::vector<Tensor> ts;
    std::array<double, 1> stat{};
    std::vector<Tensor*> tensors() {
        std::vector<Tensor*> out;
        for (auto& t : ts) out.push_back(&t);
        return out;
    }
    std::span<double> scalars() { return stat; }
};

inline std::uint64_t toy_bytes(std::size_t s) { return ((s + 1) * 3 + 5) * sizeof(float); }

inline Toy make_toy(std::size_t s, bool coordinator) {
    Toy t;
    t.ts.push_back(xt::zeros<float>({s + 1, std::size_t{3}}));
    t.ts.push_back(xt::zeros<float>({std::size_t{5}}));
    for (auto& x : t.ts)
        for (std::size_t i = 0; i < x.size(); ++i) x.data()[i] = coordinator ? static_cast<float>(100 * s + i) : -1.0f;
    return t;
}

/// Hash of every parameter's bits, to compare ranks.
template <class Model>
std::uint64_t weights_hash(const Model& net) {
    Fingerprint f;
    for (std::size_t i = 0; i < net.parameter_count(); ++i)
        for (float v : net.parameter(i).value) {
            std::uint32_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            f.add(bits);
        }
    return f.value();
}

/// test_stragglers.cpp: round_timeout, quorum and drop_failed_workers under mpiexec.
void straggler_checks(std::size_t S);
/// Rank 1 stalls for good after being dropped: rank 0 must time out waiting for its late result.
int stall_after_drop();

}  // namespace ist::mpi_test
