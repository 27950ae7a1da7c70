#!/bin/sh
# ist vs PyTorch, side by side: one training step of 784 -> 4096 -> 4096 -> 10 (Linear no bias ->
# BatchNorm -> ReLU, final parameter-free BatchNorm), batch 128, SGD, float32, at the same thread
# count (OPENBLAS_NUM_THREADS, torch.set_num_threads and ist's OpenBLAS threads all pinned to T).
#
#   bench/compare_pytorch.sh [BUILD_DIR] [THREADS...]      # default: build 1 2
#
# Needs Debian's torch for Debian's interpreter: sudo apt-get install -y python3-torch
# Prints wall milliseconds per step (median of PyTorch's steps, mean of Google Benchmark's
# iterations) and CPU milliseconds per step, and the ratio PyTorch / ist (> 1: ist is faster).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
threads=${*:-1 2}
micro="$build/bench/ist-micro"
py=/usr/bin/python3
[ -x "$micro" ] || { echo "compare_pytorch: $micro not found; build first (cmake --build $build)" >&2; exit 2; }
"$py" -c 'import torch' 2>/dev/null || { echo "compare_pytorch: $py has no torch; sudo apt-get install -y python3-torch" >&2; exit 2; }

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; measure on a quiet machine)"
printf '%-8s %-22s %-22s %-14s %-14s\n' threads "ist ms/step wall(cpu)" "torch ms/step wall(cpu)" "torch/ist wall" "torch/ist cpu"
for t in $threads; do
  ist_json=$(OPENBLAS_NUM_THREADS=$t "$micro" --benchmark_filter="BM_Step/784-W-W-10/b128/4096/$t/" \
             --benchmark_format=json --benchmark_min_time=3 2>/dev/null)
  torch_json=$(OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$py" "$here/pytorch_step.py" --threads "$t" --steps 20)
  "$py" - "$t" "$ist_json" "$torch_json" <<'EOF'
import json, sys
t, ist, torch = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
b = [r for r in ist["benchmarks"] if r.get("run_type", "iteration") == "iteration"][0]
scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
iw, ic = b["real_time"] * scale, b["cpu_time"] * scale
tw, tc = torch["ms_per_step_median"], torch["cpu_ms_per_step_median"]
print(f"{t:<8} {iw:8.1f} ({ic:7.1f})      {tw:8.1f} ({tc:7.1f})        x{tw / iw:<12.2f} x{tc / ic:.2f}")
EOF
done
echo "cpu: PyTorch counts every thread of the process; Google Benchmark only the calling thread, so compare cpu at 1 thread"
echo "ist-micro also reports of_sgemm (step GFLOP/s / SGEMM GFLOP/s of the same run): $micro --benchmark_filter='Sgemm|Step'"
