#!/usr/bin/python3
"""PyTorch's time for the training step that ist-micro's BM_Step measures.

784 -> 4096 -> 4096 -> 10: Linear (no bias) -> BatchNorm1d (batch statistics only) -> ReLU, twice,
then Linear (no bias) -> BatchNorm1d(affine=False) -> log-softmax cross-entropy; plain SGD lr 0.01;
batch 128; float32, or with --precision bf16 the forward pass and loss under
torch.autocast("cpu", dtype=torch.bfloat16) (bf16 matmuls, fp32 weights and optimizer: what ist's
--precision bf16 does). Run it with Debian's interpreter and Debian's torch:

    sudo apt-get install -y python3-torch
    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/pytorch_step.py --threads 1

Prints one JSON line: wall milliseconds per step (median and mean), process CPU milliseconds per
step (median, all threads), threads, torch version.
bench/compare_pytorch.sh runs it beside ist-micro and prints the ratio.
"""
import argparse
import json
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def model(inputs, hidden, classes):
    layers = []
    width = inputs
    for h in hidden:
        layers += [nn.Linear(width, h, bias=False), nn.BatchNorm1d(h, track_running_stats=False), nn.ReLU()]
        width = h
    layers += [nn.Linear(width, classes, bias=False), nn.BatchNorm1d(classes, affine=False, track_running_stats=False)]
    return nn.Sequential(*layers)


def time_sgd_steps(net, inputs, labels, steps, lr=0.01, warmup=3, bf16=False):
    """Wall and process-CPU seconds of each of `steps` plain-SGD cross-entropy steps, after `warmup`;
    `bf16`: forward and loss under CPU autocast to bfloat16."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(net(inputs), labels)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(warmup):
        step()
    times, cpu = [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return times, cpu


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (pin OPENBLAS_NUM_THREADS alike)")
    p.add_argument("--width", type=int, default=4096)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=20, help="timed steps (after 3 warm-up steps)")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                   help='bf16: torch.autocast("cpu", dtype=torch.bfloat16) around forward and loss')
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = model(784, [a.width, a.width], 10).float()
    x = torch.randn(a.batch, 784)
    y = torch.randint(0, 10, (a.batch,))
    times, cpu = time_sgd_steps(net, x, y, a.steps, bf16=a.precision == "bf16")
    print(json.dumps({
        "framework": "pytorch",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "precision": a.precision,
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"),
        "width": a.width,
        "batch": a.batch,
        "ms_per_step_median": 1e3 * statistics.median(times),
        "ms_per_step_mean": 1e3 * statistics.mean(times),
        "cpu_ms_per_step_median": 1e3 * statistics.median(cpu),
    }))


if __name__ == "__main__":
    main()
