#!/usr/bin/python3
"""The talk's comparison on real links (issue 29, part 2): S = 2 nodes of an emulated cluster
(tools/ist-cluster), one per core, joined by tbf-shaped links; ist's IST, IST with q8-coded updates,
local SGD and data parallel over MPI beside the PyTorch reference-IST port and PyTorch DDP over gloo,
on the same links, the same Fashion-MNIST arrays and the same hyper-parameters as bench/peers.sh.

  bench/cluster_bench.py --journal FILE [--build build] [--links 10gbit,1gbit,100mbit] [--nets 2,3]
                         [--seeds 42,43,44] [--nodes 2[,4]] [--rounds 6] [--width 4096] [--systems ...]
                         [--max-runs K]
  bench/cluster_bench.py --journal FILE --report       # the table from the journal, nothing run

Every finished run is appended to the journal (JSON lines), keyed by (net, link, system, seed, S) under the
settings that decide its numbers, so the table can be built over several sittings: a run already in the
journal is not run again. A timed run needs a quiet machine: it starts only while the 1-minute load is
below --max-load (1.5). Above it the command waits up to --load-wait seconds (default 300: a finished
run's own ranks keep the 1-minute average up for a while), then stops and says so. --allow-load runs anyway for a trial; such rows
are journalled as loaded and never enter the table or its final line.

Per run: seconds of training to each target accuracy (each system's own clock around its rounds,
evaluation excluded, as ist's trainer and the PyTorch scripts count), the final accuracy, the process's wall
time, the bytes node 1's link carried (its eth0's counters, both directions) and, for ist, what ist counted
for that link; for ist, the median round measured, the network model's round (support/network_model.hpp:
the workers' own compute seconds plus the modelled communication at the link's nominal rate) and the
compute plus node 1's counted bytes at the measured goodput. Per link: the goodput a 1 s TCP stream
achieved (`ist-cluster status`). The last line:
  real links S=2: vs DDP 1gbit xA.AA, vs PyTorch IST 100mbit xB.BB
(the 3-layer net, median seconds to the first target: PyTorch DDP / ist IST at 1 Gbit/s, and the PyTorch
IST port / ist IST with --codec q8 --code-updates at 100 Mbit/s).
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from jsonl_journal import append_row, read_rows, utc_now

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "tools", "ist-cluster")
PYTHON = "/usr/bin/python3"
SYSTEMS = {  # name: (label, ist-train options, or the PyTorch script)
    "ist-ist": ("ist IST (MPI)", ["--method", "ist"], None),
    "ist-ist-q8": ("ist IST --codec q8 --code-updates", ["--method", "ist", "--codec", "q8", "--code-updates"], None),
    "ist-local-sgd": ("ist local SGD (MPI)", ["--method", "local-sgd"], None),
    "ist-dp": ("ist data parallel (MPI)", ["--method", "data-parallel"], None),
    "pytorch-ist": ("PyTorch IST port (gloo)", None, "pytorch_ist.py"),
    "pytorch-ddp": ("PyTorch DDP (gloo)", None, "pytorch_ddp.py"),
}
NETS = {"2": "2-layer", "3": "3-layer"}


class BenchError(Exception):
    pass


def arguments():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--journal", required=True, help="the journal file (JSON lines), created if missing")
    p.add_argument("--build", default="build", help="build directory with ist-train (default build)")
    p.add_argument("--train", help="the ist-train program (default: found in --build)")
    p.add_argument("--cluster", default="istcb", help="the emulated cluster's name (default istcb)")
    p.add_argument("--links", default="10gbit,1gbit,100mbit")
    p.add_argument("--nets", default="2,3", help="2 = one hidden layer, 3 = two hidden layers (default 2,3)")
    p.add_argument("--seeds", default="42,43,44")
    p.add_argument("--nodes", default="2", help="S: nodes, one rank each; a list runs each (default 2; e.g. 2,4)")
    p.add_argument("--systems", default=",".join(SYSTEMS))
    p.add_argument("--width", type=int, default=4096, help="hidden width (default 4096)")
    p.add_argument("--rounds", type=int, default=6, help="rounds of l = 20 steps (default 6)")
    p.add_argument("--targets", default="0.80,0.84")
    p.add_argument("--max-load", type=float, default=1.5, help="1-minute load above which timed runs wait (1.5)")
    p.add_argument("--load-wait", type=float, default=300,
                   help="seconds a timed run waits for the load to fall below --max-load before the command stops (300)")
    p.add_argument("--allow-load", action="store_true", help="run under load anyway (trial rows, never reported)")
    p.add_argument("--max-runs", type=int, default=0, help="stop after this many new runs (0: all)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds per run before it is ended (default 3600)")
    p.add_argument("--report", action="store_true", help="print the table from the journal; run nothing")
    p.add_argument("--include-loaded", action="store_true",
                   help="the table with the trial rows run under load too (to check the command, not results)")
    a = p.parse_args()
    a.links = a.links.split(",")
    a.nets = a.nets.split(",")
    a.seeds = [int(s) for s in a.seeds.split(",")]
    a.nodes = [int(n) for n in a.nodes.split(",")]
    if any(n < 2 for n in a.nodes):
        p.error("--nodes: every S must be at least 2")
    a.systems = a.systems.split(",")
    a.targets = [float(t) for t in a.targets.split(",")]
    for name in a.systems:
        if name not in SYSTEMS:
            p.error(f"--systems: '{name}' is not one of {', '.join(SYSTEMS)}")
    for net in a.nets:
        if net not in NETS:
            p.error(f"--nets: '{net}' is not 2 or 3")
    return a


def settings_key(a):
    """What decides a run's numbers besides (net, link, system, seed); other settings' rows are kept, unused."""
    return f"width={a.width};rounds={a.rounds};l=20;batch=128;lr=0.01;data=fashion-mnist;whole-set;cpu=1"


def hidden(a, net):
    return ",".join([str(a.width)] * (int(net) - 1))


CLUSTER = "istcb"  # --cluster


def tool(*argv, timeout=120):
    done = subprocess.run([PYTHON, TOOL, "--name", CLUSTER, *argv], capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"ist-cluster {' '.join(argv)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def node1_bytes():
    c = json.loads(tool("counters"))[f"{CLUSTER}-n1"]
    return c["tx"] + c["rx"]


# --- the journal ---------------------------------------------------------------------------------

def read_journal(path):
    return [row for _, row in read_rows(path, lambda number: BenchError(f"{path}:{number}: not a JSON line"))]


# --- one run -------------------------------------------------------------------------------------

def ist_train(build, train=None):
    if train:
        return os.path.abspath(train)
    for path in (os.path.join(build, "examples", "ist-train"), os.path.join(build, "examples", "cli", "ist-train")):
        if os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise BenchError(f"ist-train not found in {build}; build it (cmake --build {build} --target ist-train)")


def common_options(a, net, seed):
    return ["--hidden", hidden(a, net), "--lr", "0.01", "--batch", "128", "--local-steps", "20",
            "--rounds", str(a.rounds), "--seed", str(seed)]


def round_parts(history):
    """ist's rounds, medians: measured wall seconds, compute (the slowest worker's own seconds), bytes
    counted (all workers, as the network model counts them) and bytes of worker 1 (node 1's link)."""
    med = statistics.median
    rounds = [m["seconds"] - (history[i - 1]["seconds"] if i else 0.0) for i, m in enumerate(history)]  # cumulative in the log
    return {"round_seconds": med(rounds),
            "compute_seconds": med(max(m["worker_seconds"], default=0.0) for m in history),
            "bytes_round": med(m["bytes"] for m in history),
            "link_bytes_round": med(m["worker_bytes"][1] for m in history)}


def run_system(a, net, system, seed, nodes, scratch):
    """(points [(seconds, accuracy)], counted bytes for node 1's link or None, wall seconds, wire bytes,
    ist's round parts (round_parts) or None)."""
    _, ist_options, script = SYSTEMS[system]
    if ist_options is not None:
        log = os.path.join(scratch, "log.json")
        command = ["run", "--timeout", str(a.timeout), "--", ist_train(a.build, a.train), "--transport", "mpi", "--workers", str(nodes),
                   "--data", "fashion-mnist", "--whole-set", "--quiet", "--log", log] + common_options(a, net, seed) + ist_options
    else:
        command = ["run", "--gloo", "--timeout", str(a.timeout), "--", PYTHON, os.path.join(HERE, script),
                   "--workers", str(nodes)] + common_options(a, net, seed)
    before, start = node1_bytes(), time.perf_counter()
    output = tool(*command, timeout=a.timeout + 60)
    wall, wire = time.perf_counter() - start, node1_bytes() - before
    if ist_options is not None:
        with open(log) as f:
            history = json.load(f)
        points = [(m["seconds"], m["test_accuracy"]) for m in history if m["test_accuracy"] is not None]
        counted = sum(m["worker_bytes"][1] for m in history)  # rank 1's subnets: all that crosses node 1's link
        parts = round_parts(history)
    else:
        points = [(float(w[w.index("seconds") + 1]), float(w[w.index("accuracy") + 1]))
                  for w in (line.split() for line in output.splitlines()) if w[:1] == ["eval"]]
        counted, parts = None, None
    if not points:
        raise BenchError(f"{system}: no evaluation in its output:\n{output}")
    return points, counted, wall, wire, parts


def bring_up(link, nodes):
    tool("down")
    tool("up", "--nodes", str(nodes), "--link", link)
    status = tool("status", timeout=120)
    rates = re.findall(r"([\d.]+ [kMG]?bit/s)", status)
    return status, rates


def run_key(r):
    return r["net"], r["link"], r["system"], r["seed"], r.get("nodes", 2)


def run_missing(a, rows):
    key = settings_key(a)
    done = {run_key(r) for r in rows if r.get("kind") == "run" and r["settings"] == key and (r["quiet"] or a.allow_load)}
    sitting = {"new_runs": 0}
    scratch = tempfile.mkdtemp(prefix="cluster-bench-")
    try:
        for link in a.links:
            for nodes in a.nodes:
                todo = [(net, system, seed) for net in a.nets for system in a.systems for seed in a.seeds
                        if (net, link, system, seed, nodes) not in done]
                if todo and not run_on_cluster(a, key, link, nodes, todo, sitting, scratch):
                    return
    finally:
        tool("down")
        shutil.rmtree(scratch, ignore_errors=True)


def run_on_cluster(a, key, link, nodes, todo, sitting, scratch):
    """Runs `todo` on S = nodes nodes joined by `link`; False once --max-runs is reached."""
    # The probe is a timing too (at 10 Gbit/s a core's worth of copying): taken once the machine is
    # quiet, and stamped with the load before it, as a run is.
    load = os.getloadavg() if a.allow_load else wait_for_quiet(a)
    status, rates = bring_up(link, nodes)
    print(status, end="", flush=True)
    append_row(a.journal, {"kind": "link", "link": link, "nodes": nodes, "goodput": rates, "load": load,
                       "date": utc_now(), "quiet": load[0] < a.max_load})
    for net, system, seed in todo:
        if a.max_runs and sitting["new_runs"] >= a.max_runs:
            print(f"cluster-bench: stopped after --max-runs {a.max_runs} new runs; run again to go on")
            return False
        load = os.getloadavg() if a.allow_load else wait_for_quiet(a)
        quiet = load[0] < a.max_load
        if not quiet and not a.allow_load:
            raise BenchError(f"the load is {load[0]:.2f} >= {a.max_load}: timed runs need a quiet machine; "
                             f"{sitting['new_runs']} runs done this sitting, the journal keeps them; run again later")
        points, counted, wall, wire, parts = run_system(a, net, system, seed, nodes, scratch)
        append_row(a.journal, {"kind": "run", "settings": key, "net": net, "link": link, "system": system, "seed": seed,
                           "nodes": nodes, "points": points, "counted_bytes": counted, "wire_bytes": wire,
                           "wall_seconds": wall, "load": load, "quiet": quiet, "date": utc_now(), "rounds": parts})
        sitting["new_runs"] += 1
        print(f"  {NETS[net]} S={nodes} {link} {SYSTEMS[system][0]} seed {seed}: final {points[-1][1]:.4f} after "
              f"{points[-1][0]:.1f} s, wire {wire / 1e6:.1f} MB{'' if quiet else ' (UNDER LOAD: trial)'}", flush=True)
    return True


# --- the table -----------------------------------------------------------------------------------

def seconds_to(points, target):
    return next((s for s, acc in points if acc >= target), None)


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def cell(value, fmt):
    return format(value, fmt) if value is not None else "-"


def report(a, rows):
    key = settings_key(a)
    usable = (lambda r: True) if a.include_loaded else (lambda r: r["quiet"])
    runs = [r for r in rows if r.get("kind") == "run" and r["settings"] == key and usable(r)]
    links = {r["link"]: r for r in rows if r.get("kind") == "link" and usable(r)}
    if a.include_loaded:
        print("INCLUDING ROWS RUN UNDER LOAD: a check of the command, not results")
    first = {}
    for nodes in a.nodes:
        for net in a.nets:
            print(f"\n{NETS[net]} net 784-{hidden(a, net).replace(',', '-')}-10, S = {nodes} nodes on "
                  f"{os.cpu_count()} cores, l = 20, batch 128, lr 0.01, {a.rounds} rounds, Fashion-MNIST; medians over "
                  "seeds" + ("" if a.include_loaded else f"; quiet runs only (load < {a.max_load})"))
            head = "".join(f"{'s to ' + format(t, '.2f'):>10}" for t in a.targets)
            print(f"{'link':<9}{'goodput':>12}  {'system':<36}{head}{'final acc':>10}{'wire MB':>9}{'ist MB':>8}"
                  f"{'wall s':>8}{'round s':>8}{'model s':>8}{'c+b/g s':>8}{'runs':>5}{'load':>6}")
            for link in a.links:
                goodput = links.get(link, {}).get("goodput", ["-"])[0]
                for system in a.systems:
                    mine = [r for r in runs if run_key(r)[:3] == (net, link, system) and run_key(r)[4] == nodes]
                    if mine:
                        first[(net, link, system, nodes)] = report_row(a, link, goodput, system, mine, nodes)
    print(final_line(first))


ALPHA_SECONDS = 50e-6  # support/network_model.hpp's kAlpha
UNITS = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "m": 1e6, "G": 1e9, "g": 1e9}


def bytes_per_second(rate):
    """'1gbit' or '0.87 Gbit/s' in bytes per second."""
    found = re.fullmatch(r"([\d.]+) ?([kKmMgG]?)bit(/s)?", rate)
    return float(found.group(1)) * UNITS[found.group(2)] / 8 if found else None


def wait_for_quiet(a):
    """The load averages once the 1-minute one is below --max-load, polled every 5 s for at most
    --load-wait seconds (the last reading if it never fell)."""
    deadline = time.monotonic() + a.load_wait
    load = os.getloadavg()
    if load[0] >= a.max_load and a.load_wait > 0:
        print(f"cluster-bench: load {load[0]:.2f} >= {a.max_load}: waiting up to {a.load_wait:.0f} s for it to fall",
              flush=True)
    while load[0] >= a.max_load and time.monotonic() < deadline:
        time.sleep(5)
        load = os.getloadavg()
    return load


def modelled_round(system, parts, nodes, link):
    """support/network_model.hpp's round for the deployment that ran: the compute measured on the
    cluster plus the modelled communication at the link's nominal rate (a ring all-reduce for data
    parallel, l = 20). For IST and local SGD it is the parameter node's formula with the coordinator
    on rank 0, which is also worker 0, as ist's MPI transport runs: worker 0's package never leaves
    rank 0, so rank 0's link carries the other S - 1 workers' bytes in 2 (S - 1) messages. (The docs'
    modelled columns model a parameter node of its own, which every worker's bytes cross: S / (S - 1)
    times these bytes.)"""
    beta, S = bytes_per_second(link), nodes
    if system == "ist-dp":
        model_bytes = parts["bytes_round"] / (2 * S * 20)
        comm = 20 * (2 * (S - 1) * ALPHA_SECONDS + 2 * (S - 1) / S * model_bytes / beta)
    else:
        comm = 2 * (S - 1) * ALPHA_SECONDS + parts["bytes_round"] * (S - 1) / S / beta
    return parts["compute_seconds"] + comm


def round_columns(system, mine, nodes, link, goodput):
    """Medians over seeds: measured round seconds, the network model's, and the compute plus node 1's
    counted bytes at the measured goodput (issue 29 (b): a round should cost no more)."""
    parts = [r["rounds"] for r in mine if r.get("rounds")]
    if not parts:
        return None, None, None
    if system == "ist-dp":  # its workers' seconds hold the all-reduces of every step: no compute to add bytes to
        return statistics.median(p["round_seconds"] for p in parts), None, None
    good = bytes_per_second(goodput) if goodput != "-" else None
    return (statistics.median(p["round_seconds"] for p in parts),
            statistics.median(modelled_round(system, p, nodes, link) for p in parts),
            statistics.median(p["compute_seconds"] + p["link_bytes_round"] / good for p in parts) if good else None)


def report_row(a, link, goodput, system, mine, nodes):
    """Prints one system's row (medians over its seeds); returns its seconds to the first target."""
    reached = [median_or_none([seconds_to(r["points"], t) for r in mine]) for t in a.targets]
    counted = median_or_none([r["counted_bytes"] for r in mine])
    measured, modelled, compute_and_bytes = round_columns(system, mine, nodes, link, goodput)
    print(f"{link:<9}{goodput:>12}  {SYSTEMS[system][0]:<36}"
          + "".join(f"{cell(s, '.1f'):>10}" for s in reached)
          + f"{statistics.median(r['points'][-1][1] for r in mine):>10.4f}"
          + f"{statistics.median(r['wire_bytes'] for r in mine) / 1e6:>9.1f}"
          + f"{cell(counted / 1e6 if counted is not None else None, '.1f'):>8}"
          + f"{statistics.median(r['wall_seconds'] for r in mine):>8.1f}"
          + f"{cell(measured, '.2f'):>8}{cell(modelled, '.2f'):>8}{cell(compute_and_bytes, '.2f'):>8}{len(mine):>5}"
          + f"{max(r['load'][0] for r in mine):>6.2f}")
    return reached[0]


def ratio(first, slower, faster):
    s, f = first.get(slower), first.get(faster)
    return f"x{s / f:.2f}" if s and f else "-"


def final_line(first):
    """The targets of issue 29: 3-layer net, S = 2, seconds to the first target."""
    vs_ddp = ratio(first, ("3", "1gbit", "pytorch-ddp", 2), ("3", "1gbit", "ist-ist", 2))
    vs_port = ratio(first, ("3", "100mbit", "pytorch-ist", 2), ("3", "100mbit", "ist-ist-q8", 2))
    return f"real links S=2: vs DDP 1gbit {vs_ddp}, vs PyTorch IST 100mbit {vs_port}"


def main():
    global CLUSTER
    a = arguments()
    CLUSTER = a.cluster
    try:
        if not a.report:
            if os.geteuid() != 0:
                raise BenchError("needs root for the emulated cluster (tools/ist-cluster); try sudo")
            run_missing(a, read_journal(a.journal))
        report(a, read_journal(a.journal))
    except BenchError as e:
        print(f"cluster-bench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cluster-bench: interrupted; the journal keeps every finished run", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
