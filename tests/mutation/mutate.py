#!/usr/bin/env python3
"""Mutation check of ist's core rules: puts one small realistic bug at a time into a scratch copy
of the repository, rebuilds only the test areas that should notice, runs their tests, and reports
which bugs the suite kills. See tests/mutation/README.md. Not part of CI (too slow: one area
rebuild per mutation)."""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS = ("file", "find", "replace", "areas", "tests")
OPTIONAL = ("sources",)  # test files that check the mutation, built alone as ist_mutant (fast path)


@dataclass
class Mutation:
    number: int
    description: str
    fields: dict = field(default_factory=dict)

    @property
    def file(self):
        return self.fields["file"]

    @property
    def areas(self):
        return self.fields["areas"].split()

    @property
    def tests(self):
        return self.fields["tests"]

    @property
    def sources(self):
        return tuple(self.fields.get("sources", "").split())

    @property
    def check_key(self):
        """Mutations with the same key share a build and an unmutated baseline."""
        return ("sources", self.sources) if self.sources else ("areas", tuple(self.areas), self.tests)


def parse(path):
    """Blocks of `## description` followed by `key: value` lines (see README.md)."""
    mutations, current = [], None
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if line.startswith("## "):
                current = Mutation(len(mutations) + 1, line[3:].strip())
                mutations.append(current)
            elif not line.strip() or line.startswith("#"):
                continue
            else:
                key, sep, value = line.partition(": ")
                if not sep or key not in KEYS + OPTIONAL or current is None or key in current.fields:
                    sys.exit(f"{path}:{lineno}: expected one of {', '.join(KEYS + OPTIONAL)} as 'key: value' after a '## ' line")
                current.fields[key] = value
    for m in mutations:
        missing = [k for k in KEYS if k not in m.fields]
        if missing:
            sys.exit(f"{path}: mutation {m.number} ({m.description}) lacks {', '.join(missing)}")
        if m.fields["find"] == m.fields["replace"]:
            sys.exit(f"{path}: mutation {m.number} ({m.description}) replaces its text by itself")
    return mutations


def run(cmd, cwd, log, timeout=None):
    """Runs cmd, appending its output to `log`; returns 'ok', 'failed' or 'timeout'."""
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"\n[{time.strftime('%H:%M:%S')}] $ {' '.join(cmd)}\n")  # when: a slow step shows in the log
        out.flush()
        try:
            rc = subprocess.run(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return "timeout"
    return "ok" if rc == 0 else "failed"


def git(repo, *args):
    return subprocess.run(["git", "-C", repo, *args], check=True, capture_output=True, text=True).stdout.strip()


def prepare_worktree(repo, path, rev):
    """A detached worktree of `rev` at `path`, reused (and reset to `rev`) if it exists."""
    commit = git(repo, "rev-parse", "--verify", rev + "^{commit}")
    if os.path.isdir(os.path.join(path, ".git")) or os.path.isfile(os.path.join(path, ".git")):
        git(path, "checkout", "--quiet", "--force", "--detach", commit)
        git(path, "reset", "--quiet", "--hard", commit)
    else:
        git(repo, "worktree", "add", "--quiet", "--detach", path, commit)
    return commit


def configure(tree, build, log):
    """Configures `build` once; again if it was configured without the programs (an older mutate.py)."""
    cache = os.path.join(build, "CMakeCache.txt")
    if os.path.isfile(cache):
        with open(cache, encoding="utf-8") as f:
            if "IST_BUILD_EXAMPLES:BOOL=ON" in f.read():
                return
    # The programs are configured (built only when a mutation's check needs them): the tests of
    # tests/programs run ist-train and xml-train.
    cmd = ["cmake", "-S", tree, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DIST_NATIVE=OFF",
           "-DIST_BUILD_BENCHMARKS=OFF", "-DIST_BUILD_EXAMPLES=ON", "-DIST_INSTALL=OFF"]
    if shutil.which("ccache"):
        cmd.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
    if run(cmd, tree, log) != "ok":
        sys.exit(f"configuring {build} failed; see {log}")


def build_and_test(m, tree, build, log, args):
    """'ok' if the listed areas build and the listed tests pass, else why not."""
    if m.sources:
        return build_and_run_mutant(m, tree, build, log, args)
    targets = []
    for area in m.areas:  # an MPI test program (tests/mpi) is the area mpi_<name>: target ist_mpi_<name>
        targets += ["--target", f"ist_{area}" if area.startswith("mpi_") else f"ist_tests_{area}"]
    if run(["nice", "cmake", "--build", build, "-j", str(args.jobs), *targets], tree, log) != "ok":
        return "build"
    status = run(["ctest", "--test-dir", build, "-R", m.tests, "--no-tests=error", "--timeout", str(args.timeout)],
                 tree, log, timeout=args.timeout * 4)
    return {"ok": "ok", "failed": "test", "timeout": "timeout"}[status]


CONFIGURED_SOURCES = {}  # build directory -> the IST_MUTANT_SOURCES it was last configured with


def build_and_run_mutant(m, tree, build, log, args):
    """The fast path: only the test files named in `sources`, compiled as one program (ist_mutant,
    tests/CMakeLists.txt), so a mutation recompiles a few light files instead of a whole area."""
    wanted = ";".join(os.path.join(tree, f) for f in m.sources)
    if CONFIGURED_SOURCES.get(build) != wanted:  # reconfigure only when the group changes
        if run(["cmake", "-B", build, f"-DIST_MUTANT_SOURCES={wanted}"], tree, log) != "ok":
            return "build"
        CONFIGURED_SOURCES[build] = wanted
    if run(["nice", "cmake", "--build", build, "-j", str(args.jobs), "--target", "ist_mutant"], tree, log) != "ok":
        return "build"
    status = run([os.path.join(build, "tests", "ist_mutant")], tree, log, timeout=args.timeout)
    return {"ok": "ok", "failed": "test", "timeout": "timeout"}[status]


def check_one(m, tree, build, log, args, baselines):
    """Applies m in the scratch tree, runs its check, restores the file; returns the outcome."""
    path = os.path.join(tree, m.file)
    if not os.path.isfile(path):
        return "stale: no such file", 0.0
    with open(path, encoding="utf-8") as f:
        original = f.read()
    count = original.count(m.fields["find"])
    if count != 1:
        return f"stale: text occurs {count} times", 0.0
    key = m.check_key
    if key not in baselines:  # the unmutated code must pass the same check, or a kill means nothing
        baselines[key] = build_and_test(m, tree, build, log, args)
    if baselines[key] != "ok":
        return f"invalid: unmutated {baselines[key]} fails", 0.0
    start = time.monotonic()
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original.replace(m.fields["find"], m.fields["replace"], 1))
        outcome = build_and_test(m, tree, build, log, args)
    finally:
        with open(path, "w", encoding="utf-8") as f:
            f.write(original)
    seconds = time.monotonic() - start
    return ("survived" if outcome == "ok" else f"killed ({outcome})"), seconds


def select(mutations, only):
    if not only:
        return mutations
    wanted = set()
    for part in only.split(","):
        lo, _, hi = part.partition("-")
        wanted.update(range(int(lo), int(hi or lo) + 1))
    unknown = sorted(n for n in wanted if n < 1 or n > len(mutations))
    if unknown:
        sys.exit(f"--only: no mutation numbered {unknown} (there are {len(mutations)})")
    return [m for m in mutations if m.number in wanted]


def print_table(rows, chosen, elapsed):
    print(f"\n{'#':>3}  {'result':<24} {'secs':>5}  {'file':<44} description")
    for m, outcome, seconds in rows:
        print(f"{m.number:>3}  {outcome:<24} {seconds:>5.0f}  {m.file:<44} {m.description}")
    killed = sum(o.startswith("killed") for _, o, _ in rows)
    judged = sum(o.startswith(("killed", "survived")) for _, o, _ in rows)
    survivors = [m.number for m, o, _ in rows if o == "survived"]
    if survivors:
        print("\nsurvived: " + ", ".join(map(str, survivors)) + " (each needs a test that fails on it)")
    others = len(rows) - judged
    if others:
        print(f"not judged (stale or invalid): {others}")
    if len(rows) < chosen:
        print(f"not reached (the run was stopped): {chosen - len(rows)} of the {chosen} chosen")
    print(f"time: {elapsed:.0f} s for {len(rows)} mutations (baselines and builds included)")
    print(f"killed {killed} of {judged} ({100.0 * killed / judged if judged else 0.0:.1f} %)")


def group_queue(chosen):
    """Mutations grouped by what they build, largest group first: consecutive mutations of a group
    rebuild only what the previous one changed, and the group's baseline is built once (ccache,
    when present, makes the restores cheap). Scratch trees take whole groups, so no baseline is
    built twice."""
    groups = {}
    for m in sorted(chosen, key=lambda m: m.number):
        groups.setdefault(m.check_key, []).append(m)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0].number))


def judge_groups(tree, queue, rows, lock, stop, args):
    """One scratch tree's loop: takes the next group off the shared queue until it is empty."""
    build, log, baselines = os.path.join(tree, "build-mutate"), os.path.join(tree, "mutate.log"), {}
    while not stop.is_set():
        with lock:
            if not queue:
                return
            group = queue.pop(0)
        for m in group:
            if stop.is_set():
                return
            outcome, seconds = check_one(m, tree, build, log, args, baselines)
            with lock:
                print(f"[{m.number}] {m.description} ... {outcome} ({seconds:.0f} s)", flush=True)
                rows.append((m, outcome, seconds))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--only", help="run only these mutations: 1,4,7-9")
    parser.add_argument("--mutations", default=os.path.join(HERE, "mutations.txt"))
    parser.add_argument("--rev", default="HEAD", help="the commit to mutate (default HEAD: uncommitted edits are not seen)")
    parser.add_argument("--worktree", default=os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ist-mutate-{os.getuid()}"),
                        help="scratch worktree, created or reused (default: $TMPDIR/ist-mutate-<uid>)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds per test (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="build jobs per scratch tree (default 2)")
    parser.add_argument("--parallel", type=int, default=1,
                        help="scratch trees judging groups of mutations side by side (default 1; the 2nd is DIR-2, ...)")
    parser.add_argument("--remove-worktree", action="store_true",
                        help="delete the scratch worktree at the end (default: keep it, so the next run reuses its build)")
    args = parser.parse_args()

    mutations = parse(args.mutations)
    chosen = select(mutations, args.only)
    if args.list:
        for m in chosen:
            print(f"{m.number:>3}  {m.file}  [{' '.join(m.areas)}: {m.tests}]\n     {m.description}")
        return 0

    if args.parallel < 1:
        sys.exit("--parallel: expected at least 1 scratch tree")
    repo = git(HERE, "rev-parse", "--show-toplevel")
    first = os.path.abspath(args.worktree)
    trees = [first] + [f"{first}-{i}" for i in range(2, args.parallel + 1)]
    if any(os.path.realpath(t) == os.path.realpath(repo) for t in trees):
        sys.exit("--worktree must not be the repository being checked")
    for tree in trees:
        commit = prepare_worktree(repo, tree, args.rev)
        print(f"mutating {commit[:12]} in {tree} (log: {os.path.join(tree, 'mutate.log')})", flush=True)
        configure(tree, os.path.join(tree, "build-mutate"), os.path.join(tree, "mutate.log"))

    # A run stopped from outside (kill, a session's end) is handled as Ctrl-C: each tree finishes the
    # mutation it is judging, restores the file, and the table of what was judged so far, with its
    # `killed K of N` line, is still printed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    rows, started = [], time.monotonic()
    queue, stop, lock = group_queue(chosen), threading.Event(), threading.Lock()
    workers = [threading.Thread(target=judge_groups, args=(tree, queue, rows, lock, stop, args), daemon=True)
               for tree in trees]
    for w in workers:
        w.start()
    try:
        while any(w.is_alive() for w in workers):
            for w in workers:
                w.join(timeout=1.0)
    except KeyboardInterrupt:
        stop.set()
        print("\ninterrupted; finishing the mutations being judged, then restoring the scratch trees' files", flush=True)
        for w in workers:
            w.join()
    print_table(sorted(rows, key=lambda r: r[0].number), len(chosen), time.monotonic() - started)
    if args.remove_worktree:
        for tree in trees:
            git(repo, "worktree", "remove", "--force", tree)
    return 0


if __name__ == "__main__":
    sys.exit(main())
