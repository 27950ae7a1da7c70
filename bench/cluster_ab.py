#!/usr/bin/python3
"""A/B of two ist-train builds on a cluster that is up (tools/ist-cluster), alternating A, B, A, B, ...
in one sitting so that both see the same load (issue 29, part 3: each transport change measured before
and after on real links).

  sudo bench/cluster_ab.py --cluster NAME --a OLD/ist-train --b NEW/ist-train [--pairs 3] -- OPTIONS...

OPTIONS are ist-train's (`--transport mpi --quiet --log FILE` are added). Per run it prints the process's
wall seconds, node 1's link bytes (its eth0's counters, both directions), what ist counted for that link
(worker 1's bytes over the rounds), the median round's seconds and, where the build reports them, the
workers' own seconds of local work (compute); then the medians of each side and the 1-minute load.
With --goodput RATE (what `ist-cluster status` measured, e.g. 958Mbit) each run also shows its counted
bytes per round at that rate (b/g), the ratio round / (compute + b/g) (issue 29, part 3: within 10 %)
and the 1-minute load when it ended.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from cluster_bench import bytes_per_second

TOOL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools", "ist-cluster")


def tool(cluster, *argv):
    done = subprocess.run([sys.executable, TOOL, "--name", cluster, *argv], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"cluster_ab: ist-cluster {' '.join(argv[:1])} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def node1_bytes(cluster):
    c = json.loads(tool(cluster, "counters"))[f"{cluster}-n1"]
    return c["tx"] + c["rx"]


def run(cluster, train, options, log):
    before, start = node1_bytes(cluster), time.perf_counter()
    tool(cluster, "run", "--", train, "--transport", "mpi", "--quiet", "--log", log, *options)
    wall, wire = time.perf_counter() - start, node1_bytes(cluster) - before
    with open(log) as f:
        history = json.load(f)
    compute = [max(m["worker_seconds"]) for m in history if m["worker_seconds"]]
    return {"wall": wall, "wire": wire, "counted": sum(m["worker_bytes"][1] for m in history),
            "round": statistics.median(round_seconds(history)),
            "compute": statistics.median(compute) if compute else None, "rounds": len(history),
            "load": os.getloadavg()[0]}


def round_seconds(history):
    """Each round's training seconds (the log holds the cumulative ones)."""
    return [m["seconds"] - (history[i - 1]["seconds"] if i else 0.0) for i, m in enumerate(history)]


def show(label, r, goodput):
    compute = f"{r['compute']:.3f}" if r["compute"] is not None else "-"
    line = (f"{label}  wall {r['wall']:7.2f} s  wire {r['wire'] / 1e6:9.3f} MB  counted {r['counted'] / 1e6:9.3f} MB"
            f"  round {r['round']:.3f} s  compute {compute} s")
    if goodput and r["compute"] is not None:
        wire_seconds = r["counted"] / r["rounds"] / goodput
        line += (f"  b/g {wire_seconds:.3f} s  round/(c+b/g) {r['round'] / (r['compute'] + wire_seconds):.3f}"
                 f"  load {r['load']:.1f}")
    print(line, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cluster", required=True)
    p.add_argument("--a", required=True, help="ist-train before the change")
    p.add_argument("--b", required=True, help="ist-train after the change")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--goodput", help="the link's measured goodput (e.g. 958Mbit): adds b/g and round/(c+b/g) per run")
    p.add_argument("options", nargs=argparse.REMAINDER)
    a = p.parse_args()
    options = a.options[1:] if a.options[:1] == ["--"] else a.options
    goodput = bytes_per_second(a.goodput) if a.goodput else None
    if a.goodput and not goodput:
        sys.exit(f"cluster_ab: --goodput {a.goodput}: not a rate (e.g. 958Mbit or 0.96 Gbit/s)")
    results = {"A": [], "B": []}
    with tempfile.TemporaryDirectory(prefix="cluster-ab-") as scratch:
        log = os.path.join(scratch, "log.json")
        for pair in range(a.pairs):
            for side, train in (("A", a.a), ("B", a.b)):
                results[side].append(run(a.cluster, train, options, log))
                show(f"{side} run {pair + 1}", results[side][-1], goodput)
    for side in ("A", "B"):
        med = {k: statistics.median(r[k] for r in results[side]) for k in ("wall", "wire", "counted", "round")}
        print(f"{side} median  wall {med['wall']:7.2f} s  wire {med['wire'] / 1e6:9.3f} MB  counted "
              f"{med['counted'] / 1e6:9.3f} MB  round {med['round']:.3f} s")
    print(f"load (1, 5, 15 min) {os.getloadavg()}")


if __name__ == "__main__":
    main()
