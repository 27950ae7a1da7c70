#!/bin/sh
# ist vs PyTorch, side by side: one training step of 784 -> 4096 -> 4096 -> 10 (Linear no bias ->
# BatchNorm -> ReLU, final parameter-free BatchNorm), batch 128, SGD, at the same thread count
# (OPENBLAS_NUM_THREADS, torch.set_num_threads and ist's BLAS threads all pinned to T), in fp32 and
# in bf16 mixed precision: ist's onednn-bf16 step (ist-micro's BM_Step/onednn-bf16, what
# --precision bf16 runs) beside PyTorch under torch.autocast("cpu", dtype=torch.bfloat16).
#
#   bench/compare_pytorch.sh [BUILD_DIR] [THREADS...]      # default: build 1 2
#
# Needs Debian's torch for Debian's interpreter: sudo apt-get install -y python3-torch
# Prints wall milliseconds per step (median of PyTorch's steps, mean of Google Benchmark's
# iterations) and CPU milliseconds per step, and the ratio PyTorch / ist (> 1: ist is faster).
# ist's fp32 row is the build's default GEMM backend (onednn, else openblas); a build or CPU
# without bf16 prints n/a for bf16.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
threads=${*:-1 2}
micro="$build/bench/ist-micro"
py=/usr/bin/python3
[ -x "$micro" ] || { echo "compare_pytorch: $micro not found; build first (cmake --build $build)" >&2; exit 2; }
"$py" -c 'import torch' 2>/dev/null || { echo "compare_pytorch: $py has no torch; sudo apt-get install -y python3-torch" >&2; exit 2; }
fp32_arithmetic=$("$micro" --benchmark_list_tests=true | grep -q '^BM_Step/onednn/' && echo onednn || echo openblas)

echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; measure on a quiet machine)"
printf '%-8s %-20s %-22s %-22s %-14s %-14s\n' threads precision "ist ms/step wall(cpu)" "torch ms/step wall(cpu)" \
  "torch/ist wall" "torch/ist cpu"
for t in $threads; do
  for precision in fp32 bf16; do
    arithmetic=$fp32_arithmetic
    [ "$precision" = bf16 ] && arithmetic=onednn-bf16
    ist_json=$(OPENBLAS_NUM_THREADS=$t "$micro" --benchmark_filter="^BM_Step/$arithmetic/784-W-W-10/b128/4096/$t/" \
               --benchmark_format=json --benchmark_min_time=3 --no-summary 2>/dev/null)
    torch_json=$(OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t "$py" "$here/pytorch_step.py" --threads "$t" --steps 20 \
                 --precision "$precision")
    "$py" - "$t" "$precision ($arithmetic)" "$ist_json" "$torch_json" <<'PY'
import json, sys
t, precision, ist, torch = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
rows = [r for r in ist["benchmarks"] if r.get("run_type", "iteration") == "iteration"]
tw, tc = torch["ms_per_step_median"], torch["cpu_ms_per_step_median"]
if not rows:
    print(f"{t:<8} {precision:<20} {'n/a':<22} {tw:8.1f} ({tc:7.1f})")
    sys.exit(0)
b = rows[0]
scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
iw, ic = b["real_time"] * scale, b["cpu_time"] * scale
print(f"{t:<8} {precision:<20} {iw:8.1f} ({ic:7.1f})      {tw:8.1f} ({tc:7.1f})        x{tw / iw:<12.2f} x{tc / ic:.2f}")
PY
  done
done
echo "cpu: PyTorch counts every thread of the process; Google Benchmark only the calling thread, so compare cpu at 1 thread"
echo "ist-micro also reports of_gemm (step GFLOP/s / the same arithmetic's GEMM GFLOP/s): $micro --benchmark_filter='Fma|Gemm|Step'"
