#!/usr/bin/python3
"""ctest cluster.*: ist-train over MPI across an emulated cluster (tools/ist-cluster: 2 network
namespaces, 100 Mbit/s tbf links) against the threads transport and against the links' byte counters.

  cluster_check.py --tool tools/ist-cluster --train build/examples/ist-train [--name istct]
  cluster_check.py --tool ... --down-only      # the ctest fixture's clean-up
  cluster_check.py --tool ... --train ... --bench bench/cluster_bench.py   # the bench on tiny settings
  cluster_check.py --tool ... --train ... --faults bench/cluster_faults.py --scenarios cut-dropping,kill
  cluster_check.py --tool ... --train ... --fed bench/cluster_fed.py     # the edge scenario, tiny

For IST, local SGD, data parallel, IST with q8-coded updates and IST with the sharded parameter node,
on the embedded digits:
- the weights checksum of `ist-cluster run -- ist-train --transport mpi` equals the threads transport's;
- the bytes of node 1's link (its eth0's kernel counters, both directions) against what ist counted for
  worker 1 (rank 1, the only one on that link at S = 2): counted <= wire <= 1.1 x counted + 256 bytes per
  message (headers, MPI's framing and TCP's acknowledgements of small messages), once per round (the
  difference between a 4-round and a 1-round run, so MPI's start-up cancels) and once for the whole
  4-round run, where a fixed allowance covers MPI's start-up (the daemons' wire-up and ist's handshake,
  about 15 KB here): every byte on the wire is one ist counted (ist-train broadcasts no final model).
Exits 77 (ctest SKIP_RETURN_CODE) with a "cluster: SKIP" line where it cannot run: not root, no network
namespaces, no tbf, no mpirun. The cluster is taken down on every exit; afterwards no namespace, cgroup,
host interface or process of it may remain.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from ist_output import weights_checksum  # noqa: E402 (bench/ is not a package)

SKIP = 77
ROUNDS_SHORT, ROUNDS_LONG = 1, 4
LOCAL_STEPS = 10  # ist-train's default l
ALLOWANCE_PER_MESSAGE = 256
START_UP_ALLOWANCE = 64 * 1024  # a whole run's: OpenMPI's launch over the link and ist's handshake
# Messages between rank 0 and rank 1 per round, a generous count (the bound's slack, not a protocol
# check): the subnet down, status and result up, the verdict, the stop flag both ways; data parallel
# adds a contribution up and the mean down per local step; the sharded node adds shard exchanges.
MESSAGES_PER_ROUND = {"ist": 8, "local-sgd": 8, "data-parallel": 8 + 2 * LOCAL_STEPS, "ist-q8": 8, "ist-sharded": 16}
# name: (options of both runs, options of the MPI run only). The sharded node trains what the central
# node, and so the threads transport, trains.
CASES = {
    "ist": (["--method", "ist"], []),
    "local-sgd": (["--method", "local-sgd"], []),
    "data-parallel": (["--method", "data-parallel"], []),
    "ist-q8": (["--method", "ist", "--codec", "q8", "--code-updates"], []),
    "ist-sharded": (["--method", "ist"], ["--parameter-node", "sharded"]),
}
BENCH_CLUSTER = "istctb"  # the bench check's cluster, apart from the bench's own
FAULTS_CLUSTER = "istctf"  # the fault check's
FED_CLUSTER = "istctd"  # the edge scenario check's
# What `ist-cluster up` says where the kernel or iproute2 lacks what it needs: the test skips.
MISSING_KERNEL_FEATURES = r"sch_tbf|namespaces are not available|not found \(install iproute2\)|Unknown device type"
STEP_TIMEOUT = "30"  # seconds per MPI run (about 1 s each here)


class Failed(Exception):
    pass


def skip(reason):
    print(f"cluster: SKIP: {reason}")
    sys.exit(SKIP)


def tool(args, *verb, check=True):
    done = subprocess.run([sys.executable, args.tool, "--name", args.name, *verb], capture_output=True, text=True,
                          timeout=180)
    if check and done.returncode != 0:
        raise Failed(f"ist-cluster {' '.join(verb)} failed (rc {done.returncode}):\n{done.stdout}{done.stderr}")
    return done


def checksum(output, what):
    return weights_checksum(output, what, Failed)


def run_threads(args, options, rounds):
    argv = [args.train, "--quiet", "--workers", "2", "--rounds", str(rounds)] + options
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise Failed(f"{' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return checksum(done.stdout, "the threads run")


def node1_bytes(args):
    counters = json.loads(tool(args, "counters").stdout)[f"{args.name}-n1"]
    return counters["tx"] + counters["rx"]


def link_counted(history, sharded):
    """What ist counted that crosses node 1's link at S = 2. Central node (rank 0 holds the model and is
    worker 0): worker 1's subnets down and up; worker 0's are counted too but stay on rank 0. Sharded
    node: every counted byte, since each worker's pieces owned by the other rank and rank 1's shard
    gathered to rank 0 are all that is counted, and there is only one link."""
    for m in history:
        if len(m["worker_bytes"]) != 2 or (sum(m["worker_bytes"]) != m["bytes"] and not sharded):
            raise Failed(f"round {m['round']}: worker_bytes {m['worker_bytes']} do not add up to bytes {m['bytes']}")
    return sum(m["bytes"] if sharded else m["worker_bytes"][1] for m in history)


def run_mpi(args, options, rounds, log):
    """(checksum, bytes node 1's link carried, bytes ist counted for that link) of one run over the cluster."""
    before = node1_bytes(args)
    done = tool(args, "run", "--timeout", STEP_TIMEOUT, "--", args.train, "--transport", "mpi", "--quiet",
                "--workers", "2", "--rounds", str(rounds), "--log", log, *options, check=False)
    wire = node1_bytes(args) - before
    if done.returncode != 0:
        raise Failed(f"the MPI run failed (rc {done.returncode}):\n{done.stdout}{done.stderr}")
    with open(log) as f:
        history = json.load(f)
    return checksum(done.stdout, "the MPI run"), wire, link_counted(history, "sharded" in options)


def check_case(args, name, options, mpi_options, scratch):
    reference = run_threads(args, options, ROUNDS_LONG)
    options = options + mpi_options
    _, wire_short, counted_short = run_mpi(args, options, ROUNDS_SHORT, os.path.join(scratch, f"{name}-1.json"))
    over_mpi, wire_long, counted_long = run_mpi(args, options, ROUNDS_LONG, os.path.join(scratch, f"{name}-4.json"))
    counted, wire = counted_long - counted_short, wire_long - wire_short
    bound = wire_bound(name, counted, ROUNDS_LONG - ROUNDS_SHORT)
    whole_bound = wire_bound(name, counted_long, ROUNDS_LONG) + START_UP_ALLOWANCE
    print(f"{name:<14} checksum mpi {over_mpi} threads {reference}   rounds 2-{ROUNDS_LONG}: counted {counted} <= "
          f"wire {wire} <= {bound:.0f} (x{wire / counted:.4f})   whole {ROUNDS_LONG}-round run: counted "
          f"{counted_long} <= wire {wire_long} <= {whole_bound:.0f} (+{wire_long - counted_long} uncounted)", flush=True)
    problems = []
    if over_mpi != reference:
        problems.append(f"{name}: weights differ: {over_mpi} over MPI, {reference} with threads")
    if counted <= 0:
        problems.append(f"{name}: ist counted no bytes for worker 1")
    elif not counted <= wire <= bound:
        problems.append(f"{name}: wire {wire} bytes not within [counted {counted}, {bound:.0f}]")
    if not counted_long <= wire_long <= whole_bound:
        problems.append(f"{name}: the whole run's wire {wire_long} bytes not within [counted {counted_long}, "
                        f"{whole_bound:.0f}]: bytes on the link that ist did not count")
    return problems


def wire_bound(name, counted, rounds):
    """The most `rounds` rounds that ist counted `counted` bytes for may put on the wire: 10 % over, plus
    headers and acknowledgements of every message."""
    return 1.1 * counted + ALLOWANCE_PER_MESSAGE * MESSAGES_PER_ROUND[name] * rounds


def host_links():
    return sorted(line.split(":")[1].strip() for line in
                  subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout.splitlines())


def leftovers(args):
    """Whatever of the cluster still exists: namespaces, cgroups, state."""
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split()
    left = [n for n in names if n.startswith(f"{args.name}-")]
    for controller in ("cpu", "cpuset"):
        base = f"/sys/fs/cgroup/{controller}"
        if os.path.isdir(base):
            left += [f"{base}/{d}" for d in os.listdir(base) if d.startswith(f"{args.name}-")]
    if os.path.exists(f"/run/ist-cluster/{args.name}"):
        left.append(f"/run/ist-cluster/{args.name}")
    return left


def can_run(args):
    if os.geteuid() != 0:
        skip("not root: an emulated cluster needs network namespaces, tc and cgroups (CI runs this as root)")
    if not shutil.which("ip") or subprocess.run(["ip", "netns", "list"], capture_output=True).returncode != 0:
        skip("no network namespaces here (ip netns list fails)")
    if not shutil.which("mpirun"):
        skip("no mpirun (apt-get install openmpi-bin)")


def check_bench(args):
    """bench/cluster_bench.py on tiny settings, twice on one journal: the first sitting runs and journals
    the run, the second finds it and runs nothing; the report shows its row and the final line."""
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        skip("no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    journal = tempfile.NamedTemporaryFile(prefix="cluster-bench-", suffix=".jsonl", delete=False).name
    argv = [sys.executable, args.bench, "--journal", journal, "--train", args.train, "--cluster", BENCH_CLUSTER,
            "--links", "100mbit",
            "--nets", "2", "--seeds", "42", "--systems", "ist-ist", "--width", "16", "--rounds", "1",
            "--targets", "0.1,0.2", "--allow-load", "--include-loaded"]
    try:
        sittings = [subprocess.run(argv, capture_output=True, text=True, timeout=300) for _ in range(2)]
        with open(journal) as f:
            runs = [json.loads(line) for line in f if '"kind": "run"' in line]
    finally:
        os.remove(journal)
    problems = [f"sitting {i + 1} failed (rc {s.returncode}):\n{s.stdout}{s.stderr}"
                for i, s in enumerate(sittings) if s.returncode != 0]
    if not problems:
        first, second = sittings[0].stdout, sittings[1].stdout
        row = re.search(r"^100mbit .*ist IST \(MPI\) +([\d.]+) +([\d.]+) +(0\.\d+) +([\d.]+) +([\d.]+)", second, re.M)
        checks = [(len(runs) == 1, f"the journal holds {len(runs)} runs, 1 expected"),
                  ("seed 42: final" in first, "the first sitting ran nothing"),
                  ("seed 42: final" not in second, "the second sitting ran the journalled run again"),
                  (row is not None and float(row.group(4)) > 0, "no report row with wire bytes for ist IST"),
                  ("real links S=2: vs DDP 1gbit -, vs PyTorch IST 100mbit -" in second, "no final line")]
        problems = [message for ok, message in checks if not ok]
        print(second, end="")
    for problem in problems:
        print(f"FAILED: {problem}")
    print("cluster: " + ("FAILED" if problems else "passed: the bench journals, resumes and reports"))
    return 1 if problems else 0


def check_faults(args):
    """bench/cluster_faults.py's scenarios (it brings its cluster up and down): every one ends, as
    the script asserts; a job outliving its timeout is reported as a hang."""
    argv = [sys.executable, args.faults, "--train", args.train, "--tool", args.tool, "--cluster", FAULTS_CLUSTER,
            "--scenarios", args.scenarios]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "ist-cluster up failed" in done.stdout and re.search(MISSING_KERNEL_FEATURES, done.stdout):
        skip(done.stdout.strip())
    print(done.stdout + done.stderr, end="")
    return 0 if done.returncode == 0 else 1


def check_fed(args):
    """bench/cluster_fed.py on tiny settings (a trial under load, never a result): both methods run on
    4 nodes with throttled CPUs and on threads with the simulated slowdown, and train the same weights
    (the script fails otherwise); its table is printed."""
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        skip("no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
    argv = [sys.executable, args.fed, "--train", args.train, "--tool", args.tool, "--cluster", FED_CLUSTER,
            "--methods", "ist-equal,fedavg", "--rounds", "2", "--eval-every", "1", "--hidden", "16,16",
            "--train-rows", "2000", "--allow-load"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    print(done.stdout + done.stderr, end="")
    rows = re.findall(r"^(ist-equal|fedavg) .* yes$", done.stdout, re.M)
    ok = done.returncode == 0 and sorted(rows) == ["fedavg", "ist-equal"]
    print("cluster: " + ("passed: the edge scenario runs, same weights measured and modelled" if ok else "FAILED"))
    return 0 if ok else 1


def on_signal(signum, _frame):
    raise Failed(f"interrupted by signal {signum}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tool", required=True)
    p.add_argument("--train")
    p.add_argument("--name", default="istct")
    p.add_argument("--down-only", action="store_true")
    p.add_argument("--bench", help="check bench/cluster_bench.py instead")
    p.add_argument("--faults", help="run bench/cluster_faults.py's --scenarios instead")
    p.add_argument("--scenarios", default="cut-dropping,kill")
    p.add_argument("--fed", help="run bench/cluster_fed.py on tiny settings instead")
    args = p.parse_args()
    can_run(args)
    if args.bench:
        return check_bench(args)
    if args.faults:
        return check_faults(args)
    if args.fed:
        return check_fed(args)
    if args.down_only:
        left = []
        for name in (args.name, BENCH_CLUSTER, FAULTS_CLUSTER, FED_CLUSTER):
            args.name = name
            tool(args, "down")
            left += leftovers(args)
        if left:
            print(f"FAILED: left behind after down: {left}")
        return 1 if left else 0
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    tool(args, "down")  # a previous run killed before its clean-up
    links_before = host_links()
    problems = []
    scratch = tempfile.mkdtemp(prefix="ist-cluster-test-")
    try:
        up = tool(args, "up", "--nodes", "2", "--link", "100mbit", check=False)
        if up.returncode != 0 and re.search(MISSING_KERNEL_FEATURES, up.stderr):
            skip(up.stderr.strip())
        if up.returncode != 0:
            raise Failed(f"ist-cluster up failed:\n{up.stdout}{up.stderr}")
        print(tool(args, "status", "--no-probe").stdout, end="")
        for name, (options, mpi_options) in CASES.items():
            problems += check_case(args, name, options, mpi_options, scratch)
    except Failed as e:
        problems.append(str(e))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        down = tool(args, "down", check=False)
        if down.returncode != 0:
            problems.append(f"ist-cluster down failed:\n{down.stdout}{down.stderr}")
        left = leftovers(args)
        if left:
            problems.append(f"left behind after down: {left}")
        if host_links() != links_before:
            problems.append(f"the host's interfaces changed: {links_before} -> {host_links()}")
    for problem in problems:
        print(f"FAILED: {problem}")
    print("cluster: " + ("FAILED" if problems else "passed: bit-identical to threads, wire bytes within the bound, "
                          "nothing left behind"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
