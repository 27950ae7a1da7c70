#!/usr/bin/env python3
"""Every doctest TEST_CASE runs exactly once under ctest (issue 36).

For each doctest program ctest knows (an entry whose command has --test-case=), lists its cases with
--list-test-cases and checks, with doctest's own filter rules (',' separates alternatives, '*' and '?'
are wildcards, case-insensitive), that every case is matched by exactly one entry and every entry
matches exactly one case. It also checks that each entry fails when its run counts other than one
case (FAIL_REGULAR_EXPRESSION on doctest's summary line), and that every ist_tests_* program in the
build directory is registered at all.

Usage: check_ctest_cases.py BUILD_DIR   (exit 1 with one line per problem)
"""
import json
import os
import re
import subprocess
import sys


def doctest_filter_matches(filter_text, name):
    """doctest's --test-case matching: alternatives split on unescaped ',', wildcards * and ?."""
    parts, current, i = [], "", 0
    while i < len(filter_text):
        if filter_text[i] == "\\" and i + 1 < len(filter_text) and filter_text[i + 1] == ",":
            current += ","
            i += 2
            continue
        if filter_text[i] == ",":
            parts.append(current)
            current = ""
        else:
            current += filter_text[i]
        i += 1
    parts.append(current)
    for part in parts:
        pattern = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in part)
        if re.fullmatch(pattern, name, re.IGNORECASE | re.DOTALL):
            return True
    return False


def listed_cases(executable):
    out = subprocess.run([executable, "--list-test-cases"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.split("\n")
            if line and not line.startswith("[doctest] ") and not re.fullmatch("=+", line)]


def property_of(test, key):
    for p in test.get("properties", []):
        if p["name"] == key:
            return p["value"]
    return None


def main():
    build = sys.argv[1]
    shown = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"], capture_output=True, text=True,
                           check=True).stdout
    tests = json.loads(shown)["tests"]
    problems = []
    entries = {}  # executable -> [(ctest name, filter)]
    for t in tests:
        command = t.get("command") or []
        filters = [a[len("--test-case="):] for a in command if a.startswith("--test-case=")]
        if "NOT_BUILT" in t["name"]:
            problems.append(f"{t['name']}: its program was not built")
        if not filters:
            continue
        entries.setdefault(command[0], []).append((t["name"], filters[0]))
        regex = property_of(t, "FAIL_REGULAR_EXPRESSION")
        regex = regex[0] if isinstance(regex, list) and regex else regex
        zero = "[doctest] test cases: 0 | 0 passed | 0 failed | 12 skipped"
        one = "[doctest] test cases:  1 |  1 passed | 0 failed | 11 skipped"
        two = "[doctest] test cases: 2 | 2 passed | 0 failed | 10 skipped"
        if not regex or not re.search(regex, zero) or not re.search(regex, two) or re.search(regex, one):
            problems.append(f"{t['name']}: no FAIL_REGULAR_EXPRESSION failing a run of 0 or 2 cases ({regex!r})")
    tests_dir = os.path.join(build, "tests")
    if os.path.isdir(tests_dir):
        for f in sorted(os.listdir(tests_dir)):
            path = os.path.join(tests_dir, f)
            if f.startswith("ist_tests_") and os.access(path, os.X_OK) and os.path.isfile(path):
                if not any(os.path.samefile(path, e) for e in entries if os.path.exists(e)):
                    problems.append(f"{f}: built but not registered with ctest")
    total = 0
    for executable, registered in sorted(entries.items()):
        cases = listed_cases(executable)
        total += len(cases)
        for case in cases:
            runs = [name for name, flt in registered if doctest_filter_matches(flt, case)]
            if len(runs) != 1:
                problems.append(f"{os.path.basename(executable)}: case '{case}' is run by {len(runs)} ctest entries {runs}")
        for name, flt in registered:
            matched = [c for c in cases if doctest_filter_matches(flt, c)]
            if len(matched) != 1:
                problems.append(f"{os.path.basename(executable)}: ctest entry '{name}' runs {len(matched)} cases")
    for p in problems:
        print(p)
    print(f"{total} doctest cases in {len(entries)} programs; {len(problems)} problems")
    return 1 if problems or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
