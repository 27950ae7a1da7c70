// The programs as processes: ist-train killed with SIGKILL at several points (some mid-round, some
// mid-write) resumes from its checkpoint to bit-identical weights. Built apart from tests/train so
// that editing the trainer does not wait for the ist-train binary to rebuild.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>
#include "../scratch.hpp"

namespace fs = std::filesystem;

namespace {

fs::path scratch(const std::string& name) {
    return ist::test::scratch_path("programs", name);
}

std::vector<char> file_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

TEST_CASE("checkpoint: a process killed with SIGKILL resumes to bit-identical weights") {
    const std::vector<std::string> common{IST_TRAIN_EXE, "--quiet", "--hidden", "512,512", "--rounds", "60",
                                          "--carry-state", "--optimizer", "momentum", "--lr", "0.02"};
    // Starts ist-train; with `kill_after` > 0, SIGKILLs it `delay_ms` after it has written that
    // many new checkpoints (progress-driven, so the test means the same on a loaded machine).
    auto run = [&](std::vector<std::string> extra, const fs::path& ckpt, int kill_after, int delay_ms) {
        std::vector<std::string> args = common;
        args.insert(args.end(), extra.begin(), extra.end());
        std::fflush(stdout);
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            std::vector<char*> argv;
            for (auto& a : args) argv.push_back(a.data());
            argv.push_back(nullptr);
            std::freopen("/dev/null", "w", stdout);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        int status = 0, written = 0;
        bool reaped = false;
        ino_t last = 0;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (kill_after > 0 && !(reaped = ::waitpid(pid, &status, WNOHANG) == pid)) {
            struct stat st {};
            if (::stat(ckpt.c_str(), &st) == 0 && st.st_ino != last) {  // every write renames a new file in
                last = st.st_ino;
                if (++written > kill_after) {  // the first sighting may be the previous run's file
                    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
                    ::kill(pid, SIGKILL);
                    break;
                }
            }
            if (std::chrono::steady_clock::now() > deadline) ::kill(pid, SIGKILL);
            std::this_thread::sleep_for(std::chrono::microseconds(500));
        }
        if (!reaped) ::waitpid(pid, &status, 0);
        return status;
    };
    const fs::path reference = scratch("reference.npz"), resumed = scratch("resumed.npz"), ckpt = scratch("killed.npz");
    REQUIRE(run({"--save-model", reference.string()}, ckpt, 0, 0) == 0);
    fs::remove(ckpt);
    int kills = 0;
    for (int delay_ms : {0, 3, 7, 1, 11, 5}) {  // some kills land mid-round, some mid-write
        const int status = run({"--checkpoint", ckpt.string(), "--save-model", resumed.string()}, ckpt, 2, delay_ms);
        kills += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
    }
    MESSAGE("killed " << kills << " of 6 runs");
    CHECK(kills == 6);
    REQUIRE(fs::exists(ckpt));
    REQUIRE(run({"--checkpoint", ckpt.string(), "--save-model", resumed.string()}, ckpt, 0, 0) == 0);
    CHECK(file_bytes(reference) == file_bytes(resumed));
    CHECK_FALSE(fs::exists(ckpt.string() + ".tmp"));  // a kill mid-write leaves one; the next write replaces it
}
