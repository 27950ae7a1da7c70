#!/usr/bin/env python3
"""Issue 31's done line, checked: every example of examples/*.cpp is run by ctest, and
<ist/ist.hpp> reaches every public header (include/ist, not detail/) through its includes, except
the headers that need MPI or ONNX (they include <mpi.h> or <onnx/...>, directly or through another
header: a program includes <ist/transport/mpi/mpi_transport.hpp> or <ist/onnx/export.hpp> itself and
links ist::mpi or ist::onnx). Prints, last:

    examples N, ist.hpp reaches M of K public headers (the other K - M need MPI or ONNX), train/ F files

and fails, naming them, on an example that ctest does not run, a public header ist.hpp misses, or a
folder of include/ist whose tests are not in the same folder under tests/ (tests/ mirrors include/ist).
"""
import argparse
import pathlib
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)


def includes(header, include_root):
    """The ist headers `header` includes, as paths (ist/... from the include root, "x.hpp" beside it)."""
    found, system = [], []
    for bracket, name in INCLUDE.findall(header.read_text()):
        if name.startswith("ist/"):
            found.append(include_root / name)
        elif bracket == '"' and (header.parent / name).exists():
            found.append((header.parent / name).resolve())
        else:
            system.append(name)
    return found, system


def reachable(start, include_root):
    seen, todo = set(), [start.resolve()]
    while todo:
        header = todo.pop()
        if header in seen or not header.exists():
            continue
        seen.add(header)
        todo.extend(p.resolve() for p in includes(header, include_root)[0])
    return seen


def needs(headers, include_root, system_header):
    """The headers that include a system header `system_header` accepts, directly or through another ist header."""
    direct = {h for h in headers if any(system_header(name) for name in includes(h, include_root)[1])}
    return {h for h in headers if reachable(h, include_root) & direct}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, help="the source tree")
    parser.add_argument("--examples", required=True, help="the examples ctest runs, ;-separated target names")
    parser.add_argument("--mpi-built", default="0", help="1 when the MPI examples are built and run")
    parser.add_argument("--onnx-built", default="0", help="1 when the ONNX examples are built and run")
    args = parser.parse_args()
    root = pathlib.Path(args.root).resolve()
    include_root = root / "include"
    problems = []

    run = {name for name in args.examples.split(";") if name}
    for source in sorted((root / "examples").glob("*.cpp")):
        mpi_only = "ist/transport/mpi/mpi_transport.hpp" in source.read_text()
        onnx_only = "ist/onnx/" in source.read_text()
        if source.stem not in run and not (mpi_only and args.mpi_built != "1") and not (onnx_only and args.onnx_built != "1"):
            problems.append(f"examples/{source.name} is not run by ctest (examples/CMakeLists.txt: IST_FEATURE_EXAMPLES)")

    public = {p.resolve() for p in (include_root / "ist").rglob("*.hpp") if "detail" not in p.relative_to(include_root).parts}
    umbrella = (include_root / "ist" / "ist.hpp").resolve()
    public.discard(umbrella)
    reached = reachable(umbrella, include_root) & public
    mpi = needs(public, include_root, lambda name: name == "mpi.h")
    onnx = needs(public, include_root, lambda name: name.startswith("onnx/"))
    missed = sorted(public - reached - mpi - onnx)
    for header in missed:
        problems.append(f"<ist/ist.hpp> does not reach {header.relative_to(include_root)}")
    folders = sorted({h.parent for h in (include_root / "ist").rglob("*.hpp")} - {include_root / "ist"})
    for folder in folders:
        mirror = root / "tests" / folder.relative_to(include_root / "ist")
        if not any(mirror.glob("test_*.cpp")):
            problems.append(f"include/ist/{folder.relative_to(include_root / 'ist')} has no tests in {mirror.relative_to(root)}/")
    print(f"tests mirror include/ist: {len(folders) - sum('has no tests' in p for p in problems)} of {len(folders)} folders")
    train_files = [p for p in (include_root / "ist" / "train").iterdir() if p.is_file()]

    print("needing MPI, left out of <ist/ist.hpp>: " + ", ".join(sorted(str(h.relative_to(include_root)) for h in mpi)))
    print("needing ONNX, left out of <ist/ist.hpp>: " + ", ".join(sorted(str(h.relative_to(include_root)) for h in onnx)))
    for problem in problems:
        print("layout: " + problem)
    print(f"examples {len(run)}, ist.hpp reaches {len(reached)} of {len(public)} public headers "
          f"(the other {len(public) - len(reached)} need MPI or ONNX), train/ {len(train_files)} files")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
