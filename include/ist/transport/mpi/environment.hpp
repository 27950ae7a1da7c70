#pragma once
// MpiEnvironment: MPI_Init_thread / MPI_Finalize for the lifetime of a scope.
//
// Link ist::mpi (CMake) to use this header; nothing else in ist needs MPI. See docs/cluster.md.
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

namespace ist {

/// MPI for the lifetime of a scope: MPI_Init_thread on construction (unless MPI is already
/// initialised, in which case it does nothing), MPI_Finalize on destruction. Destroyed during
/// stack unwinding it calls MPI_Abort instead, since the other ranks may be waiting for this one.
class MpiEnvironment {
public:
    MpiEnvironment() : MpiEnvironment(nullptr, nullptr) {}
    MpiEnvironment(int& argc, char**& argv) : MpiEnvironment(&argc, &argv) {}
    MpiEnvironment(int* argc, char*** argv, int required = MPI_THREAD_FUNNELED) {
        int initialised = 0;
        MPI_Initialized(&initialised);
        if (initialised) {
            MPI_Query_thread(&provided_);
            return;
        }
        if (MPI_Init_thread(argc, argv, required, &provided_) != MPI_SUCCESS)
            throw std::runtime_error("MpiEnvironment: MPI_Init_thread failed");
        owner_ = true;
        uncaught_ = std::uncaught_exceptions();
    }
    MpiEnvironment(const MpiEnvironment&) = delete;
    MpiEnvironment& operator=(const MpiEnvironment&) = delete;
    ~MpiEnvironment() {
        int finalized = 0;
        MPI_Finalized(&finalized);
        if (!owner_ || finalized) return;
        if (std::uncaught_exceptions() > uncaught_) {
            std::fprintf(stderr, "ist: rank %d is unwinding an exception; aborting the MPI job\n", rank());
            std::fflush(stderr);
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
        MPI_Finalize();
    }

    static int rank() {
        int r = 0;
        MPI_Comm_rank(MPI_COMM_WORLD, &r);
        return r;
    }
    static int size() {
        int n = 1;
        MPI_Comm_size(MPI_COMM_WORLD, &n);
        return n;
    }
    int thread_level() const { return provided_; }

    /// Prints `message` (prefixed with the rank) to stderr and ends every process of the job.
    /// Errors that every rank detects alike (a launch mismatch, bad options) reach all ranks at once,
    /// and the first MPI_Abort kills the others, sometimes before rank 0 has printed: so the other
    /// ranks print, then give rank 0 `kRootFirst` to print and abort before they do. A rank that fails
    /// alone still ends the job, that much later.
    [[noreturn]] static void abort(const std::string& message, int code = 1) {
        std::fprintf(stderr, "[rank %d] %s\n", rank(), message.c_str());
        std::fflush(stderr);
        if (rank() != 0) std::this_thread::sleep_for(kRootFirst);
        MPI_Abort(MPI_COMM_WORLD, code);
        std::abort();
    }
    static constexpr std::chrono::milliseconds kRootFirst{500};

private:
    bool owner_ = false;
    int provided_ = 0;
    int uncaught_ = 0;
};

}  // namespace ist
