#!/bin/sh
# ist-bench talk --runs FILE (bench/talk_journal.hpp): a second sitting takes every run from the
# journal and prints the same tables; more seeds train only the new runs; runs under other
# settings are not taken; a malformed line is refused, naming the file and the line.
#   tests/bench/talk_journal.sh PATH/TO/ist-bench
set -eu
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "talk_journal: $*" >&2; exit 1; }
# Low targets, so that the tables hold real seconds (the journal must keep them exactly).
small="--nets 1 --width 32 --workers 2 --rounds 2 --local-steps 2 --train-rows 1000 --test-rows 200 --targets 0.5,0.6"
talk() { "$bench" talk $small "$@" 2>/dev/null; }

talk --seeds 2 --runs "$dir/runs.csv" > "$dir/first.txt"
grep -q "(0 of 6 runs from the journal)" "$dir/first.txt" || fail "first sitting: $(grep 'of the runs' "$dir/first.txt")"
[ "$(wc -l < "$dir/runs.csv")" -eq 6 ] || fail "6 runs expected in the journal, found $(wc -l < "$dir/runs.csv")"

talk --seeds 2 --runs "$dir/runs.csv" > "$dir/second.txt"
grep -q "(6 of 6 runs from the journal)" "$dir/second.txt" || fail "second sitting trained again"
grep -v "load" "$dir/first.txt" > "$dir/first.tables"
grep -v "load" "$dir/second.txt" > "$dir/second.tables"
cmp -s "$dir/first.tables" "$dir/second.tables" || fail "the journal's tables differ from the sitting that made them"

talk --seeds 3 --runs "$dir/runs.csv" > "$dir/third.txt"
grep -q "(6 of 9 runs from the journal)" "$dir/third.txt" || fail "a third seed should train 3 new runs only"

talk --seeds 1 --lr 0.02 --runs "$dir/runs.csv" > "$dir/other.txt"
grep -q "(0 of 3 runs from the journal)" "$dir/other.txt" || fail "runs under another learning rate were taken"

# Each GEMM backend's runs stay apart (their sums differ in the last bits); a backend this build
# lacks, or an unknown one, is refused before any run.
talk --seeds 1 --gemm openblas --runs "$dir/gemm.csv" > /dev/null
grep -q ';gemm=openblas,' "$dir/gemm.csv" || fail "the journal's key does not name the backend: $(head -c 300 "$dir/gemm.csv")"
if "$bench" talk $small --gemm onednn --show-config > /dev/null 2>&1; then
  talk --seeds 1 --gemm onednn --runs "$dir/gemm.csv" > "$dir/onednn.txt"
  grep -q "(0 of 3 runs from the journal)" "$dir/onednn.txt" || fail "oneDNN runs took OpenBLAS runs from the journal"
  grep -q "GEMM backend onednn;" "$dir/onednn.txt" || fail "the header does not name the backend"
else
  "$bench" talk $small --gemm onednn --show-config 2>&1 | grep -q -- "--gemm: GEMM backend onednn: this build has no oneDNN" ||
    fail "a build without oneDNN does not refuse --gemm onednn by name"
fi
if "$bench" talk $small --gemm mkl --show-config > /dev/null 2> "$dir/gemm.err"; then fail "--gemm mkl was accepted"; fi
grep -q -- "--gemm: 'mkl' is not one of openblas, onednn" "$dir/gemm.err" || fail "wrong refusal: $(cat "$dir/gemm.err")"

head -n 1 "$dir/runs.csv" | sed 's/,[^,]*$//' > "$dir/bad.csv"
if "$bench" talk $small --seeds 1 --runs "$dir/bad.csv" > /dev/null 2> "$dir/bad.err"; then
  fail "a truncated line was accepted"
fi
grep -q "bad.csv line 1: 12 fields, 13 expected" "$dir/bad.err" || fail "wrong refusal: $(cat "$dir/bad.err")"
echo "talk_journal: ok"
