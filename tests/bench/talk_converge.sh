#!/bin/sh
# ist-bench talk --epochs / --validation-rows (bench/talk_converge.hpp), each checked against an
# oracle computed here: the rounds of IST_Release's epoch accounting worked out by hand; the
# held-out rows never trained on (the same curves as a run that never had them); the model chosen
# on the validation rows and the convergence flag recomputed by awk from the printed curves; the
# options refused where they would be ignored; the table's last line.
#   tests/bench/talk_converge.sh PATH/TO/ist-bench
set -eu
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "talk_converge: $*" >&2; exit 1; }

# 1. The accounting: 60,000 - 5,000 rows / 128 = 429 batches; / S = 214 (S = 2) or 107 (S = 4)
# steps per epoch, 11 or 6 rounds of 20; the 3-layer net runs E x S epochs.
"$bench" talk --preset reference --epochs 3 --validation-rows 5000 --workers 2,4 --show-config > "$dir/config.txt"
for expected in "2-layer, S = 2: 3 epochs of 214 steps per worker = 11 rounds per epoch, 33 rounds" \
                "2-layer, S = 4: 3 epochs of 107 steps per worker = 6 rounds per epoch, 18 rounds" \
                "3-layer, S = 2: 6 epochs of 214 steps per worker = 11 rounds per epoch, 66 rounds" \
                "3-layer, S = 4: 12 epochs of 107 steps per worker = 6 rounds per epoch, 72 rounds"; do
  grep -qF "$expected" "$dir/config.txt" || fail "accounting: '$expected' missing from: $(cat "$dir/config.txt")"
done

# 2. Held out: 1,200 rows with the last 200 held out train exactly as the first 1,000 rows alone
# (same curves, bit for bit); with nothing held out the curves differ, so the check can fail.
small="--nets 1 --width 32 --workers 2 --seeds 1 --test-rows 500 --epochs 10 --batch 16 --local-steps 5 --lr 0.1 --targets 0.5,0.6"
curves() { grep "curve:" | sed 's/ validation [-0-9.]*//'; }
"$bench" talk $small --train-rows 1200 --validation-rows 200 --runs "$dir/runs.csv" > "$dir/held.txt" 2> "$dir/held.err"
"$bench" talk $small --train-rows 1000 2>&1 > /dev/null | curves > "$dir/alone.curves"
"$bench" talk $small --train-rows 1200 2>&1 > /dev/null | curves > "$dir/all.curves"
curves < "$dir/held.err" > "$dir/held.curves"
[ "$(wc -l < "$dir/held.curves")" -eq 30 ] || fail "10 evaluations x 3 methods expected, got $(wc -l < "$dir/held.curves")"
cmp -s "$dir/held.curves" "$dir/alone.curves" || fail "the held-out rows changed training"
cmp -s "$dir/held.curves" "$dir/all.curves" && fail "training on 1,200 rows gave the curves of 1,000: the check is blind"

# 3. The chosen model and the flag, per run, recomputed from the curves against the journal
# (fields 14-22: chosen, evaluations, chosen test, last test, chosen validation, training
# accuracy, training loss, spread, converged).
grep "curve:" "$dir/held.err" | awk -v journal="$dir/runs.csv" '
  { run = $3 "," $5 "," $7 "," $9; k = $11; val[run, k] = $18; test[run, k] = $20; n[run] = k }
  END {
    while ((getline line < journal) > 0) {
      split(line, f, ","); run = f[2] "," f[3] "," f[4] "," f[5]
      best = 1
      for (k = 2; k <= n[run]; ++k) if (val[run, k] > val[run, best]) best = k
      low = 1; high = 0
      for (k = n[run] - 4; k <= n[run]; ++k) { if (test[run, k] < low) low = test[run, k]; if (test[run, k] > high) high = test[run, k] }
      flag = (high - low < 0.003) ? 1 : 0
      d = f[16] - test[run, best]; if (d < 0) d = -d
      if (f[14] != best || d > 1e-6 || f[22] != flag || f[15] != n[run]) { print "run " run ": journal chose " f[14] " flag " f[22] ", curves give " best " flag " flag; bad = 1 }
      if (best != n[run]) moved = 1
      ++runs
    }
    if (runs != 3) { print runs " runs in the journal, 3 expected"; bad = 1 }
    if (!moved) { print "every run chose its last evaluation: the choice was not exercised"; bad = 1 }
    exit bad
  }' > "$dir/check.txt" || fail "$(cat "$dir/check.txt")"

# The summary: IST's chosen test accuracy minus the better baseline's, in points, whatever its sign.
lead=$(awk -F, '{ chosen[$4] = $16 } END { best = chosen[0] > chosen[1] ? chosen[0] : chosen[1]; printf "%.3f", 100 * (chosen[2] - best) }' "$dir/runs.csv")
tail -n 1 "$dir/held.txt" | grep -qF "mean $lead max" || fail "IST - best baseline should be $lead: $(tail -n 1 "$dir/held.txt")"

# 4. The journal serves a second sitting the same table, and the last line is the summary.
"$bench" talk $small --train-rows 1200 --validation-rows 200 --runs "$dir/runs.csv" > "$dir/again.txt" 2>/dev/null
grep -q "(3 of 3 runs from the journal)" "$dir/again.txt" || fail "second sitting trained again"
[ "$(tail -n 1 "$dir/held.txt")" = "$(tail -n 1 "$dir/again.txt")" ] || fail "the journal's summary differs"
tail -n 1 "$dir/held.txt" | grep -Eq '^at convergence IST - best baseline: min -?[0-9]+\.[0-9]{3} mean -?[0-9]+\.[0-9]{3} max -?[0-9]+\.[0-9]{3} \(points\)$' ||
  fail "last line: $(tail -n 1 "$dir/held.txt")"

# 5. Refused where they would be ignored.
refused() {
  expected=$1; shift
  if "$bench" talk "$@" > /dev/null 2> "$dir/refused.err"; then fail "accepted: $*"; fi
  grep -qF -- "$expected" "$dir/refused.err" || fail "$*: wrong refusal: $(cat "$dir/refused.err")"
}
refused "--rounds would be ignored" --epochs 2 --rounds 5 --show-config
refused "--validation-rows would be ignored" --validation-rows 100 --show-config
refused "--epochs would be ignored" --epochs 2 --bytes
refused "--validation-rows 1000 leaves none of the 1000 training rows" --epochs 2 --train-rows 1000 --validation-rows 1000 --show-config
echo "talk_converge: ok"
