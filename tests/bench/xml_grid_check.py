#!/usr/bin/python3
"""bench/xml_grid.py (issue 34, part 3): its arithmetic against numbers worked out by hand, its table
from a hand-written journal, and its journal with the real xml-train on tiny repository files: a
second sitting runs nothing and prints the same table, a third seed runs only the new runs, other
settings take nothing from the journal, and a bad journal (not JSON, a repeated run, other data) is
refused, naming the line, before anything runs. A sitting stopped at once (SIGKILL of the driver and
xml-train) mid-run is resumed from the run's checkpoint by the next and journals what an unbroken
sitting journals; a resumed run whose evaluations disagree with the killed part's, or that lacks some,
is refused, and files of another command are not resumed.

  tests/bench/xml_grid_check.py --driver bench/xml_grid.py --xml-train build/examples/cli/xml-train
"""
import argparse
import importlib.util
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print(f"xml_grid_check: FAILED: {what}", file=sys.stderr)


def close(x, y, what, tolerance=1e-12):
    check(x is not None and abs(x - y) <= tolerance, f"{what}: {x} != {y}")


def load_driver(path):
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # its sibling jsonl_journal.py (bench/ is not a package)
    spec = importlib.util.spec_from_file_location("xml_grid", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- arithmetic by hand ---------------------------------------------------------------------------

def curve(score, evaluations=6):
    """A curve whose last 5 evaluations average `score` exactly by hand (t-.01, t+.01, t, t-.02, t+.02)
    and whose earlier evaluations are .9: counted, they would show."""
    tail = [score - 0.01, score + 0.01, score, score - 0.02, score + 0.02]
    values = [0.9] * (evaluations - 5) + tail
    return [[10 * (i + 1), v, v / 2, v / 3, v] for i, v in enumerate(values)]


def check_arithmetic(g):
    means = g.last_mean(curve(0.12), 5)
    close(means[0], 0.12, "P@1 over the last 5 evaluations", 1e-15)
    close(means[1], 0.06, "P@3 over the last 5 evaluations", 1e-15)
    close(g.last_mean([[10, 0.4, 0, 0, 0], [20, 0.2, 0, 0, 0]], 1)[0], 0.2, "the last 1 evaluation is the last")
    mean, sd = g.mean_sd([0.10, 0.12, 0.14])
    close(mean, 0.12, "mean of .10 .12 .14")
    close(sd, 0.02, "sample sd of .10 .12 .14 (n - 1)")
    check(g.mean_sd([0.3])[1] is None, "one seed has no sd")
    close(g.pooled_sd(0.02, 3, 0.01, 3), math.sqrt(0.00025), "pooled sd, 3 and 3 seeds")
    close(g.pooled_sd(0.02, 3, 0.01, 2), math.sqrt(0.0003), "pooled sd, 3 and 2 seeds: weighted by n - 1")
    # The rate ladder: start; then x2 and /2 of the best until both of its neighbours were tried.
    cases = [({}, 5, (None, 2)), ({2: .5}, 5, (None, 4)), ({2: .5, 4: .6}, 5, (None, 8)),
             ({2: .5, 4: .6, 8: .55}, 5, (4, None)), ({1: .7, 2: .5, 4: .4}, 5, (None, 0.5)),
             ({1: .7, 2: .5, 4: .4}, 3, (1, None)), ({1: .3, 2: .5, 4: .5, 8: .2}, 5, (2, None))]
    for scores, cap, expected in cases:
        got = g.choose_lr(scores, 2.0, cap)
        check(got == expected, f"choose_lr({scores}, start 2, at most {cap}) = {got}, expected {expected}")


def check_table(g, scratch):
    """The table and verdicts from a journal written by hand (default cells)."""
    journal = os.path.join(scratch, "hand.jsonl")
    key = g.settings_key(g.arguments(["--journal", journal]))
    data = {"run": "train 100 rows, test 50 rows, 30 features, 8 labels",
            "choice": "train 90 rows, test 50 rows, 30 features, 8 labels / validation 10 rows held out"}

    def row(kind, cell, lr, seed, score, settings=key):
        return {"kind": kind, "settings": settings, "cell": cell, "lr": lr, "seed": seed, "data": data[kind],
                "curve": curve(score)}

    rows = [row("choice", "ist:3072:4", 2, 1, .20), row("choice", "ist:3072:4", 4, 1, .25),
            row("choice", "ist:3072:4", 8, 1, .22),
            row("run", "ist:3072:4", 4, 1, .16), row("run", "ist:3072:4", 4, 2, .18), row("run", "ist:3072:4", 4, 3, .20),
            row("run", "ist:3072:4", 2, 1, .90),  # a rate not chosen: never in the table
            row("choice", "data-parallel:512:4", 8, 1, .30), row("choice", "data-parallel:512:4", 16, 1, .20),
            row("choice", "data-parallel:512:4", 4, 1, .25),
            row("run", "data-parallel:512:4", 8, 1, .14), row("run", "data-parallel:512:4", 8, 2, .15),
            row("run", "data-parallel:512:4", 8, 3, .16),
            {"kind": "refused", "settings": key, "cell": "data-parallel:1024:4", "reason": "needs 0.14 GiB"},
            row("choice", "ist:512:4", 2, 1, .20), row("choice", "ist:512:4", 4, 1, .10), row("choice", "ist:512:4", 1, 1, .15),
            row("run", "ist:512:4", 2, 1, .13), row("run", "ist:512:4", 2, 2, .15),
            row("run", "ist:6144:8", 2, 1, .99, settings=key.replace("rounds=240", "rounds=120"))]
    with open(journal, "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    out = run([sys.executable, DRIVER, "--journal", journal, "--report"]).stdout
    lines = out.splitlines()
    # ist 3072: runs .16 .18 .20 -> .18 +- .02; data parallel 512: .14 .15 .16 -> .15 +- .01; 240 rounds x 10 x
    # 128 rows x S = 4 workers over 100 training rows = 12288 epochs.
    expect_line(lines, "ist H=3072 S=4 ", ["12288.0", " 4 ", "3/3", "0.1800 +- 0.0200", "0.0900 +- 0.0100"])
    expect_line(lines, "data-parallel H=512 S=4 ", [" 8 ", "3/3", "0.1500 +- 0.0100"])
    expect_line(lines, "data-parallel H=1024 S=4 ", ["refused: needs 0.14 GiB"])
    expect_line(lines, "ist H=512 S=4 ", [" 2 ", "2/3", "0.1400 +- 0.0141"])
    expect_line(lines, "  ist H=3072 S=4", ["2 0.2000", "4* 0.2500", "8 0.2200"])
    # Check 1: .03 over pooled sqrt((2 .02^2 + 2 .01^2) / 4) = .0158: 1.90 sd, not above 2.
    at = index_of(lines, "  IST 3072 beats data parallel 512 by more than 2 pooled sd: NOT MET")
    check(at is not None and "= +0.0300, pooled sd 0.0158: +1.90 sd" in lines[at + 1], f"check 1:\n{out}")
    # Check 2: -.01 over pooled sqrt((1 .0141^2 + 2 .01^2) / 3) = .0115: -0.87 sd >= -1, on 2 of 3 seeds.
    at = index_of(lines, "  IST 512 >= data parallel 512 - 1 pooled sd: MET (seeds 2 and 3 of 3)")
    check(at is not None and "= -0.0100, pooled sd 0.0115: -0.87 sd" in lines[at + 1], f"check 2:\n{out}")
    check(any("not judged yet (ist H=6144 S=8 0 seeds" in l for l in lines), f"check 3 judged without seeds:\n{out}")
    expect_line(lines, "  ist H=512 S=4 (1 of 3 seeds)", [])
    expect_line(lines, "  ist H=6144 S=8 (rate not chosen yet: 0 choice runs)", [])
    expect_line(lines, "(1 row of the journal is under other settings: not used)", [])


def index_of(lines, start):
    return next((i for i, l in enumerate(lines) if l.startswith(start)), None)


def expect_line(lines, start, parts):
    at = index_of(lines, start)
    check(at is not None, f"no line starting {start!r} in:\n" + "\n".join(lines))
    if at is not None:
        for part in parts:
            check(part in lines[at], f"{part!r} not in {lines[at]!r}")


# --- the journal with the real xml-train ----------------------------------------------------------

def write_repository(path, rows, features, labels, rng):
    """Repository format: header 'points features labels', then 'l1,l2 f:v ...' (labels follow features)."""
    with open(path, "w") as f:
        f.write(f"{rows} {features} {labels}\n")
        for _ in range(rows):
            chosen = sorted(rng.sample(range(features), 4))
            label = chosen[0] % labels
            f.write(f"{label} " + " ".join(f"{i}:{rng.randint(1, 3)}" for i in chosen) + "\n")


def run(argv, expect=0):
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != expect:
        FAILURES.append(f"{' '.join(argv)} exited {done.returncode}, expected {expect}")
        print(f"xml_grid_check: FAILED: {' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}",
              file=sys.stderr)
    return done


def count_lines(path):
    with open(path) as f:
        return sum(1 for line in f if line.strip())


def check_journal(g, xml_train, scratch):
    rng = random.Random(7)
    train, test = os.path.join(scratch, "train.txt"), os.path.join(scratch, "test.txt")
    write_repository(train, 80, 40, 8, rng)
    write_repository(test, 30, 40, 8, rng)
    journal = os.path.join(scratch, "runs.jsonl")
    # A budget data parallel at width 64 does not fit, while both methods fit at 16.
    small = ["--xml-train", xml_train, "--resume-dir", os.path.join(scratch, "resume"), "--train", train, "--test", test, "--cells",
             "ist:16:2,data-parallel:16:2,data-parallel:64:2", "--rounds", "4", "--eval-every", "1", "--last", "2",
             "--local-steps", "2", "--batch", "8", "--validation-rows", "10", "--memory-budget", "0.00002",
             "--max-candidates", "3", "--gemm", g.linked_gemm(xml_train)]

    def grid(*extra, journal=journal, expect=0):
        return run([sys.executable, DRIVER, *small, "--seeds", "1,2", "--journal", journal, *extra], expect)

    first = grid()
    # 3 rates tried per trainable cell, the refusal, 2 seeds of 2 cells.
    check(count_lines(journal) == 3 + 3 + 1 + 4, f"first sitting journalled {count_lines(journal)} rows, 11 expected")
    check("missing: none" in first.stdout, f"first sitting left cells missing:\n{first.stdout}")
    check("refused: data-parallel H=64 seed 1: a worker holding 64 hidden neurons needs" in first.stdout,
          f"data parallel at 64 not refused by the budget:\n{first.stdout}")
    report = grid("--report").stdout
    second = grid()
    check(count_lines(journal) == 11, "the second sitting trained again")
    check(second.stdout == report, f"the second sitting's table differs from the journal's:\n{second.stdout}\n{report}")
    check(report in first.stdout, "the first sitting's table differs from the journal's")

    third = run([sys.executable, DRIVER, *small, "--seeds", "1,2,3", "--journal", journal])
    check(count_lines(journal) == 13, f"a third seed should add 2 runs, the journal has {count_lines(journal)} rows")
    check(third.stdout.count("xml-grid: run ") == 2 and "xml-grid: choice" not in third.stdout,
          f"a third seed re-chose a rate or ran more:\n{third.stdout}")

    other = grid("--rounds", "6", "--max-runs", "1")
    check(count_lines(journal) == 14, "other rounds should run 1 new run (--max-runs 1) and take nothing")
    check("stopped after --max-runs 1 new runs" in other.stdout and "(13 rows of the journal are under other settings: not used)"
          in other.stdout, f"other settings:\n{other.stdout}")

    refusals = [("truncated", lambda text: text[:-5], "line 14: not a JSON line"),
                ("repeated", lambda text: text + text.splitlines(True)[-3], "line 15 repeats the run of line 12"),
                ("other data", lambda text: text.replace("train 80 rows", "train 81 rows"),
                 "xml-train now runs on other data than the journal's other")]
    for name, edit, message in refusals:
        bad = os.path.join(scratch, name.replace(" ", "-") + ".jsonl")
        with open(journal) as f:
            text = edit(f.read())
        with open(bad, "w") as f:
            f.write(text)
        # --seeds 1,2,3,4 leaves work to do, so a refusal must come before any run.
        refused = run([sys.executable, DRIVER, *small, "--seeds", "1,2,3,4", "--journal", bad], expect=2)
        check(message in refused.stderr and "xml-grid: run" not in refused.stdout,
              f"{name} journal: {message!r} expected before any run, got:\n{refused.stdout}{refused.stderr}")
        with open(bad) as f:
            check(f.read() == text, f"{name} journal: written to although refused")
    # A program built with the other GEMM backend is refused, as its last bits differ.
    other_gemm = {"onednn": "openblas", "openblas": "onednn"}[g.linked_gemm(xml_train)]
    refused = run([sys.executable, DRIVER, *small, "--gemm", other_gemm, "--journal", journal], expect=2)
    check(f"not --gemm {other_gemm}: pass --gemm {g.linked_gemm(xml_train)}" in refused.stderr,
          f"another GEMM backend was not refused:\n{refused.stderr}")


# --- a sitting stopped at once, resumed by the next ------------------------------------------------

def journal_rows(path):
    """The journal's rows without what depends on the sitting (date, seconds, load, the parts it took)."""
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [{k: v for k, v in r.items() if k not in ("date", "seconds", "load", "parts", "resumed_after")} for r in rows]


def logged_rounds(resume_dir, prefix):
    """(curve lines the driver logged so far for the run whose files start with `prefix`, whether its
    checkpoint exists)."""
    names = os.listdir(resume_dir) if os.path.isdir(resume_dir) else []
    logs = [n for n in names if n.startswith(prefix) and n.endswith(".log")]
    if not logs:
        return 0, False
    with open(os.path.join(resume_dir, logs[0])) as f:
        lines = f.read().count('"line": "  round ')
    return lines, any(n.startswith(prefix) and n.endswith(".npz") for n in names)


def kill_mid_run(argv, resume_dir, prefix, rounds):
    """Runs the driver in a session of its own and SIGKILLs the whole session (driver and xml-train, as a
    sitting is stopped) once the run named `prefix` has a checkpoint and `rounds` evaluations logged
    (progress-driven, so the same on a loaded machine). True if killed; False if the driver ended first."""
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while child.poll() is None and time.monotonic() < deadline:
        logged, checkpointed = logged_rounds(resume_dir, prefix)
        if logged >= rounds and checkpointed:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            return True
        time.sleep(0.0005)
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    return False


def check_xml_train_resume(xml_train, train, test, scratch):
    """xml-train --checkpoint on its own, without timing: 4 rounds, then the same checkpoint taken on to 8
    (the trainer trains until its rounds are done) prints what an unbroken 8-round run prints, the round
    it resumes after (4) printed again."""
    common = [xml_train, "--train", train, "--test", test, "--methods", "ist", "--hidden", "32", "--workers", "2",
              "--local-steps", "2", "--batch", "8", "--eval-every", "2", "--lr", "0.5"]
    checkpoint = os.path.join(scratch, "four.npz")
    unbroken = run([*common, "--rounds", "8"]).stdout.splitlines()
    first = run([*common, "--rounds", "4", "--checkpoint", checkpoint]).stdout.splitlines()
    resumed = run([*common, "--rounds", "8", "--checkpoint", checkpoint]).stdout.splitlines()
    curve = [l for l in unbroken if l.startswith("  round ")]
    check(len(curve) == 4 and [l for l in first if l.startswith("  round ")] == [c.replace("/8", "/4") for c in curve[:2]],
          f"4 rounds differ from the unbroken run's first 4:\n{first}\n{curve}")
    check(f"resuming from {checkpoint} after round 4" in resumed, f"xml-train did not resume:\n{resumed}")
    check([l for l in resumed if l.startswith("  round ")] == curve[1:],
          f"the resumed run did not print rounds 4 (again), 6 and 8 as the unbroken run did:\n{resumed}\n{curve}")


def check_resume(g, xml_train, scratch):
    rng = random.Random(11)
    train, test = os.path.join(scratch, "resume-train.txt"), os.path.join(scratch, "resume-test.txt")
    write_repository(train, 300, 60, 10, rng)
    write_repository(test, 40, 60, 10, rng)
    check_xml_train_resume(xml_train, train, test, scratch)
    # One cell, one rate tried: a choice run and a seed run of 200 rounds, each evaluated and checkpointed
    # every round (so the round a run resumes after is always printed again).
    settings = ["--xml-train", xml_train, "--train", train, "--test", test, "--cells", "ist:32:2", "--seeds", "1",
                "--rounds", "200", "--eval-every", "1", "--last", "2", "--local-steps", "2", "--batch", "8",
                "--validation-rows", "20", "--max-candidates", "1", "--checkpoint-every", "1",
                "--gemm", g.linked_gemm(xml_train)]

    def grid(name, *extra, expect=0):
        return run([sys.executable, DRIVER, *settings, "--journal", os.path.join(scratch, name + ".jsonl"),
                    "--resume-dir", os.path.join(scratch, name + "-resume"), *extra], expect)

    grid("unbroken")
    unbroken = journal_rows(os.path.join(scratch, "unbroken.jsonl"))
    check(len(unbroken) == 2, f"the unbroken sitting journalled {len(unbroken)} runs, 2 expected")
    check(not os.listdir(os.path.join(scratch, "unbroken-resume")), "a journalled run left its files in --resume-dir")

    # Stopped during the seed run, 5 evaluations in: kills land mid-round, mid-evaluation or mid-write,
    # as the machine's timing has it.
    killed, journal, resume = False, os.path.join(scratch, "killed.jsonl"), os.path.join(scratch, "killed-resume")
    for _ in range(5):
        shutil.rmtree(resume, ignore_errors=True)
        if os.path.exists(journal):
            os.remove(journal)
        argv = [sys.executable, DRIVER, *settings, "--journal", journal, "--resume-dir", resume]
        killed = kill_mid_run(argv, resume, "run-", 5) and any(n.endswith(".npz") for n in os.listdir(resume))
        if killed:
            break
    check(killed, "the driver was never killed with a checkpoint in --resume-dir (5 tries)")
    if not killed:
        return
    check(journal_rows(journal) == unbroken[:1], "the killed sitting journalled more than the finished choice run")
    stopped = {name: os.path.join(scratch, name) for name in ("disagrees", "gap", "other-command", "cut-line")}
    for copy in stopped.values():
        shutil.copyfile(journal, copy + ".jsonl")
        shutil.copytree(resume, copy + "-resume")

    resumed = grid("killed")
    at = resumed.stdout.find("resuming from ")
    check(at >= 0 and " after round " in resumed.stdout[at:at + 300],
          f"the next sitting did not resume the killed run from its checkpoint:\n{resumed.stdout}")
    check(journal_rows(journal) == unbroken, "the resumed sitting's journal differs from the unbroken sitting's:\n"
          f"{journal_rows(journal)}\n{unbroken}")
    check(not os.listdir(resume), "the resumed run's files were left in --resume-dir")
    with open(journal) as f:
        last = json.loads(f.read().splitlines()[-1])
    check(last.get("parts") == 2 and isinstance(last.get("resumed_after"), int) and 0 < last["resumed_after"] < 200,
          f"the resumed run's row does not say it took 2 parts: {last}")

    def edit_log(name, edit):
        folder = stopped[name] + "-resume"
        log = os.path.join(folder, next(n for n in os.listdir(folder) if n.endswith(".log")))
        with open(log) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        with open(log, "w") as f:
            f.writelines(json.dumps(r) + "\n" for r in edit(rows))

    def round_line(row):
        return "line" in row and g.ROUND_LINE.match(row["line"])

    # Evaluations the killed part printed differ from what the resumed run prints again (every line
    # changed, the round resumed after among them): not the same run.
    edit_log("disagrees", lambda rows: [dict(r, line=r["line"].replace("0.", "0.9", 1)) if round_line(r) else r
                                        for r in rows])
    refused = grid("disagrees", expect=2)
    check("before the run was stopped and" in refused.stderr and "not the same run" in refused.stderr,
          f"a resumed run that disagrees with its killed part was journalled:\n{refused.stdout}{refused.stderr}")
    check(journal_rows(stopped["disagrees"] + ".jsonl") == unbroken[:1], "a refused run was journalled")
    # The killed part's evaluations lost: the resumed run alone lacks the early rounds.
    edit_log("gap", lambda rows: [r for r in rows if not round_line(r)])
    refused = grid("gap", expect=2)
    check("no evaluations of rounds 1, 2" in refused.stderr,
          f"a curve with missing evaluations was journalled:\n{refused.stdout}{refused.stderr}")
    # Files another command left (here: another xml-train path) are not resumed: the run starts afresh.
    edit_log("other-command", lambda rows: [dict(r, argv=["/elsewhere/xml-train"] + r["argv"][1:]) if "argv" in r else r
                                            for r in rows])
    afresh = grid("other-command")
    check("resuming from" not in afresh.stdout and journal_rows(stopped["other-command"] + ".jsonl") == unbroken,
          f"files of another command were resumed:\n{afresh.stdout}")
    # A kill mid-write leaves the log's last line cut short: it is left out, the rest resumed.
    with open(os.path.join(stopped["cut-line"] + "-resume", next(
            n for n in os.listdir(stopped["cut-line"] + "-resume") if n.endswith(".log"))), "a") as f:
        f.write('{"line": "  round 9')
    cut = grid("cut-line")
    check("resuming from" in cut.stdout and journal_rows(stopped["cut-line"] + ".jsonl") == unbroken,
          f"a log whose last line was cut by the kill was not resumed:\n{cut.stdout}{cut.stderr}")


def main():
    global DRIVER
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--driver", required=True)
    p.add_argument("--xml-train", required=True)
    a = p.parse_args()
    DRIVER = os.path.abspath(a.driver)
    scratch = tempfile.mkdtemp(prefix="xml-grid-check-")
    try:
        g = load_driver(DRIVER)
        check_arithmetic(g)
        check_table(g, scratch)
        check_journal(g, os.path.abspath(a.xml_train), scratch)
        check_resume(g, os.path.abspath(a.xml_train), scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if FAILURES:
        print(f"xml_grid_check: {len(FAILURES)} failures", file=sys.stderr)
        return 1
    print("xml_grid_check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
