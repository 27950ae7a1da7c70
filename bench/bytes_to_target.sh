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
# Prints local SGD's accuracy every EVAL_EVERY rounds, then per IST run the round at which it
# reached the target (evaluated every round), its bytes to there, and the ratio to local SGD's
# bytes, split into (bytes per round ratio) x (local SGD's rounds / IST's rounds).
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

# first_reaching CSV TARGET: "round accuracy total_bytes" of the first evaluated round with
# accuracy >= TARGET, or nothing
first_reaching() {
    awk -F, -v a="$(column test_accuracy "$1")" -v b="$(column total_bytes "$1")" -v t="$2" \
        'NR > 1 && $a != "" && $a + 0 >= t + 0 { print $1, $a, $b; exit }' "$1"
}

echo "bytes to local SGD's final accuracy: Fashion-MNIST, MLP 784-$(echo "$hidden" | tr , -)-10 (batch norm), S = 4,"
echo "  l = 20, batch 128 per worker, SGD lr 0.05, disjoint shards, seed 42; test accuracy on 10,000 rows"
log="$out/local-sgd-$hidden-$rounds.csv"
"$train" $common --method local-sgd --rounds "$rounds" --eval-every "$eval_every" --log "$log" > "$out/local-sgd.txt"
target=$(sed -n 's/^final test accuracy \([0-9.]*\) .*/\1/p' "$out/local-sgd.txt")
local_bytes=$(tail -1 "$log" | cut -d, -f"$(column total_bytes "$log")")
printf "\nlocal SGD fp32, %s rounds, test accuracy by round:\n " "$rounds"
awk -F, -v a="$(column test_accuracy "$log")" 'NR > 1 && $a != "" { printf " %d: %.4f", $1, $a }' "$log"
printf "\n  target = its final accuracy %s; bytes %.1f MB (%.2f MB per round)\n" "$target" \
    "$(calc "$local_bytes / 1e6")" "$(calc "$local_bytes / $rounds / 1e6")"

printf "\nIST, codec coding updates, evaluated every round, until the target or %s rounds:\n" "$max_rounds"
printf "  %-22s %7s %9s %12s %10s %12s %14s %12s\n" run rounds accuracy "bytes (MB)" "MB/round" "fewer bytes" "per-round x" "rounds ratio"
for codec in $(echo "$codecs" | tr ',' ' '); do
    for ef in "" "--error-feedback"; do
        name="IST $codec updates${ef:+ + EF}"
        log="$out/ist-$codec${ef:+-ef}-$hidden-$rounds.csv"
        "$train" $common --method ist --codec "$codec" --code-updates $ef --rounds "$max_rounds" --eval-every 1 \
            --target "$target" --log "$log" > /dev/null
        hit=$(first_reaching "$log" "$target")
        last=$(tail -1 "$log" | cut -d, -f1)
        per_round=$(tail -1 "$log" | cut -d, -f"$(column bytes "$log")")
        if [ -z "$hit" ]; then
            best=$(awk -F, -v a="$(column test_accuracy "$log")" 'NR > 1 && $a + 0 > m { m = $a + 0 } END { printf "%.4f", m }' "$log")
            printf "  %-22s not reached in %s rounds (best %s); %.2f MB per round, x%.1f fewer than local SGD's\n" \
                "$name" "$last" "$best" "$(calc "$per_round / 1e6")" "$(calc "$local_bytes / $rounds / $per_round")"
            continue
        fi
        set -- $hit
        printf "  %-22s %7s %9.4f %12.1f %10.2f %11.1fx %13.1fx %12.2f\n" "$name" "$1" "$2" "$(calc "$3 / 1e6")" \
            "$(calc "$per_round / 1e6")" "$(calc "$local_bytes / $3")" \
            "$(calc "$local_bytes / $rounds / $per_round")" "$(calc "$1 / $rounds")"
    done
done
echo
echo "fewer bytes = local SGD's bytes / IST's bytes to the target = per-round x / rounds ratio (IST's rounds / local SGD's)"
