#!/usr/bin/python3
"""Keeps the numbers in README.md and docs/ generated, not typed.

Three kinds of marker, each an HTML comment the Markdown renderer hides:

  <!-- docs-check: COMMAND -->          followed by a fenced block: COMMAND's output, which
                                        `check` re-runs and compares (CI, deterministic runs only)
  <!-- docs-timing: COMMAND -->         followed by a fenced block: output with timings, which
                                        only `timing` regenerates (never compared: machines are noisy);
                                        a line starting "Measured " right above the marker is
                                        rewritten then with the date and load
  <!-- docs-options: PROGRAM -->        every --option PROGRAM --help lists must appear in this page

COMMAND runs under bash in the repository root with the build's program folders first on PATH
(so a page can say `ist-train`, as a user with ist installed would). In docs-check output, wall
times and rates are masked as `…` before comparing or writing: they are not deterministic, the
accuracies, bytes, checksums and messages around them are. What follows "max diff " on a line
(a difference measured against another runtime, onnxruntime, whose kernels differ by CPU, or
"skipped (why)" where that runtime is missing) is written by `update` as measured but not compared
by `check`, which prints it instead; the command itself fails when the difference is out of bounds.

`check` and `update` run the blocks on --jobs workers at once (default: every core): each block
is one command whose output alone is compared, so the result is the same as one after another;
the report still comes in page order. A block that writes a scratch file names a path of its own
(/tmp/ist-scale, /tmp/ist-loft-digits.npz, ...) or a mktemp folder, so no two blocks share one.
`timing` runs them one at a time (a timing beside another run would measure the sharing).
Each block's line says its wall time and the CPU time (user + sys) of its processes; the last
lines name the blocks that cost the most CPU.

usage: docs_check.py check|update|timing [--build DIR] [--jobs N] [FILE.md ...]
"""
import argparse
import concurrent.futures
import datetime
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"<!-- docs-(check|timing|options): (.+?) -->")
FENCE = re.compile(r"^(```+)")
# A number followed by a time unit or a rate: seconds, milliseconds, "x.xx s training", "GB/s".
VOLATILE = re.compile(r"\b\d+(?:\.\d+)?(?=\s?(?:s|ms|min|µs|us)\b|\s?[KMGT]?B/s\b|\s?GFLOP/s\b)")


# Measured against another program's arithmetic: shown, not compared (the command checks its bound).
ELSEWHERE = re.compile(r"(?<=max diff ).*$", re.M)


def mask(text: str) -> str:
    return VOLATILE.sub("…", text)


# The padding around a masked time in a table column follows its digits (9.8 s vs 10.2 s):
# compared, a line with a masked value has its runs of spaces taken as one.
MASKED_LINE = re.compile(r"^.*….*$", re.M)


def comparable(text: str) -> str:
    """TEXT as check compares it: no "max diff" values, no column padding on lines with a masked value."""
    return MASKED_LINE.sub(lambda line: re.sub(r" {2,}", " ", line.group(0)), ELSEWHERE.sub("…", text))


def measured_elsewhere(text: str) -> list:
    return ELSEWHERE.findall(text)


@dataclass
class Ran:
    output: str
    wall: float  # seconds
    cpu: float  # user + sys seconds of the command's processes


def run_timed(command: str, build: Path) -> Ran:
    """Runs COMMAND under bash; its output is stdout then stderr, as a user reading the page sees them."""
    env = dict(os.environ)
    programs = [build / "examples", build / "examples" / "cli", build / "bench"]
    env["PATH"] = os.pathsep.join(str(p) for p in programs) + os.pathsep + env.get("PATH", "")
    started = time.monotonic()
    child = subprocess.Popen(["bash", "-c", command], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    # Both pipes drained at once (a full stderr must not block stdout), then the child reaped by
    # wait4 for its resource usage: the CPU of this block alone, whatever runs beside it.
    texts = {}

    def drain(pipe):
        texts[pipe] = pipe.read()

    readers = [threading.Thread(target=drain, args=(pipe,)) for pipe in (child.stdout, child.stderr)]
    for reader in readers:
        reader.start()
    for reader in readers:
        reader.join()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    return Ran((texts[child.stdout] + texts[child.stderr]).rstrip("\n"), time.monotonic() - started,
               usage.ru_utime + usage.ru_stime)


def blocks(lines):
    """Yields (kind, argument, marker line, first line of the block body, end line) for every marker."""
    for i, line in enumerate(lines):
        m = MARKER.search(line)
        if not m:
            continue
        kind, argument = m.group(1), m.group(2).strip()
        if kind == "options":
            yield kind, argument, i, i, i
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        opening = FENCE.match(lines[j]) if j < len(lines) else None
        if not opening:
            raise SystemExit(f"line {i + 1}: docs-{kind} marker without a fenced block after it")
        end = j + 1
        while end < len(lines) and not lines[end].startswith(opening.group(1)):
            end += 1
        yield kind, argument, i, j + 1, end


@dataclass
class Page:
    path: Path
    lines: list
    runs: list  # (kind, argument, marker line, body, end, future of Ran); kind "options": the --help run


def submit(path: Path, mode: str, build: Path, pool) -> Page:
    """Hands every block of PATH that MODE runs to POOL (the options checks' --help runs too)."""
    lines = path.read_text().split("\n")
    runs = []
    for kind, argument, marker, body, end in blocks(lines):
        if kind == "options":
            runs.append((kind, argument, marker, body, end, pool.submit(run_timed, f"{argument} --help", build)))
        elif (kind == "check") == (mode in ("check", "update")):
            runs.append((kind, argument, marker, body, end, pool.submit(run_timed, argument, build)))
    return Page(path, lines, runs)


def finish(page: Page, mode: str, costs: list) -> list:
    """Compares (check) or rewrites (update, timing) PAGE's blocks from their runs, taken in page
    order; returns the problems. COSTS gets (cpu, wall, block) for each block run."""
    path, lines = page.path, page.lines
    problems, replacements = [], []
    for kind, argument, marker, body, end, pending in page.runs:
        result = pending.result()
        if kind == "options":
            page_text = "\n".join(lines)
            # --help and --version are every program's (README.md, "Programs"), not a page's to list.
            listed = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.output)) - {"--help", "--version"}
            missing = [o for o in sorted(listed) if not re.search(re.escape(o) + r"(?![\w-])", page_text)]
            if missing:
                problems.append(f"{path.name}:{body + 1}: {argument} --help lists options this page does not "
                                f"mention: {' '.join(missing)}")
            continue
        print(f"  {result.wall:6.1f} s  {result.cpu:6.1f} s CPU  {path.name}: {argument}", flush=True)
        costs.append((result.cpu, result.wall, f"{path.name}:{marker + 1}: {argument}"))
        fresh = mask(result.output) if kind == "check" else result.output
        old = "\n".join(lines[body:end])
        if mode == "check":
            for now, then in zip(measured_elsewhere(fresh), measured_elsewhere(old)):
                print(f"          max diff {now} (the page: {then})", flush=True)
            if comparable(fresh) != comparable(old):
                diff = "\n".join(f"    doc: {a}\n    now: {b}" for a, b in
                                 zip(old.split("\n") + [""] * 99, fresh.split("\n") + [""] * 99) if a != b)
                problems.append(f"{path.name}:{body + 1}: `{argument}` prints something else now:\n{diff}")
        else:
            replacements.append((body, end, fresh.split("\n")))
            # A visible "Measured ..." note right above a timing block says when it was made:
            # regenerating the block makes the note today's.
            if mode == "timing" and marker > 0 and lines[marker - 1].startswith("Measured "):
                replacements.append((marker - 1, marker, [measured_line()]))
    for body, end, new in sorted(replacements, reverse=True):
        lines[body:end] = new
    if replacements:
        if mode == "timing":
            stamp = stamp_line()
            lines = [stamp if l.startswith("<!-- timings measured") else l for l in lines]
        path.write_text("\n".join(lines))
    return problems


def print_costs(costs: list, wall: float, jobs: int, shown: int = 10) -> None:
    """The blocks that cost the most CPU, and the whole run's CPU against its wall time."""
    if not costs:
        return
    print("the blocks costing the most CPU (s CPU, s wall):")
    for cpu, block_wall, name in sorted(costs, reverse=True)[:shown]:
        print(f"  {cpu:7.1f} {block_wall:7.1f}  {name[:150]}")
    print(f"{len(costs)} blocks: {sum(c[0] for c in costs):.0f} s CPU, {sum(c[1] for c in costs):.0f} s of block "
          f"wall times, {wall:.0f} s wall on {jobs} worker(s)", flush=True)


def measured_line() -> str:
    load = os.getloadavg()[0]
    return f"Measured {datetime.date.today()} at load {load:.2f} on {os.cpu_count()} cores (`make docs-timing`)."


def stamp_line() -> str:
    load = os.getloadavg()[0]
    return f"<!-- timings measured {datetime.date.today()} at load {load:.2f} on {os.cpu_count()} cores -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["check", "update", "timing"])
    parser.add_argument("--build", default="build")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="blocks run at once by check and update (default: every core); timing runs one at a time")
    parser.add_argument("files", nargs="*")
    args = parser.parse_intermixed_args()  # files may follow --build
    build = (ROOT / args.build).resolve()
    files = [Path(f).resolve() for f in args.files] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    jobs = 1 if args.mode == "timing" else max(1, args.jobs)
    problems, costs = [], []
    started = time.monotonic()
    # Every page's blocks are queued before the first result is read, so the workers never wait at
    # the end of a page; the results are then read page by page, in order.
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        pages = [submit(f, args.mode, build, pool) for f in files]
        for page in pages:
            problems += finish(page, args.mode, costs)
    print_costs(costs, time.monotonic() - started, jobs)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"docs-{args.mode}: {len(problems)} problem(s); `make docs-update` rewrites the generated blocks",
              file=sys.stderr)
        return 1
    print(f"docs-{args.mode}: {len(files)} page(s) agree with the code")
    return 0


if __name__ == "__main__":
    sys.exit(main())
