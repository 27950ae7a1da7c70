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

usage: docs_check.py check|update|timing [--build DIR] [FILE.md ...]
"""
import argparse
import datetime
import os
import re
import subprocess
import sys
import time
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


def measured_elsewhere(text: str) -> list:
    return ELSEWHERE.findall(text)


def run(command: str, build: Path) -> str:
    env = dict(os.environ)
    programs = [build / "examples", build / "examples" / "cli", build / "bench"]
    env["PATH"] = os.pathsep.join(str(p) for p in programs) + os.pathsep + env.get("PATH", "")
    done = subprocess.run(["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True)
    return (done.stdout + done.stderr).rstrip("\n")


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


def options_of(program: str, build: Path):
    # --help and --version are every program's (README.md, "Programs"), not a page's to list.
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", run(f"{program} --help", build))) - {"--help", "--version"})


def process(path: Path, mode: str, build: Path) -> list:
    lines = path.read_text().split("\n")
    problems, replacements = [], []
    for kind, argument, marker, body, end in blocks(lines):
        if kind == "options":
            page = "\n".join(lines)
            missing = [o for o in options_of(argument, build) if not re.search(re.escape(o) + r"(?![\w-])", page)]
            if missing:
                problems.append(f"{path.name}:{body + 1}: {argument} --help lists options this page does not "
                                f"mention: {' '.join(missing)}")
            continue
        if (kind == "check") != (mode in ("check", "update")):
            continue
        started = time.monotonic()
        output = run(argument, build)
        seconds = time.monotonic() - started
        print(f"  {seconds:6.1f} s  {path.name}: {argument}", flush=True)
        fresh = mask(output) if kind == "check" else output
        old = "\n".join(lines[body:end])
        if mode == "check":
            for now, then in zip(measured_elsewhere(fresh), measured_elsewhere(old)):
                print(f"          max diff {now} (the page: {then})", flush=True)
            if ELSEWHERE.sub("…", fresh) != ELSEWHERE.sub("…", old):
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
    parser.add_argument("files", nargs="*")
    args = parser.parse_intermixed_args()  # files may follow --build
    build = (ROOT / args.build).resolve()
    files = [Path(f).resolve() for f in args.files] or [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    problems = []
    for f in files:
        problems += process(f, args.mode, build)
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
