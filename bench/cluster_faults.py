#!/usr/bin/python3
"""Faults on real links (issue 29, part 6): ist-train over MPI on a 2-node emulated cluster
(tools/ist-cluster) while one node's link is cut or its rank is killed. docs/cluster.md, "Faults on
real links", shows the command and what it found.

  sudo bench/cluster_faults.py --train build/examples/ist-train [--cluster istcf] [--cut-seconds 5]

Scenarios (each bounded: every job has ist-cluster's --timeout and IST_MPI_TIMEOUT, every wait a deadline):
  cut-dropping   node 1's link down for --cut-seconds mid-training, with --round-timeout (and
                 --time-budget: --cut-seconds + 10 s of training): rounds go on
                 without worker 1 (dropped, its slice keeps its values), and it rejoins once its link is back
  cut-in-transfer  the same with a wide net and one local step, so that rounds are mostly transfers
                 and the cut lands mid-message: a subnet or a package stalled on the cut link is dropped
                 at the deadline, not waited for
  cut-waiting    the same cut without --round-timeout: rank 0 waits, and the run ends with the weights
                 of an unbroken run (TCP retransmits what the cut lost)
  cut-timeout    the same cut without --round-timeout, IST_MPI_TIMEOUT half as long as the cut: the
                 waiting rank ends the job, naming the rank it waited for
  kill           SIGKILL of rank 1 mid-training, with --round-timeout: OpenMPI ends the whole job, naming
                 the rank (it cannot continue past a dead peer) -- never a hang
  resume         SIGKILL of rank 1 in a --checkpoint run, then the same command again: it resumes from
                 the checkpoint and ends with the unbroken run's weights checksum (byte-identical)
Exits 0 when every scenario behaved so, 1 otherwise. The cluster is taken down on every exit.
"""
import argparse
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

from ist_output import weights_checksum

# Small and quick (digits). The dropping runs are planned for many rounds and end by a budget of
# training seconds instead (--time-budget): the cut, TCP's retransmission backoff and rounds after the
# rejoin all fit, however fast rank 0 runs rounds alone (tens of milliseconds each, or a few).
PLANNED_ROUNDS = 1000000
AFTER_CUT_SECONDS = 10   # training seconds beyond the cut: the late result arrives, then rounds with it
TRAIN_OPTIONS = ["--transport", "mpi", "--workers", "2", "--local-steps", "40", "--eval-every", "10"]
# Rounds that are mostly transfers: a 1.2 MB subnet each way (about 0.1 s per direction at 100 Mbit/s)
# and one local step, within the round timeout when the link is up.
TRANSFER_BOUND_OPTIONS = ["--transport", "mpi", "--workers", "2", "--local-steps", "1", "--hidden", "1024,1024",
                          "--eval-every", "50"]
ROUND_TIMEOUT_MS = "300"
MPI_TIMEOUT = "30"       # IST_MPI_TIMEOUT: the longest any rank waits for a message
JOB_TIMEOUT = 90         # ist-cluster run --timeout
FAULT_AT_ROUND = 3       # inject once the log shows this round (training is under way)
SCENARIOS = ("cut-dropping", "cut-in-transfer", "cut-waiting", "cut-timeout", "kill", "resume")


class Failed(Exception):
    pass


class Setup:
    def __init__(self, args, scratch):
        self.args, self.scratch = args, scratch

    def tool(self, *verb, timeout=180):
        return subprocess.run([sys.executable, self.args.tool, "--name", self.args.cluster, *verb],
                              capture_output=True, text=True, timeout=timeout)

    def node(self, i):
        return f"{self.args.cluster}-n{i}"

    def path(self, name):
        return os.path.join(self.scratch, name)


class Job:
    """One `ist-cluster run -- ist-train ...` in the background; its log shows how far it got."""

    def __init__(self, setup, name, options, log=True, mpi_timeout=MPI_TIMEOUT, base=TRAIN_OPTIONS):
        self.setup, self.log = setup, setup.path(f"{name}.json") if log else None
        argv = [sys.executable, setup.args.tool, "--name", setup.args.cluster, "run", "--timeout", str(JOB_TIMEOUT),
                "--", setup.args.train, *base, *options] + (["--log", self.log] if log else [])
        env = dict(os.environ, IST_MPI_TIMEOUT=str(mpi_timeout))
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                     start_new_session=True)
        self.lines = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True)
        self.reader.start()

    def rounds(self):
        """The rounds logged so far (the log is flushed every round; it lacks its ']' until the end)."""
        try:
            with open(self.log) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return []
        text = text if text.endswith("]") else text.rstrip(",") + "]"
        try:
            return json.loads(text) if text != "]" else []
        except json.JSONDecodeError:
            return []

    def wait_for_round(self, k, seconds=60):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if len(self.rounds()) >= k:
                return
            if self.proc.poll() is not None:
                raise Failed(f"the job ended (rc {self.proc.returncode}) before round {k}:\n{self.output()}")
            time.sleep(0.05)
        raise Failed(f"round {k} not logged within {seconds} s")

    def finish(self):
        """(rc, seconds since start); a job still running after its own timeout plus a margin is a hang."""
        try:
            self.proc.wait(JOB_TIMEOUT + 30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
            raise Failed(f"HANG: the job outlived ist-cluster run --timeout {JOB_TIMEOUT} s:\n{self.output()}")
        self.reader.join(10)
        return self.proc.returncode, time.monotonic() - self.started

    def output(self):
        return "".join(self.lines)

    def final_accuracy(self):
        m = re.search(r"final test accuracy [0-9.]+", self.output())
        return m.group(0) if m else "no final accuracy printed"

    def checksum(self):
        return weights_checksum(self.output(), "the job", Failed)


def cut_link(setup, node, seconds):
    """ip link set eth0 down inside the node's namespace, for `seconds`, then up again (always)."""
    ns = setup.node(node)
    subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "down"], check=True, timeout=10)
    try:
        time.sleep(seconds)
    finally:
        subprocess.run(["ip", "-n", ns, "link", "set", "eth0", "up"], check=True, timeout=10)


def kill_rank(setup, node):
    """SIGKILL the ist-train process inside the node's namespace (found by its executable, by pid)."""
    train = os.path.realpath(setup.args.train)
    pids = subprocess.run(["ip", "netns", "pids", setup.node(node)], capture_output=True, text=True,
                          timeout=10).stdout.split()
    killed = []
    for pid in map(int, pids):
        try:
            if os.path.realpath(f"/proc/{pid}/exe") == train:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
        except (FileNotFoundError, ProcessLookupError):
            pass
    if not killed:
        raise Failed(f"no ist-train process found in {setup.node(node)}")


def rounds_option(n):
    return ["--rounds", str(n)]


def budget_options(setup):
    return ["--rounds", str(PLANNED_ROUNDS), "--time-budget", str(setup.args.cut_seconds + AFTER_CUT_SECONDS)]


def dropped(m):
    return 1 in m.get("dropped", [])


def scenario_cut_dropping(setup, name="cut-dropping", base=TRAIN_OPTIONS):
    job = Job(setup, name, budget_options(setup) + ["--round-timeout", ROUND_TIMEOUT_MS, "--quiet"], base=base)
    job.wait_for_round(FAULT_AT_ROUND)
    cut_at = len(job.rounds())
    cut_link(setup, 1, setup.args.cut_seconds)
    back_at = len(job.rounds())
    rc, seconds = job.finish()
    history = job.rounds()
    if rc != 0:
        raise Failed(f"the job failed (rc {rc}) instead of dropping worker 1:\n{job.output()}")
    gone = [m["round"] for m in history if dropped(m)]
    rejoined = [m["round"] for m in history if gone and m["round"] > gone[-1]]
    if not gone:
        raise Failed(f"worker 1 was never dropped while its link was down (cut after round {cut_at}, back after "
                     f"round {back_at}, {len(history)} rounds in {history[-1]['seconds'] if history else 0:.1f} "
                     f"training s)")
    if not rejoined:
        raise Failed(f"worker 1 never rejoined: dropped from rounds {gone[0]}-{gone[-1]} of {len(history)}")
    lag = history[rejoined[0] - 1]["seconds"] - history[max(back_at, 1) - 1]["seconds"]
    return (f"link cut after round {cut_at}, back after round {back_at}; worker 1 dropped from rounds "
            f"{gone[0]}-{gone[-1]} ({len(gone)} rounds), rejoined in round {rejoined[0]} ({lag:.1f} training s after "
            f"the link was back) and trained "
            f"{len(rejoined)} more; rc 0 in {seconds:.1f} s; {job.final_accuracy()}")


def unbroken_checksum(setup, rounds):
    job = Job(setup, "unbroken", rounds_option(rounds) + ["--quiet"], log=False)
    rc, _ = job.finish()
    if rc != 0:
        raise Failed(f"the unbroken run failed (rc {rc}):\n{job.output()}")
    return job.checksum()


def scenario_cut_waiting(setup, reference):
    job = Job(setup, "cut-waiting", rounds_option(setup.args.resume_rounds) + ["--quiet"])
    job.wait_for_round(FAULT_AT_ROUND)
    cut_link(setup, 1, setup.args.cut_seconds)
    rc, seconds = job.finish()
    if rc != 0:
        raise Failed(f"the job failed (rc {rc}) across a {setup.args.cut_seconds} s cut:\n{job.output()}")
    if job.checksum() != reference:
        raise Failed(f"weights {job.checksum()} after the cut, {reference} unbroken")
    return f"rc 0 in {seconds:.1f} s, weights checksum {job.checksum()} = the unbroken run's"


def scenario_cut_timeout(setup):
    timeout = max(1, int(setup.args.cut_seconds / 2))  # the cut outlasts it
    job = Job(setup, "cut-timeout", budget_options(setup) + ["--quiet"], mpi_timeout=timeout)
    job.wait_for_round(FAULT_AT_ROUND)
    cut_link(setup, 1, setup.args.cut_seconds)
    rc, _ = job.finish()
    named = re.search(r"rank \d of 2: timed out after \d+ s waiting for [^;]*", job.output())
    if rc == 0 or not named:
        raise Failed(f"the job ended rc {rc} {'naming' if named else 'without naming'} the rank it waited for:\n"
                     f"{job.output()}")
    return f"IST_MPI_TIMEOUT={timeout}: the job ended rc {rc}: \"{named.group(0)}\""


def scenario_kill(setup):
    job = Job(setup, "kill", budget_options(setup) + ["--round-timeout", ROUND_TIMEOUT_MS, "--quiet"])
    job.wait_for_round(FAULT_AT_ROUND)
    killed_at = time.monotonic()
    kill_rank(setup, 1)
    rc, _ = job.finish()
    named = re.search(r"process rank 1 .*exited on signal 9|rank 1\b", job.output())
    if rc == 0:
        raise Failed(f"the job ended rc 0 after rank 1 was killed:\n{job.output()}")
    if not named:
        raise Failed(f"the job ended (rc {rc}) without naming rank 1:\n{job.output()}")
    return (f"job ended rc {rc}, {time.monotonic() - killed_at:.1f} s after the kill, naming it: "
            f"\"{named.group(0)}\"")


def scenario_resume(setup, reference):
    checkpoint = setup.path("resume.ckpt")
    options = rounds_option(setup.args.resume_rounds) + ["--checkpoint", checkpoint, "--quiet"]
    job = Job(setup, "resume-killed", options)
    job.wait_for_round(FAULT_AT_ROUND)
    kill_rank(setup, 1)
    rc, _ = job.finish()
    done_before = len(job.rounds())
    if rc == 0 or not os.path.exists(checkpoint):
        raise Failed(f"the killed run ended rc {rc}, checkpoint {'present' if os.path.exists(checkpoint) else 'missing'}")
    resumed = Job(setup, "resume", options)
    rc, _ = resumed.finish()
    first = resumed.rounds()[0]["round"] if resumed.rounds() else None
    if rc != 0:
        raise Failed(f"the resumed run failed (rc {rc}):\n{resumed.output()}")
    if first is None or first <= 1:
        raise Failed(f"the second run did not resume (its first round is {first})")
    if resumed.checksum() != reference:
        raise Failed(f"weights {resumed.checksum()} resumed, {reference} unbroken")
    return (f"killed after round {done_before} (rc 137 from mpirun), resumed at round {first}: weights checksum "
            f"{resumed.checksum()} = the unbroken run's")


def run_scenarios(setup):
    reference = functools.cache(lambda: unbroken_checksum(setup, setup.args.resume_rounds))
    scenarios = {
        "cut-dropping": lambda: scenario_cut_dropping(setup),
        "cut-in-transfer": lambda: scenario_cut_dropping(setup, "cut-in-transfer", TRANSFER_BOUND_OPTIONS),
        "cut-waiting": lambda: scenario_cut_waiting(setup, reference()),
        "cut-timeout": lambda: scenario_cut_timeout(setup),
        "kill": lambda: scenario_kill(setup),
        "resume": lambda: scenario_resume(setup, reference()),
    }
    failures = 0
    for name in setup.args.scenarios.split(","):
        try:
            print(f"{name:<15} ok: {scenarios[name]()}", flush=True)
        except Failed as e:
            failures += 1
            print(f"{name:<15} FAILED: {e}", flush=True)
    return failures


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    here = os.path.dirname(os.path.abspath(__file__))
    p.add_argument("--train", required=True, help="the ist-train executable")
    p.add_argument("--tool", default=os.path.join(here, "..", "tools", "ist-cluster"))
    p.add_argument("--cluster", default="istcf", help="the cluster's name (brought up and taken down here)")
    p.add_argument("--link", default="100mbit")
    p.add_argument("--cut-seconds", type=float, default=5.0)
    p.add_argument("--resume-rounds", type=int, default=20, help="rounds of the unbroken, waiting and resumed runs")
    p.add_argument("--scenarios", default=",".join(SCENARIOS))
    args = p.parse_args()
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        p.error(f"--scenarios: unknown {sorted(unknown)}")
    args.train = os.path.abspath(args.train)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _f: (_ for _ in ()).throw(Failed(f"interrupted by signal {signum}")))
    scratch = tempfile.mkdtemp(prefix="ist-cluster-faults-")
    setup = Setup(args, scratch)
    failures = 1
    try:
        setup.tool("down")
        up = setup.tool("up", "--nodes", "2", "--link", args.link)
        if up.returncode != 0:
            print(f"ist-cluster up failed:\n{up.stdout}{up.stderr}")
            return 1
        print(f"faults on a 2-node cluster, links {args.link}, cut {args.cut_seconds:g} s, "
              f"--round-timeout {ROUND_TIMEOUT_MS} ms, IST_MPI_TIMEOUT {MPI_TIMEOUT} s", flush=True)
        failures = run_scenarios(setup)
    finally:
        down = setup.tool("down")
        if down.returncode != 0:
            print(f"ist-cluster down failed:\n{down.stdout}{down.stderr}")
            failures += 1
        shutil.rmtree(scratch, ignore_errors=True)
    print("faults: " + ("FAILED" if failures else "passed: no hang; dropped and rejoined, or ended naming the rank; "
                        "resumed byte-identical"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
