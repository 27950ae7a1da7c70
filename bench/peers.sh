#!/bin/sh
# The peer table, all as real processes at S = 2 (one process per core): ist IST over
# `mpirun -np 2` against the reference IST algorithm in PyTorch (bench/pytorch_ist.py), PyTorch
# DistributedDataParallel (bench/pytorch_ddp.py) and ist's data parallel over MPI. One after
# another, on the same Fashion-MNIST arrays, network, initialisation scheme and hyper-parameters:
# one hidden layer of 4096 (the talk's "2-layer" network: 784 -> 4096 -> 10, Linear without bias
# -> BatchNorm -> ReLU, parameter-free BatchNorm on the logits), plain SGD lr 0.01, batch 128 per
# worker, l = 20, every worker sampling the whole training set (the reference IST settings),
# ROUNDS rounds of l steps each, evaluated every round.
#
#   bench/peers.sh [BUILD_DIR]              # default build; needs ist-train built with MPI
#   ROUNDS=40 TARGETS="0.80 0.84" bench/peers.sh     # defaults: 20 rounds, targets 0.80 0.83
#   HIDDEN=4096,4096 bench/peers.sh                  # the talk's "3-layer" network (two hidden layers)
#
# Prints, per system: training seconds to each target accuracy (each system's own clock around
# its rounds, evaluation excluded, as ist's trainer counts), the final accuracy, the process's
# whole wall time (start-up, data loading and evaluation included), then how many times sooner
# ist IST reached each target, and the load before and after.
# Needs: sudo apt-get install -y python3-torch openmpi-bin dataset-fashion-mnist (`make peers`).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
rounds=${ROUNDS:-20}
hidden=${HIDDEN:-4096}
targets=${TARGETS:-0.80 0.83}
py=/usr/bin/python3
train="$build/examples/ist-train"
[ -x "$train" ] || train="$build/examples/cli/ist-train"
[ -x "$train" ] || { echo "peers: ist-train not found in $build; build it first (cmake --build $build --target ist-train)" >&2; exit 2; }
"$py" -c 'import torch' 2>/dev/null || { echo "peers: $py has no torch; sudo apt-get install -y python3-torch" >&2; exit 2; }
command -v mpirun >/dev/null || { echo "peers: mpirun not found; sudo apt-get install -y openmpi-bin" >&2; exit 2; }

# mpirun refuses root unless told; a container often runs as root.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
common="--hidden $hidden --lr 0.01 --batch 128 --local-steps 20 --rounds $rounds --seed 42"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# run NAME COMMAND...: the command's output in $out/NAME, its whole wall time in $out/NAME.wall
run() {
  name=$1; shift
  start=$(date +%s.%N)
  "$@" > "$out/$name" 2> "$out/$name.err" || { echo "peers: $name failed:" >&2; tail -5 "$out/$name.err" >&2; exit 1; }
  awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { print e - s }' > "$out/$name.wall"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
ist_mpi() { mpirun -np 2 "$train" --transport mpi --workers 2 --data fashion-mnist --whole-set $common --quiet "$@"; }
run ist-ist ist_mpi --method ist --log "$out/ist-ist.csv"
run pytorch-ist "$py" "$here/pytorch_ist.py" --workers 2 $common
run pytorch-ddp "$py" "$here/pytorch_ddp.py" --workers 2 $common
run ist-dp ist_mpi --method data-parallel --log "$out/ist-dp.csv"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

"$py" - "$out" "$rounds" "$hidden" "$load_before" "$load_after" $targets <<'EOF'
import csv, os, sys
out, rounds, hidden, before, after = sys.argv[1:6]
targets = [float(t) for t in sys.argv[6:]]

def series(name):
    """[(seconds, accuracy)] per evaluation: ist's metrics CSV, or the PyTorch scripts' eval lines."""
    path = os.path.join(out, name)
    if os.path.exists(path + ".csv"):
        with open(path + ".csv") as f:
            return [(float(r["seconds"]), float(r["test_accuracy"])) for r in csv.DictReader(f)]
    points = []
    for line in open(path):
        w = line.split()
        if w[:1] == ["eval"]:
            points.append((float(w[w.index("seconds") + 1]), float(w[w.index("accuracy") + 1])))
    return points

rows = [("ist IST, mpirun -np 2", "ist-ist"), ("PyTorch reference IST, gloo", "pytorch-ist"),
        ("PyTorch DDP, gloo", "pytorch-ddp"), ("ist data parallel, mpirun -np 2", "ist-dp")]
reached = {}
print(f"S = 2 processes, 784 -> {hidden.replace(',', ' -> ')} -> 10, SGD lr 0.01, batch 128, l = 20, {rounds} rounds, Fashion-MNIST")
print(f"load before: {before}   after: {after}   (1/5/15 min, {os.cpu_count()} cores)")
head = "".join(f"{'s to ' + format(t, '.2f'):>10}" for t in targets)
print(f"{'system':<34}{head}{'final acc':>11}{'train s':>9}{'wall s':>8}")
for label, name in rows:
    points = series(name)
    reached[name] = [next((s for s, a in points if a >= t), None) for t in targets]
    cells = "".join(f"{s:>10.1f}" if s is not None else f"{'-':>10}" for s in reached[name])
    wall = float(open(os.path.join(out, name + ".wall")).read())
    print(f"{label:<34}{cells}{points[-1][1]:>11.4f}{points[-1][0]:>9.1f}{wall:>8.1f}")
print("ist IST reached the target x sooner than:")
for label, name in rows[1:]:
    ratios = [f"{t:.2f}: x{o / i:.2f}" if i and o else f"{t:.2f}: -" for t, i, o in
              zip(targets, reached["ist-ist"], reached[name])]
    print(f"  {label:<32}" + "   ".join(ratios))
EOF
