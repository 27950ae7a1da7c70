#!/usr/bin/env bash
# The soak test of issue 19 (not in CI): IST over `mpirun -np 4` with random worker failures and
# stalls (ist-soak), the whole job SIGKILLed now and then and resumed from its checkpoint, until
# ROUNDS rounds are done; then a fault-free run of the same rounds for comparison. Checks: every
# checkpoint left by a kill reads back (never torn), the final model is finite, its accuracy is
# within 2 points of the fault-free run's, and no rank's memory grows across a process's life
# (VmRSS every 100 rounds, written to soak.log).
#
#   cmake --build build --target ist-soak && tests/soak/soak.sh [ROUNDS] [KILL_EVERY_S]
# Environment: BUILD (default build), DIR (default /tmp/ist-soak), NP (default 4).
set -u
ROUNDS=${1:-2000}
KILL_EVERY=${2:-40}   # seconds between kills, on average (uniform in [KILL_EVERY/2, 3*KILL_EVERY/2])
BUILD=${BUILD:-build}
DIR=${DIR:-/tmp/ist-soak}
NP=${NP:-4}
SOAK=$(realpath "$BUILD/tests/soak/ist-soak")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
mkdir -p "$DIR" && rm -f "$DIR"/*
CKPT=$DIR/soak.npz LOG=$DIR/soak.log
fail() { echo "soak: FAILED: $*"; exit 1; }

echo "soak: $ROUNDS rounds, np $NP, a SIGKILL every ~$KILL_EVERY s; load: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s) kills=0 lives=0
while :; do
  lives=$((lives + 1))
  echo "life $lives" >> "$LOG"
  # setsid: the job (mpirun and the ranks it starts) is one session, killed at once by its id.
  setsid mpirun -np "$NP" "$SOAK" --rounds "$ROUNDS" --checkpoint "$CKPT" --log "$LOG" > "$DIR/life$lives.out" 2>&1 &
  job=$!
  wait_s=$((KILL_EVERY / 2 + RANDOM % (KILL_EVERY + 1)))
  for ((t = 0; t < wait_s * 10; t++)); do kill -0 "$job" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$job" 2>/dev/null; then
    pkill -KILL -s "$job" 2>/dev/null
    wait "$job" 2>/dev/null
    kills=$((kills + 1))
    if [ -e "$CKPT" ]; then
      "$SOAK" --verify "$CKPT" >> "$DIR/verify.out" 2>&1 || fail "checkpoint torn after kill $kills: $(tail -1 "$DIR/verify.out")"
    fi
    continue
  fi
  wait "$job" || fail "the job failed: $(tail -3 "$DIR/life$lives.out")"
  break
done
faulty=$(grep '^final accuracy' "$DIR/life$lives.out") || fail "no final line in life $lives"
echo "soak: $kills kills, $lives lives, $(($(date +%s) - start)) s; $faulty"
echo "soak: checkpoints verified after kills: $(grep -c 'checkpoint ok' "$DIR/verify.out" 2>/dev/null || echo 0)"

clean_start=$(date +%s)
mpirun -np "$NP" "$SOAK" --rounds "$ROUNDS" --fail 0 --stall 0 --log "$DIR/clean.log" > "$DIR/clean.out" 2>&1 ||
  fail "the fault-free run failed: $(tail -3 "$DIR/clean.out")"
clean=$(grep '^final accuracy' "$DIR/clean.out")
echo "soak: fault-free, $(($(date +%s) - clean_start)) s; $clean"
a=$(echo "$faulty" | awk '{print $3}') b=$(echo "$clean" | awk '{print $3}')
echo "$faulty" | grep -q 'weights finite' || fail "the model is not finite"
awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.02) }' ||
  fail "accuracy $a is more than 2 points from the fault-free $b"
# Memory: per life, every rank's VmRSS at its last report against its second (the first follows
# start-up and the first checkpoint); growth over 10% in any life of 4 reports or more fails.
awk '/^life/ { life = $2; n = 0; next }
     /^round/ { n++; for (i = 6; i <= NF; i++) { if (n == 2) base[life, i] = $i; last[life, i] = $i
                                                 if (!(i in lo) || $i < lo[i]) lo[i] = $i; if ($i > hi[i]) hi[i] = $i }
                reports[life] = n; ranks = NF }
     END { worst = 0; lives = 0
           for (l in reports) if (reports[l] >= 4) { lives++; for (i = 6; i <= ranks; i++) {
             g = last[l, i] / base[l, i]; if (g > worst) worst = g } }
           printf "soak: memory: VmRSS per rank over the whole run, MB:"
           for (i = 6; i <= ranks; i++) printf " %d-%d", lo[i], hi[i]
           if (lives) printf "; largest last/second report ratio in %d lives of >= 4 reports: %.3f\n", lives, worst
           else printf "; no life had 4 reports (kill less often)\n"
           exit worst > 1.10 }' "$LOG" || fail "a rank's memory grew by more than 10% within a life"
echo "soak: passed"
