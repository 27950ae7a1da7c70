#!/usr/bin/python3
"""Extreme classification at the talk's points (issue 34, part 3; docs/extreme.md): xml-train's grid of
methods and widths, each cell's learning rate chosen on rows held out of training, then 3 seeds per cell,
every finished run journalled, and the table with the issue's checks printed from the journal.

  bench/xml_grid.py [--build build] [--journal docs/bench/xml-runs.jsonl] [--max-runs K]
  bench/xml_grid.py --report        # the table from the journal, nothing run

A cell is METHOD:WIDTH:S (ist or data-parallel, the hidden width, the workers). --cells lists them in the
order they are run, '/' closing a group: within a group every cell's learning rate is chosen first, then
seed 1 of each cell, seed 2 of each, ..., so that the checks' cells fill up side by side.

The learning rate of a cell is chosen by a run of --choice-seed (1) at the full settings, trained without
--validation-rows rows and scored on them (the mean P@1 of its last --last evaluations): first the
method's --lr-start, then the rates x2 and /2 of the best rate so far until both of its neighbours were
tried (at most --max-candidates rates). The cell's seeds then train on every training row at that rate,
and are scored on the test set, again as the mean of their last --last evaluations.

Every finished run is appended to the journal (JSON lines) under the settings that decide its numbers
(the task, rounds, local steps, batch, evaluation interval, memory budget, validation rows): a later
sitting takes it from there and runs only what is missing, and rows under other settings are kept but
never used. A journal line that is not JSON, lacks a field, repeats a run, or was made on other data (its
data line differs from what xml-train prints now) is refused, naming the line, before anything is run.

A run in progress is resumable: xml-train checkpoints it every --checkpoint-every rounds into --resume-dir,
beside the lines it printed so far, so a sitting stopped at once (SIGKILL) loses only the rounds since the
last checkpoint; the next sitting resumes that run (bit-identical to an unbroken one, so an evaluation
printed before the kill and again after it must agree to the digit) and journals it whole.

The table: per cell the chosen rate, the seeds done, and P@1 / P@3 / P@5 / nDCG@5 as mean +- sd over the
seeds (sd: the sample standard deviation, n - 1); cells not finished are listed as missing. The checks
(issue 34): IST 3072 beats data parallel 512 by more than 2 pooled sd; IST 512 >= data parallel 512 - 1
pooled sd; IST 6144 at S = 8 beats data parallel 512 at S = 8 (the same rows per round) by more than 2
pooled sd; on the whole task (--max-labels 0 --memory-budget 1), IST 2560 beats data parallel 455 by more
than 2 pooled sd. A check is printed when the grid has both its cells. Pooled sd =
sqrt(((n1 - 1) sd1^2 + (n2 - 1) sd2^2) / (n1 + n2 - 2)), each cell with >= 2 seeds.
"""
import argparse
import hashlib
import json
import math
import os
import re
import signal
import subprocess
import sys
import time

from jsonl_journal import append_row, read_rows, utc_now

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
METHODS = ("ist", "data-parallel")
# The grid, most needed first: the first check's cells (and data parallel at 1024, which the
# memory budget refuses at once), then IST at equal width, then the talk's 8 nodes.
DEFAULT_CELLS = "ist:3072:4,data-parallel:512:4,data-parallel:1024:4/ist:512:4/ist:6144:8,data-parallel:512:8"
# (better cell, baseline cell, threshold in pooled sd, strict, what it says)
CHECKS = (
    ("ist:3072:4", "data-parallel:512:4", 2.0, True, "IST 3072 beats data parallel 512 by more than 2 pooled sd"),
    ("ist:512:4", "data-parallel:512:4", -1.0, False, "IST 512 >= data parallel 512 - 1 pooled sd"),
    ("ist:6144:8", "data-parallel:512:8", 2.0, True,
     "S = 8: IST 6144 beats data parallel 512 (8 workers too) by more than 2 pooled sd"),
    # The whole WordNet task under 1 GiB per worker (docs/extreme.md's plan): the widest width each fits.
    ("ist:2560:4", "data-parallel:455:4", 2.0, True, "IST 2560 beats data parallel 455 by more than 2 pooled sd"),
)
METRICS = ("P@1", "P@3", "P@5", "nDCG@5")
ROUND_LINE = re.compile(r"^\s+round (\d+)/(\d+)\s+([\d.]+) ([\d.]+) ([\d.]+)\s+([\d.]+)\s*$")
RESUMED_LINE = re.compile(r"^resuming from .* after round (\d+)$")


class GridError(Exception):
    pass


# --- settings -------------------------------------------------------------------------------------

def parse_cells(text):
    """'ist:3072:4,data-parallel:512:4/ist:512:4' -> [['ist:3072:4', 'data-parallel:512:4'], ['ist:512:4']]"""
    groups = []
    for group in text.split("/"):
        cells = [c for c in group.split(",") if c]
        for cell in cells:
            parts = cell.split(":")
            if len(parts) != 3 or parts[0] not in METHODS or not parts[1].isdigit() or not parts[2].isdigit() \
                    or int(parts[1]) < 1 or int(parts[2]) < 1:
                raise GridError(f"--cells: '{cell}' is not METHOD:WIDTH:S with METHOD one of {', '.join(METHODS)}")
        if cells:
            groups.append(cells)
    if not groups:
        raise GridError("--cells: no cell given")
    return groups


def cell_name(cell):
    method, width, workers = cell.split(":")
    return f"{method} H={width} S={workers}"


def arguments(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--journal", default=os.path.join(ROOT, "docs", "bench", "xml-runs.jsonl"),
                   help="the journal (JSON lines), created if missing (default docs/bench/xml-runs.jsonl)")
    p.add_argument("--build", default="build", help="build directory with xml-train (default build)")
    p.add_argument("--xml-train", help="the xml-train program (default: found in --build)")
    p.add_argument("--cells", default=DEFAULT_CELLS, help=f"METHOD:WIDTH:S,... in run order, '/' between groups "
                                                          f"(default {DEFAULT_CELLS})")
    p.add_argument("--seeds", default="1,2,3", help="seeds per cell (default 1,2,3)")
    p.add_argument("--max-labels", type=int, default=2000, help="the WordNet task's head labels (default 2000; 0: all)")
    p.add_argument("--train", help="repository-format training file instead of WordNet (with --test)")
    p.add_argument("--test", help="repository-format test file")
    p.add_argument("--rounds", type=int, default=240)
    p.add_argument("--local-steps", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--eval-every", type=int, default=10, help="rounds between evaluations (default 10)")
    p.add_argument("--last", type=int, default=5, help="a run's score: the mean of its last K evaluations (default 5)")
    p.add_argument("--memory-budget", type=float, default=0.075, help="GiB per worker (default 0.075)")
    p.add_argument("--validation-rows", type=int, default=2000, help="rows held out to choose the rate (default 2000)")
    p.add_argument("--choice-seed", type=int, default=1, help="the seed of the rate choice's runs (default 1)")
    p.add_argument("--lr-start", default="ist=2,data-parallel=8",
                   help="each method's first rate tried (default ist=2,data-parallel=8: docs/extreme.md's 20-round picks)")
    p.add_argument("--max-candidates", type=int, default=5, help="rates tried per cell at most (default 5)")
    p.add_argument("--gemm", choices=("onednn", "openblas"), default="onednn",
                   help="the GEMM backend xml-train was built with (default onednn, the build's default); "
                        "its last bits differ, so each has a table of its own")
    p.add_argument("--max-runs", type=int, default=0, help="stop after this many new runs (0: all)")
    p.add_argument("--resume-dir", help="where a run in progress keeps its checkpoint and the lines printed so far, "
                                        "to be resumed by the next sitting (default BUILD/xml-grid-resume)")
    p.add_argument("--checkpoint-every", type=int, default=0,
                   help="rounds between a run's checkpoints (default 0: every --eval-every rounds)")
    p.add_argument("--report", action="store_true", help="print the table from the journal; run nothing")
    a = p.parse_args(argv)
    try:
        a.groups = parse_cells(a.cells)
        a.seeds = [int(s) for s in a.seeds.split(",")]
        a.lr_start = {m: float(v) for m, v in (kv.split("=") for kv in a.lr_start.split(","))}
    except ValueError as e:
        p.error(f"--seeds / --lr-start: {e}")
    except GridError as e:
        p.error(str(e))
    if set(a.lr_start) != set(METHODS) or any(v <= 0 for v in a.lr_start.values()):
        p.error(f"--lr-start: a positive rate for each of {', '.join(METHODS)}, as ist=2,data-parallel=8")
    if bool(a.train) != bool(a.test):
        p.error("--train and --test go together")
    if a.eval_every < 1 or a.rounds % a.eval_every or a.rounds // a.eval_every < a.last or a.last < 1:
        p.error(f"--rounds {a.rounds} must be a multiple of --eval-every {a.eval_every} with at least --last "
                f"{a.last} evaluations")
    if a.checkpoint_every < 0:
        p.error(f"--checkpoint-every: {a.checkpoint_every} is negative")
    a.checkpoint_every = a.checkpoint_every or a.eval_every
    a.resume_dir = a.resume_dir or os.path.join(a.build, "xml-grid-resume")
    return a


def settings_key(a):
    """What decides a run's numbers besides (cell, rate, seed); rows under other settings are kept, unused."""
    if a.train:
        task = "files=" + ",".join(f"{os.path.basename(f)}:{os.path.getsize(f)}" for f in (a.train, a.test))
    else:
        task = f"wordnet;max-labels={a.max_labels}"
    return (f"{task};rounds={a.rounds};l={a.local_steps};batch={a.batch};eval-every={a.eval_every};"
            f"budget={a.memory_budget:g};validation={a.validation_rows};choice-seed={a.choice_seed};"
            f"loss=softmax;ist=scale-activations;precision=fp32;blas-threads=1;gemm={a.gemm}")


# --- the journal ----------------------------------------------------------------------------------

FIELDS = {"run": ("cell", "lr", "seed", "data", "curve"), "choice": ("cell", "lr", "seed", "data", "curve"),
          "refused": ("cell", "reason")}


class Journal:
    """The journal's rows under one settings key, checked as they are read."""

    def __init__(self, path, key):
        self.path, self.key = path, key
        self.runs = {}      # (kind, cell, lr, seed) -> row; kind "run" or "choice"
        self.refused = {}   # cell -> reason
        self.data = {}      # kind -> the data line its rows were made on
        self.other_settings = 0
        for number, row in read_rows(path, lambda number: GridError(f"{self._where(number)}: not a JSON line")):
            self._read(row, number)

    def _where(self, number):
        return f"{self.path} line {number}"

    def _read(self, row, number):
        if not isinstance(row, dict) or row.get("kind") not in FIELDS or "settings" not in row:
            raise GridError(f"{self._where(number)}: not a journal row (kind run, choice or refused, and settings)")
        if row["settings"] != self.key:
            self.other_settings += 1
            return
        missing = [f for f in FIELDS[row["kind"]] if f not in row]
        if missing:
            raise GridError(f"{self._where(number)}: a {row['kind']} row without {', '.join(missing)}")
        row["line"] = number
        if row["kind"] == "refused":
            self.refused[row["cell"]] = row["reason"]
            return
        self._check_curve(row, number)
        if not isinstance(row["lr"], (int, float)) or not isinstance(row["seed"], int):
            raise GridError(f"{self._where(number)}: lr and seed are not numbers")
        self._check_data(row["kind"], row["data"], f"{self._where(number)} was made on")
        key = (row["kind"], row["cell"], float(row["lr"]), row["seed"])
        if key in self.runs:
            raise GridError(f"{self._where(number)} repeats the run of line {self.runs[key]['line']} "
                            f"({row['kind']} {cell_name(row['cell'])} lr {row['lr']:g} seed {row['seed']})")
        self.runs[key] = row

    def _check_curve(self, row, number):
        curve = row["curve"]
        if not isinstance(curve, list) or not curve or any(
                not isinstance(p, list) or len(p) != 1 + len(METRICS) or
                not all(isinstance(x, (int, float)) for x in p) for p in curve):
            raise GridError(f"{self._where(number)}: the curve is not a list of [round, P@1, P@3, P@5, nDCG@5]")

    def _check_data(self, kind, data, what):
        """Every row of one kind must come from the same data (the choice's rows hold out validation rows)."""
        known = self.data.setdefault(kind, data)
        if known != data:
            raise GridError(f"{what} other data than the journal's other {kind} rows under these settings:\n"
                            f"  {data!r}\n  {known!r}\n(another WordNet or data files under the same key: "
                            "use another --journal)")

    def check_data_now(self, kind, data):
        self._check_data(kind, data, "xml-train now runs on")

    def append(self, row):
        row = dict(row, settings=self.key, date=utc_now())
        append_row(self.path, row)
        if row["kind"] == "refused":
            self.refused[row["cell"]] = row["reason"]
        else:
            self.runs[(row["kind"], row["cell"], float(row["lr"]), int(row["seed"]))] = row

    def curve(self, kind, cell, lr, seed):
        row = self.runs.get((kind, cell, float(lr), int(seed)))
        return row["curve"] if row else None


# --- arithmetic -----------------------------------------------------------------------------------

def last_mean(curve, last):
    """The mean of each metric over the last `last` evaluations of a curve of [round, P@1, P@3, P@5, nDCG@5]."""
    if len(curve) < last:
        raise GridError(f"a curve of {len(curve)} evaluations has no last {last}")
    tail = curve[-last:]
    return [sum(p[1 + m] for p in tail) / last for m in range(len(METRICS))]


def mean_sd(values):
    """(mean, sample standard deviation with n - 1; None for one value)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
    return mean, sd


def pooled_sd(sd1, n1, sd2, n2):
    return math.sqrt(((n1 - 1) * sd1 ** 2 + (n2 - 1) * sd2 ** 2) / (n1 + n2 - 2))


def choose_lr(scores, start, max_candidates):
    """(chosen rate or None, next rate to try or None) from {rate: validation score}: the best rate once
    both its neighbours (x2, /2) were tried, or once max_candidates rates were."""
    if start not in scores:
        return None, start
    best = max(sorted(scores), key=lambda lr: scores[lr])  # a tie goes to the smaller rate
    for neighbour in (best * 2, best / 2):
        if neighbour not in scores:
            return (best, None) if len(scores) >= max_candidates else (None, neighbour)
    return best, None


# --- the plan -------------------------------------------------------------------------------------

class Grid:
    def __init__(self, a, journal):
        self.a, self.journal = a, journal

    def scores(self, cell):
        """{rate: the choice run's validation score} for a cell."""
        out = {}
        for (kind, c, lr, seed), row in self.journal.runs.items():
            if kind == "choice" and c == cell and seed == self.a.choice_seed:
                out[lr] = last_mean(row["curve"], self.a.last)[0]
        return out

    def choice(self, cell):
        method = cell.split(":")[0]
        return choose_lr(self.scores(cell), self.a.lr_start[method], self.a.max_candidates)

    def next_run(self):
        """(kind, cell, rate, seed) of the next run the grid needs, or None when it is complete."""
        for group in self.a.groups:
            for cell in group:
                chosen, to_try = self.choice(cell)
                if cell not in self.journal.refused and to_try is not None:
                    return "choice", cell, to_try, self.a.choice_seed
            for seed in self.a.seeds:
                for cell in group:
                    chosen, _ = self.choice(cell)
                    if cell not in self.journal.refused and self.journal.curve("run", cell, chosen, seed) is None:
                        return "run", cell, chosen, seed
        return None

    def seed_scores(self, cell):
        """[per seed: the last-evaluations mean of each metric] of a cell's test runs at its chosen rate."""
        chosen, _ = self.choice(cell)
        if chosen is None:
            return chosen, []
        curves = [self.journal.curve("run", cell, chosen, seed) for seed in self.a.seeds]
        return chosen, [last_mean(c, self.a.last) for c in curves if c is not None]


# --- running xml-train ----------------------------------------------------------------------------

def xml_train_program(a):
    if a.xml_train:
        return os.path.abspath(a.xml_train)
    for path in (os.path.join(a.build, "examples", "cli", "xml-train"), os.path.join(a.build, "examples", "xml-train")):
        if os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise GridError(f"xml-train not found in {a.build}; build it (cmake --build {a.build} --target xml-train)")


def data_options(a):
    if a.train:
        return ["--train", a.train, "--test", a.test]
    return ["--max-labels", str(a.max_labels)]


def command(a, kind, cell, lr, seed):
    method, width, workers = cell.split(":")
    argv = [xml_train_program(a), *data_options(a), "--hidden", width, "--methods", method, "--workers", workers,
            "--rounds", str(a.rounds), "--local-steps", str(a.local_steps), "--batch", str(a.batch),
            "--lr", f"{lr:g}", "--seeds", str(seed), "--eval-every", str(a.eval_every),
            "--memory-budget", f"{a.memory_budget:g}"]
    if method == "ist":
        argv.append("--scale-activations")
    if kind == "choice":
        argv += ["--validation-rows", str(a.validation_rows)]
    return argv


def data_line(lines):
    """What xml-train says it trains and scores on: its 'train ...' line, and the 'validation ...' line."""
    return " / ".join(l.strip() for l in lines if l.startswith("train ") or l.startswith("validation "))


def curve_of(lines):
    """[[round, P@1, P@3, P@5, nDCG@5], ...] from xml-train's curve lines, in the order printed."""
    return [[int(m.group(1))] + [float(m.group(i)) for i in range(3, 7)]
            for m in (ROUND_LINE.match(l) for l in lines) if m]


def parse_output(text):
    """{'data': ..., 'curve': [[round, P@1, P@3, P@5, nDCG@5], ...], 'refused': reason or None,
    'resumed_after': the round a resumed run went on from, or None}."""
    lines = text.splitlines()
    refused = next((l[len("refused "):] for l in lines if l.startswith("refused ")), None)
    resumed = next((int(m.group(1)) for m in (RESUMED_LINE.match(l) for l in lines) if m), None)
    return {"data": data_line(lines), "curve": curve_of(lines), "refused": refused, "resumed_after": resumed}


def merged_curve(parts, what):
    """One run's curve from the curves its parts printed (killed parts first): a resumed run redoes the
    rounds since its checkpoint and prints the round it resumed after again, and being the same run, it
    must print the same numbers for a round printed twice."""
    points = {}
    for point in (p for part in parts for p in part):
        if points.setdefault(point[0], point) != point:
            raise GridError(f"{what}: round {point[0]} printed {points[point[0]][1:]} before the run was stopped and "
                            f"{point[1:]} after it resumed: not the same run (other program or data?)")
    return [points[r] for r in sorted(points)]


def check_curve_complete(a, curve, what):
    """Every evaluation of the run, each once: rounds --eval-every, 2 --eval-every, ..., --rounds."""
    unevaluated = sorted(set(range(a.eval_every, a.rounds + 1, a.eval_every)) - {p[0] for p in curve})
    if unevaluated:
        plural = "s" if len(unevaluated) > 1 else ""
        raise GridError(f"{what}: no evaluation{plural} of round{plural} {', '.join(map(str, unevaluated))} "
                        "in xml-train's output")


def environment():
    env = dict(os.environ)
    env["OPENBLAS_NUM_THREADS"] = "1"  # workers are threads already; the key says so
    return env


def run_program(argv, echo, keep=None):
    """Runs argv, echoing its lines as they come (a long run shows its curve) and handing each to `keep`;
    returns its output. An interrupt ends the child too: a cut-off sitting leaves no xml-train running."""
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment())
    lines = []
    try:
        for line in child.stdout:
            lines.append(line)
            if echo:
                print("    " + line, end="", flush=True)
            if keep:
                keep(line)
        child.wait()
    except BaseException:
        child.terminate()
        child.wait()
        raise
    if child.returncode != 0:
        raise GridError(f"{' '.join(argv)} failed ({child.returncode}):\n{''.join(lines[-20:])}")
    return "".join(lines)


def linked_gemm(program):
    """The GEMM backend a program was built with: oneDNN builds link libdnnl (CMakeLists.txt)."""
    done = subprocess.run(["ldd", program], capture_output=True, text=True)
    return "onednn" if "libdnnl" in done.stdout else "openblas"


def check_data_first(a, journal):
    """xml-train --fits prints the data lines and stops: other data than the journal's is refused before
    any training, as is a program built with another GEMM backend than --gemm."""
    if (gemm := linked_gemm(xml_train_program(a))) != a.gemm:
        raise GridError(f"{xml_train_program(a)} computes with {gemm}, not --gemm {a.gemm}: pass --gemm {gemm} "
                        "(a table of its own)")
    for kind in ("choice", "run"):
        argv = [xml_train_program(a), *data_options(a), "--fits", "--fit-budgets", "1"]
        if kind == "choice":
            argv += ["--validation-rows", str(a.validation_rows)]
        journal.check_data_now(kind, parse_output(run_program(argv, echo=False))["data"])


class RunInProgress:
    """A run's files in --resume-dir while it is not journalled: xml-train's checkpoint (NAME.npz) and
    NAME.log, JSON lines: per part (a sitting's try) {"argv": ...}, then {"line": ..., "seconds": ...}
    for each line it printed. The name holds the run and a digest of the settings key; the log's argv
    must be the command this sitting runs, or both files are stale and the run starts afresh."""

    def __init__(self, a, key, kind, cell, lr, seed, argv):
        digest = hashlib.sha1(key.encode()).hexdigest()[:12]
        name = f"{kind}-{cell.replace(':', '-')}-lr{lr:g}-seed{seed}-{digest}"
        self.checkpoint = os.path.join(a.resume_dir, name + ".npz")
        self.log = os.path.join(a.resume_dir, name + ".log")
        self.argv, self.start = argv, time.monotonic()

    def earlier_parts(self):
        """[(curve, seconds)] of the parts stopped before this one; clears stale files first."""
        parts, stale = [], False
        for row in self._rows():
            if "argv" in row:
                stale = stale or row["argv"] != self.argv
                parts.append({"lines": [], "seconds": 0.0})
            elif parts:
                parts[-1]["lines"].append(row["line"])
                parts[-1]["seconds"] = row["seconds"]  # up to its last line: the kill's moment is unknown
        if stale or (os.path.exists(self.checkpoint) and not parts):
            self.remove()
            return []
        return [(curve_of(part["lines"]), part["seconds"]) for part in parts]

    def _rows(self):
        """The log's rows; a line cut by the kill (the last, not JSON) is left out."""
        try:
            with open(self.log) as f:
                text = f.read()
        except FileNotFoundError:
            return []
        rows = []
        for line in text.splitlines(keepends=True):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                if line.endswith("\n"):
                    raise GridError(f"{self.log}: not a JSON line: {line.strip()[:80]}")
        return rows

    def begin(self):
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        self._write({"argv": self.argv})

    def keep(self, line):
        self._write({"line": line.rstrip("\n"), "seconds": round(time.monotonic() - self.start, 1)})

    def _write(self, row):
        with open(self.log, "a") as f:
            f.write(json.dumps(row) + "\n")

    def remove(self):
        for path in (self.checkpoint, self.log):
            if os.path.exists(path):
                os.remove(path)


def run_one(a, journal, kind, cell, lr, seed):
    load = os.getloadavg()
    what = f"{cell_name(cell)} lr {lr:g} seed {seed}"
    scored_on = "validation rows" if kind == "choice" else "test set"
    print(f"xml-grid: {kind} {what} ({scored_on})", flush=True)
    argv = command(a, kind, cell, lr, seed)
    run = RunInProgress(a, journal.key, kind, cell, lr, seed, argv)
    earlier = run.earlier_parts()
    run.begin()
    out = parse_output(run_program(argv + ["--checkpoint", run.checkpoint, "--checkpoint-every", str(a.checkpoint_every)],
                                   echo=True, keep=run.keep))
    if out["refused"]:
        journal.append({"kind": "refused", "cell": cell, "reason": out["refused"]})
        run.remove()
        return
    curve = merged_curve([c for c, _ in earlier] + [out["curve"]], what)
    check_curve_complete(a, curve, what)
    journal.check_data_now(kind, out["data"])
    row = {"kind": kind, "cell": cell, "lr": lr, "seed": seed, "data": out["data"], "curve": curve,
           "seconds": round(sum(s for _, s in earlier) + time.monotonic() - run.start, 1),
           "load": [round(x, 2) for x in load]}
    if earlier:  # the sittings it took, and the round the last one went on from
        row.update(parts=len(earlier) + 1, resumed_after=out["resumed_after"])
    journal.append(row)
    run.remove()


def run_missing(a, journal):
    grid, done = Grid(a, journal), 0
    if grid.next_run() is None:
        return
    check_data_first(a, journal)
    while (step := grid.next_run()) is not None:
        if a.max_runs and done >= a.max_runs:
            print(f"xml-grid: stopped after --max-runs {a.max_runs} new runs; run again to go on")
            return
        run_one(a, journal, *step)
        done += 1


# --- the table ------------------------------------------------------------------------------------

def fmt(x, digits=4):
    return "-" if x is None else f"{x:.{digits}f}"


def summary(a, grid, cell):
    """(chosen rate, n, [(mean, sd) per metric]) of a cell."""
    chosen, per_seed = grid.seed_scores(cell)
    stats = [mean_sd([s[m] for s in per_seed]) for m in range(len(METRICS))] if per_seed else []
    return chosen, len(per_seed), stats


def verdict(a, grid, better, baseline, threshold, strict, says):
    (_, n1, s1), (_, n2, s2) = summary(a, grid, better), summary(a, grid, baseline)
    if n1 < 2 or n2 < 2:
        return f"  {says}: not judged yet ({cell_name(better)} {n1} seeds, {cell_name(baseline)} {n2}; 2 each needed)"
    (m1, sd1), (m2, sd2) = s1[0], s2[0]
    pooled = pooled_sd(sd1, n1, sd2, n2)
    diff = m1 - m2
    z = diff / pooled if pooled > 0 else math.copysign(math.inf, diff) if diff else 0.0
    met = z > threshold if strict else z >= threshold
    partial = "" if n1 == n2 == len(a.seeds) else f" (seeds {n1} and {n2} of {len(a.seeds)})"
    return (f"  {says}: {'MET' if met else 'NOT MET'}{partial}\n"
            f"    P@1 {m1:.4f} - {m2:.4f} = {diff:+.4f}, pooled sd {pooled:.4f}: {z:+.2f} sd")


def epochs(a, journal, cell):
    """Passes over the training rows a run of the cell makes: S workers x rounds x l x batch rows."""
    found = re.match(r"train (\d+) rows", journal.data.get("run", ""))
    workers = int(cell.split(":")[2])
    return workers * a.rounds * a.local_steps * a.batch / int(found.group(1)) if found else None


def report(a, journal):
    grid = Grid(a, journal)
    cells = [c for group in a.groups for c in group]
    task = f"files {a.train}, {a.test}" if a.train else f"WordNet reverse dictionary, {a.max_labels or 'all'} labels"
    print(f"xml-grid: {task}; {a.rounds} rounds x {a.local_steps} local steps x batch {a.batch} per worker, "
          f"budget {a.memory_budget:g} GiB per worker")
    print(f"each run scored by the mean of its last {a.last} evaluations (every {a.eval_every} rounds); cells: "
          f"mean +- sd over seeds {','.join(map(str, a.seeds))}, test set; rate chosen on {a.validation_rows} "
          f"validation rows (seed {a.choice_seed})")
    print(f"{'cell':<26}{'epochs':>7}{'lr':>6}{'seeds':>7}  " + "".join(f"{m:<18}" for m in METRICS).rstrip())
    missing = []
    for cell in cells:
        if cell in journal.refused:
            print(f"{cell_name(cell):<26}  refused: {journal.refused[cell]}")
            continue
        chosen, n, stats = summary(a, grid, cell)
        rate = "-" if chosen is None else f"{chosen:g}"
        values = "  ".join(f"{fmt(m)} +- {fmt(sd)}" if sd is not None else f"{fmt(m):<16}" for m, sd in stats)
        print(f"{cell_name(cell):<26}{fmt(epochs(a, journal, cell), 1):>7}{rate:>6}{f'{n}/{len(a.seeds)}':>7}  {values}".rstrip())
        if n < len(a.seeds):
            missing.append(cell_missing(a, grid, cell, chosen, n))
    print(f"learning-rate choice (validation P@1, mean of the last {a.last} evaluations; * chosen):")
    for cell in cells:
        scores = grid.scores(cell)
        if scores:
            chosen, _ = grid.choice(cell)
            print(f"  {cell_name(cell):<24}" + ", ".join(f"{lr:g}{'*' if lr == chosen else ''} {s:.4f}"
                                                        for lr, s in sorted(scores.items())))
    print("missing:" + "".join(f"\n  {m}" for m in missing) if missing else "missing: none")
    print("checks:")
    for check in CHECKS:
        if check[0] in cells and check[1] in cells:
            print(verdict(a, grid, *check))
    if journal.other_settings:
        n = journal.other_settings
        print(f"({n} {'row of the journal is' if n == 1 else 'rows of the journal are'} under other settings: not used)")


def cell_missing(a, grid, cell, chosen, n):
    if chosen is None:
        return f"{cell_name(cell)} (rate not chosen yet: {len(grid.scores(cell))} choice runs)"
    return f"{cell_name(cell)} ({len(a.seeds) - n} of {len(a.seeds)} seeds)"


def interrupted(*_):
    raise KeyboardInterrupt  # SIGTERM ends the running xml-train too (run_program)


def main(argv=None):
    a = arguments(argv)
    signal.signal(signal.SIGTERM, interrupted)
    try:
        journal = Journal(a.journal, settings_key(a))
        if not a.report:
            run_missing(a, journal)
        report(a, journal)
    except GridError as e:
        print(f"xml-grid: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xml-grid: interrupted; the journal keeps every finished run", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
