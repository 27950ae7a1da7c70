#!/usr/bin/python3
"""The edge scenario measured (issue 29, part 5): ist-fed-bench's setting on an emulated cluster.

  sudo bench/cluster_fed.py --train build/examples/ist-train [--alpha 0.5] [--rounds 60] [--seed 1]

ist-fed-bench (docs/federated.md) models time: 4 workers, one fast and three 2x slower by a simulated
`--slowdown 1,2,2,2`, each on a 10 Mbit/s link of its own, a round lasting as long as its slowest
worker's compute plus 2 alpha plus its bytes over its link (bench/network_model.hpp). Here the same
training runs twice with the same seed:
  modelled  ist-train --transport threads --slowdown 1,2,2,2: its log's per-worker seconds and bytes
            through that model (the same formula, alpha = 50 us, beta = the link's rate);
  measured  ist-train --transport mpi on `ist-cluster up --nodes 4 --link 1gbit,10mbit,10mbit,10mbit
            --cpu 1,0.5,0.5,0.5 --burst 16kb`: one rank per node, each on its own tbf link, three of
            four throttled to half a core by cgroup instead of the simulated slowdown; the wall seconds
            of its training (rank 0's clock, evaluation excluded).
Node 0 gets a fast link (--server-link) because rank 0 is also the parameter node: every other worker's
subnet crosses node 0's link, which the model, whose server has no link, does not charge. Worker 0
lives on rank 0, so its own bytes cross no link at all, where the model charges them at --link.
The two runs train the same model (their weights checksums are printed and compared), so the table
sets modelled against measured seconds for the same rounds: per round, in total, and to FedAvg's final
accuracy. Timed numbers need a quiet machine: below --max-load (1.5) only, or with --allow-load as a
trial that says so and is never a result.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

from ist_output import weights_checksum

ALPHA_SECONDS = 50e-6  # bench/network_model.hpp's kAlpha
FAST, SLOW = 1.0, 0.5  # the cluster's CPU shares: one full core, three half cores
SLOWDOWN = "1,2,2,2"   # ist-fed-bench's simulated devices, the same ratio
METHODS = {            # ist-fed-bench's methods as ist-train options (docs/federated.md)
    "ist-equal": ["--method", "ist"],
    "ist-capacity": ["--method", "ist", "--shares", "0.4,0.2,0.2,0.2"],
    "nested": ["--method", "ist", "--shares", "1,0.5,0.5,0.5", "--nested"],
    "fedavg": ["--method", "local-sgd"],
}
WORKERS = 4
# tbf lets a burst through at memory speed once its bucket has refilled, and at 10 Mbit/s a round's
# subnet fits in ist-cluster's default 256 KB: rounds then beat the model's bytes / beta. A real link
# has no such bucket; 16 KB is a few packets, above tbf's minimum (rate / HZ) at these rates.
BURST = "16kb"


class BenchError(Exception):
    pass


def arguments():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--train", required=True, help="the ist-train executable")
    p.add_argument("--tool", default=os.path.join(here, "..", "tools", "ist-cluster"))
    p.add_argument("--cluster", default="istfed", help="the cluster's name (brought up and taken down here)")
    p.add_argument("--link", default="10mbit", help="every worker's link (tbf rate; default 10mbit)")
    p.add_argument("--server-link", default="1gbit",
                   help="node 0's link (rank 0: the parameter node and the fast worker; default 1gbit, see below)")
    p.add_argument("--burst", default=BURST, help=f"the links' tbf burst (default {BURST}; see BURST)")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--alpha", default="0.5", help="Dirichlet label skew of the 20 clients (default 0.5)")
    p.add_argument("--seed", default="1")
    p.add_argument("--rounds", type=int, default=60)
    p.add_argument("--eval-every", type=int, default=5)
    p.add_argument("--hidden", default="256,256")
    p.add_argument("--train-rows", type=int, default=0, help="only the first N training rows (0: all 60,000)")
    p.add_argument("--max-load", type=float, default=1.5)
    p.add_argument("--allow-load", action="store_true", help="run under load: a trial of the command, not a result")
    a = p.parse_args()
    unknown = set(a.methods.split(",")) - set(METHODS)
    if unknown:
        p.error(f"--methods: unknown {sorted(unknown)}; known: {','.join(METHODS)}")
    a.train = os.path.abspath(a.train)
    return a


def link_bytes_per_second(rate):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(k|m|g)bit", rate.lower())
    if not m:
        raise BenchError(f"--link: '{rate}' is not a rate like 10mbit or 1gbit")
    return float(m.group(1)) * {"k": 1e3, "m": 1e6, "g": 1e9}[m.group(2)] / 8


def train_options(a, method, log):
    options = ["--data", "fashion-mnist", "--workers", str(WORKERS),
               "--clients", "20", "--dirichlet", a.alpha, "--hidden", a.hidden, "--batch", "32", "--lr", "0.05",
               "--local-steps", "10", "--fedavg-weights", "--seed", a.seed, "--rounds", str(a.rounds),
               "--eval-every", str(a.eval_every), "--quiet", "--log", log] + METHODS[method]
    return options + (["--train-rows", str(a.train_rows)] if a.train_rows else [])


def checksum(output, what):
    return weights_checksum(output, what, BenchError)


def run(argv, what, timeout):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise BenchError(f"{what} failed (rc {done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def modelled_rounds(history, beta):
    """bench/network_model.hpp's slowest_worker_seconds per round: max over s of compute_s x
    min(S, cores)/S + 2 alpha + bytes_s / beta, compute_s the threads run's worker seconds."""
    share = min(WORKERS, os.cpu_count() or 1) / WORKERS
    return [max(c * share + 2 * ALPHA_SECONDS + b / beta for c, b in zip(m["worker_seconds"], m["worker_bytes"]))
            for m in history]


def run_method(a, method, scratch):
    threads_log, mpi_log = (os.path.join(scratch, f"{method}-{t}.json") for t in ("threads", "mpi"))
    modelled = run([a.train, "--transport", "threads", "--slowdown", SLOWDOWN] + train_options(a, method, threads_log),
                   f"{method} with threads", timeout=3600)
    measured = run([sys.executable, a.tool, "--name", a.cluster, "run", "--timeout", "3600", "--", a.train,
                    "--transport", "mpi"] + train_options(a, method, mpi_log), f"{method} on the cluster", timeout=3700)
    with open(threads_log) as f:
        threads_history = json.load(f)
    with open(mpi_log) as f:
        mpi_history = json.load(f)
    per_round = modelled_rounds(threads_history, link_bytes_per_second(a.link))
    return {"method": method, "same": checksum(modelled, "threads") == checksum(measured, "mpi"),
            "modelled": cumulative(per_round), "measured": [m["seconds"] for m in mpi_history],
            "accuracy": [m["test_accuracy"] for m in mpi_history], "mb": sum(m["bytes"] for m in mpi_history) / 1e6}


def cumulative(values):
    total, out = 0.0, []
    for v in values:
        total += v
        out.append(total)
    return out


def first_reaching(row, target):
    """(modelled, measured) seconds at the first evaluation reaching target, or None."""
    for k, acc in enumerate(row["accuracy"]):
        if acc is not None and acc >= target:
            return row["modelled"][k], row["measured"][k]
    return None


def report(a, rows, load):
    rounds = len(rows[0]["measured"])
    print(f"edge scenario on the emulated cluster: {WORKERS} workers, links {a.server_link} (node 0: the parameter node "
          f"and worker 0), {a.link} (workers 1-3), tbf burst {a.burst}, cpu {FAST:g},{SLOW:g},"
          f"{SLOW:g},{SLOW:g} (cgroup); modelled: threads, --slowdown {SLOWDOWN}, ist-fed-bench's model")
    print(f"Fashion-MNIST, 20 clients, Dirichlet {a.alpha}, seed {a.seed}, MLP 784 -> {a.hidden.replace(',', ' -> ')} -> 10, "
          f"{rounds} rounds, load {load:.2f}" + ("" if load < a.max_load else "  (UNDER LOAD: a trial, not a result)"))
    fedavg = next((r for r in rows if r["method"] == "fedavg"), None)
    target = fedavg["accuracy"][-1] if fedavg else None
    print(f"{'method':<14}{'final acc':>10}{'MB':>8}{'modelled s':>12}{'measured s':>12}{'x':>7}"
          f"{'s/round mod':>13}{'meas':>8}   to FedAvg's final (mod / meas s)  same weights")
    for r in rows:
        mod, meas = r["modelled"][-1], r["measured"][-1]
        reached = first_reaching(r, target) if target is not None else None
        to_target = f"{reached[0]:8.1f} / {reached[1]:<8.1f}" if reached else f"{'not reached':>19}"
        print(f"{r['method']:<14}{r['accuracy'][-1]:>10.4f}{r['mb']:>8.1f}{mod:>12.2f}{meas:>12.2f}{meas / mod:>7.2f}"
              f"{mod / rounds:>13.3f}{meas / rounds:>8.3f}   {to_target:<33}{'yes' if r['same'] else 'NO'}")


def main():
    a = arguments()
    load = os.getloadavg()[0]
    if load >= a.max_load and not a.allow_load:
        print(f"cluster_fed: the load is {load:.2f} >= {a.max_load}: timed runs need a quiet machine "
              "(--allow-load for a trial that is not a result)", file=sys.stderr)
        return 2
    tool = [sys.executable, a.tool, "--name", a.cluster]
    try:
        subprocess.run(tool + ["down"], capture_output=True, timeout=120)
        links = ",".join([a.server_link] + [a.link] * (WORKERS - 1))
        run(tool + ["up", "--nodes", str(WORKERS), "--link", links, "--burst", a.burst,
                    "--cpu", f"{FAST:g},{SLOW:g},{SLOW:g},{SLOW:g}"],
            "ist-cluster up", timeout=120)
        with tempfile.TemporaryDirectory(prefix="ist-cluster-fed-") as scratch:
            rows = [run_method(a, method, scratch) for method in a.methods.split(",")]
        report(a, rows, max(load, os.getloadavg()[0]))
        return 0 if all(r["same"] for r in rows) else 1
    except (BenchError, subprocess.TimeoutExpired) as e:
        print(f"cluster_fed: {e}", file=sys.stderr)
        return 1
    finally:
        subprocess.run(tool + ["down"], capture_output=True, timeout=120)


if __name__ == "__main__":
    sys.exit(main())
