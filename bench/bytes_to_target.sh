#!/bin/sh
# The byte target of the quantised exchange (docs/quantisation.md), at equal rounds rather than
# under a time budget: local SGD (fp32) trains ROUNDS rounds and its final test accuracy becomes
# the target; then IST with 8-bit coded updates (plain, and with error feedback) trains until it
# reaches that accuracy or 3 x ROUNDS rounds. Bytes are RoundMetrics::total_bytes (sent +
# received, all workers) from `ist-train --log`, the accuracy is on Fashion-MNIST's 10,000 test
# rows. Every run: Fashion-MNIST, 60,000 training rows in disjoint shards, MLP 784-HIDDEN-10 with
# batch norm, S = 4, l = 20, batch 128 per worker, plain SGD lr 0.05, seed 42.
#
#   bench/bytes_to_target.sh [BUILD_DIR]          # default build; ist-train from PATH or BUILD_DIR
#   HIDDEN=4096,4096 ROUNDS=20 bench/bytes_to_target.sh
#   EVAL_EVERY=5 (local SGD's evaluations, to show how near its plateau round ROUNDS is),
#   MAX_ROUNDS=3xROUNDS, CODECS=q8 (IST codecs, each coding updates), OUT=build/bytes-to-target (logs)
#
# Prints local SGD's accuracy every EVAL_EVERY rounds, then for each IST run (evaluated every
# round) the first round at which it reached each of those accuracies, the bytes both runs used to
# there and their ratio, which is (bytes per round ratio) / (IST's rounds / local SGD's); a target
# IST did not reach gets an upper bound from the bytes it used in MAX_ROUNDS rounds.
set -eu
build=${1:-build}
hidden=${HIDDEN:-2048,2048}
rounds=${ROUNDS:-30}
max_rounds=${MAX_ROUNDS:-$((3 * rounds))}
eval_every=${EVAL_EVERY:-5}
codecs=${CODECS:-q8}
out=${OUT:-build/bytes-to-target}
train=$(command -v ist-train || true)
[ -n "$train" ] || train="$build/examples/ist-train"
[ -x "$train" ] || { echo "bytes_to_target: ist-train not found on PATH or in $build; build it first" >&2; exit 2; }
mkdir -p "$out"
common="--data fashion-mnist --hidden $hidden --workers 4 --local-steps 20 --batch 128 --lr 0.05 --seed 42 --quiet"

# calc EXPR: EXPR's value (awk arithmetic)
calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }

# column NAME CSV: the index of column NAME in the header of CSV
column() { head -1 "$2" | tr ',' '\n' | grep -nx "$1" | cut -d: -f1; }

# reach_table LOCAL_CSV IST_CSV: for every evaluated round of local SGD, the first IST round
# reaching its accuracy, and both runs' bytes to there (the two logs have the same columns)
reach_table() {
    awk -F, -v a="$(column test_accuracy "$1")" -v b="$(column total_bytes "$1")" '
        FNR == 1 { next }
        NR == FNR { if ($a != "") { n++; round[n] = $1; acc[n] = $a + 0; bytes[n] = $b } next }
        { last = $1; used = $b; for (k = 1; k <= n; k++) if (!hit[k] && $a != "" && $a + 0 >= acc[k]) { hit[k] = $1; ist[k] = $b } }
        END {
            for (k = 1; k <= n; k++) {
                printf "  %6d %9.4f %10.1f  ", round[k], acc[k], bytes[k] / 1e6
                if (hit[k]) printf "%7d %10.1f %10.1fx %8.2f\n", hit[k], ist[k] / 1e6, bytes[k] / ist[k], hit[k] / round[k]
                else printf "%7s %10.1f %10s %8s   (not reached in %d rounds)\n", "-", used / 1e6, sprintf("<%.1fx", bytes[k] / used), ">" sprintf("%.2f", last / round[k]), last
            }
        }' "$1" "$2"
}

echo "bytes to local SGD's final accuracy: Fashion-MNIST, MLP 784-$(echo "$hidden" | tr , -)-10 (batch norm), S = 4,"
echo "  l = 20, batch 128 per worker, SGD lr 0.05, disjoint shards, seed 42; test accuracy on 10,000 rows"
local_log="$out/local-sgd-$hidden-$rounds.csv"
"$train" $common --method local-sgd --rounds "$rounds" --eval-every "$eval_every" --log "$local_log" > "$out/local-sgd.txt"
target=$(sed -n 's/^final test accuracy \([0-9.]*\) .*/\1/p' "$out/local-sgd.txt")
local_bytes=$(tail -1 "$local_log" | cut -d, -f"$(column total_bytes "$local_log")")
printf "\nlocal SGD fp32, %s rounds, test accuracy by round:\n " "$rounds"
awk -F, -v a="$(column test_accuracy "$local_log")" 'NR > 1 && $a != "" { printf " %d: %.4f", $1, $a }' "$local_log"
printf "\n  target = its final accuracy %s; bytes %.1f MB (%.2f MB per round)\n" "$target" \
    "$(calc "$local_bytes / 1e6")" "$(calc "$local_bytes / $rounds / 1e6")"

printf "\nIST, coding updates, evaluated every round, until the target or %s rounds; the rounds at which\n" "$max_rounds"
printf "it first reached each of local SGD's accuracies above, and the bytes each used to there:\n"
for codec in $(echo "$codecs" | tr ',' ' '); do
    for ef in "" "--error-feedback"; do
        log="$out/ist-$codec${ef:+-ef}-$hidden-$rounds.csv"
        "$train" $common --method ist --codec "$codec" --code-updates $ef --rounds "$max_rounds" --eval-every 1 \
            --target "$target" --log "$log" > /dev/null
        per_round=$(tail -1 "$log" | cut -d, -f"$(column bytes "$log")")
        best=$(awk -F, -v a="$(column test_accuracy "$log")" 'NR > 1 && $a + 0 > m { m = $a + 0 } END { printf "%.4f", m }' "$log")
        printf "\nIST %s updates%s: %.2f MB per round, x%.1f fewer than local SGD's; best accuracy %s in %s rounds\n" \
            "$codec" "${ef:+ + error feedback}" "$(calc "$per_round / 1e6")" "$(calc "$local_bytes / $rounds / $per_round")" \
            "$best" "$(tail -1 "$log" | cut -d, -f1)"
        printf "  %6s %9s %10s  %7s %10s %11s %8s\n" "local" accuracy "MB" "IST" "MB" "fewer" "rounds"
        reach_table "$local_log" "$log"
    done
done
echo
echo "local / IST: a local SGD round and its accuracy, the first IST round reaching it; fewer = local SGD's"
echo "bytes / IST's; rounds = IST's rounds / local SGD's (fewer = bytes per round ratio / rounds ratio)"
