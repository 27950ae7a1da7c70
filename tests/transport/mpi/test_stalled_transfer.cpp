// A transfer stalled mid-round (a link cut while a subnet or a trained package is on its way) must
// not hold the round past its timeout: the coordinator drops the worker at the deadline, receives
// what was stalled in the background, and the next round's messages are never confused with it.
// Two ranks drive the coordinator's session directly; rank 1 plays a worker whose messages stall
// (it sleeps where the link would be down). Before this rule, rank 0 waited out every stall.
#include <chrono>
#include <thread>

#include <ist/transport/mpi/session.hpp>

#include "mpi_check.hpp"

namespace ist::mpi_test {
namespace {

using namespace std::chrono_literals;
using detail::Outcome;
using detail::mpi::Session;

constexpr auto kRoundTimeout = 100ms;
constexpr auto kStall = 1500ms;                   ///< fifteen round timeouts
constexpr std::size_t kSubnetBytes = 16 << 20;    ///< far past the eager limit: sent only once taken
constexpr std::size_t kPackageBytes = 1000;

std::vector<char> filled(std::size_t bytes, char c) { return std::vector<char>(bytes, c); }

void send_status(Session& st) {
    Outcome ok;
    ok.worker = 1;
    ok.round = st.round;
    const std::vector<char> status = ok.encode();
    st.channel.send(status.data(), status.size(), 0, detail::mpi::kStatus, "a status");
}

/// Rank 0's gather of one round, as MpiTransport's take_back does it when dropping.
void gather(Session& st, std::vector<char>& package) {
    const auto deadline = Session::Clock::now() + kRoundTimeout;
    st.record_own_outcome(Outcome{});
    st.gather_until(deadline, [&](int k) {
        std::optional<std::vector<char>> got = st.take_package(k, deadline);
        if (got) package = std::move(*got);
        return got.has_value();
    });
}

std::string outcome_of(const Session& st, std::size_t k) { return st.outcomes[k] ? st.outcomes[k]->message : "none"; }

/// Round 1: worker 1's status is in, its package stalls. Round 2: an unstalled package comes
/// through, and it is round 2's, not round 1's late one.
void package_stalls(Session& st) {
    st.begin_round();
    if (st.channel.rank() == 1) {
        send_status(st);
        std::this_thread::sleep_for(kStall);
        st.channel.send(filled(kPackageBytes, 'a').data(), kPackageBytes, 0, detail::mpi::kUp, "round 1's package");
    } else {
        std::vector<char> package;
        gather(st, package);
        check(outcome_of(st, 1) == "its trained package did not arrive in time",
              "a stalled package drops its worker at the deadline (outcome: " + outcome_of(st, 1) + ")");
        st.wait_idle();  // the stalled package, received and discarded
    }
    MPI_Barrier(MPI_COMM_WORLD);
    st.begin_round();
    if (st.channel.rank() == 1) {
        send_status(st);
        st.channel.send(filled(kPackageBytes, 'b').data(), kPackageBytes, 0, detail::mpi::kUp, "round 2's package");
    } else {
        std::vector<char> package;
        gather(st, package);
        check(st.outcomes[1] && st.outcomes[1]->ok(), "round 2's package is taken (outcome: " + outcome_of(st, 1) + ")");
        check(package == filled(kPackageBytes, 'b'), "round 2 takes round 2's package, not round 1's late one");
    }
}

/// A subnet the worker does not take within the timeout drops it from the round as late; its
/// late status and package are then drained.
void subnet_stalls(Session& st) {
    MPI_Barrier(MPI_COMM_WORLD);
    st.begin_round();
    if (st.channel.rank() == 1) {
        std::this_thread::sleep_for(kStall);
        std::vector<char> subnet(kSubnetBytes);
        st.channel.receive_exact(0, detail::mpi::kDown, subnet.data(), subnet.size(), "the subnet");
        check(subnet == filled(kSubnetBytes, 's'), "the late subnet arrives whole");
        send_status(st);
        st.channel.send(filled(kPackageBytes, 'c').data(), kPackageBytes, 0, detail::mpi::kUp, "the late package");
    } else {
        std::vector<std::vector<char>> bytes{{}, filled(kSubnetBytes, 's')};
        std::vector<MPI_Request> sends{MPI_REQUEST_NULL,
                                       st.channel.isend(bytes[1].data(), bytes[1].size(), 1, detail::mpi::kDown)};
        st.await_subnets_until(bytes, sends, Session::Clock::now() + kRoundTimeout);
        check(outcome_of(st, 1) == "did not take its subnet in time",
              "an untaken subnet drops its worker at the deadline (outcome: " + outcome_of(st, 1) + ")");
        st.wait_idle();
    }
}

}  // namespace
}  // namespace ist::mpi_test

int main(int argc, char** argv) {
    using namespace ist::mpi_test;
    return run_on_every_rank(argc, argv, "test_stalled_transfer", [](std::size_t S) {
        check(S == 2, "runs on 2 ranks");
        Session st(MPI_COMM_WORLD, 30.0);
        st.ready(2);
        st.policy = {kRoundTimeout, 0, false};
        package_stalls(st);
        subnet_stalls(st);
    });
}
