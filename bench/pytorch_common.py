"""What bench/pytorch_ist.py and bench/pytorch_ddp.py share: the data, the network, evaluation,
the process launch over torch.distributed (gloo) and the output format, so that both peers differ
only in their training algorithm.

Data: Fashion-MNIST from Debian's dataset-fashion-mnist, the same IDX files ist's
load_fashion_mnist reads, pixels scaled to [0, 1] as ist does.
Network: ist's make_mlp with Norm::Batch, i.e. the reference IST MLP: Linear (no bias) ->
BatchNorm1d (batch statistics, also at test time) -> ReLU per hidden layer, then Linear (no bias) ->
BatchNorm1d without parameters -> log-softmax. PyTorch's default Linear initialisation,
U(-1/sqrt(in), 1/sqrt(in)), is the scheme ist's Dense uses (same distribution, not the same bits).
Evaluation: the whole test set in batches of 1000 (ist's TrainerOptions::eval_batch), so the
batch statistics are taken over the same row groups as ist's.

Output, one line per evaluation and a closing JSON line (bench/peers.sh reads them):
    eval round R steps N seconds S accuracy A
    {"framework": ..., "final_accuracy": ..., "seconds": ..., ...}
`seconds` is training time only, measured on rank 0 (evaluation excluded, as ist's trainer does).
"""
import argparse
import gzip
import json
import os
import socket
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
EVAL_BATCH = 1000


def read_idx(path):
    """An IDX file (gzipped) as a numpy array of its declared shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_fashion_mnist(directory=FASHION_MNIST):
    """(train_x, train_y, test_x, test_y) as torch tensors: float32 pixels in [0, 1], int64 labels."""
    def part(images, labels):
        x = read_idx(os.path.join(directory, images)).reshape(-1, 28 * 28).astype(np.float32) / 255.0
        y = read_idx(os.path.join(directory, labels)).astype(np.int64)
        return torch.from_numpy(x), torch.from_numpy(y)
    missing = [f for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
               if not os.path.isfile(os.path.join(directory, f))]
    if missing:
        sys.exit(f"Fashion-MNIST not found in {directory}: sudo apt-get install dataset-fashion-mnist")
    return (*part("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
            *part("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))


class Mlp(nn.Module):
    """The reference IST MLP (one or more hidden layers)."""

    def __init__(self, inputs, hidden, classes):
        super().__init__()
        self.dense = nn.ModuleList()
        self.norms = nn.ModuleList()
        width = inputs
        for h in hidden:
            self.dense.append(nn.Linear(width, h, bias=False))
            self.norms.append(nn.BatchNorm1d(h, track_running_stats=False))
            width = h
        self.dense.append(nn.Linear(width, classes, bias=False))
        self.norms.append(nn.BatchNorm1d(classes, affine=False, track_running_stats=False))

    def forward(self, x):
        for i, (dense, norm) in enumerate(zip(self.dense, self.norms)):
            x = norm(dense(x))
            if i + 1 < len(self.dense):
                x = F.relu(x)
        return F.log_softmax(x, dim=1)


def accuracy(model, test_x, test_y):
    """Test accuracy in batches of EVAL_BATCH rows (batch statistics over each, as ist's evaluate)."""
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test_y), EVAL_BATCH):
            out = model(test_x[start:start + EVAL_BATCH])
            correct += (out.argmax(1) == test_y[start:start + EVAL_BATCH]).sum().item()
    return correct / len(test_y)


class BatchStream:
    """Mini-batches of `batch` rows from a shuffled pass over `rows`, reshuffled at every pass
    (a DataLoader with shuffle=True and drop_last=True, without its worker processes)."""

    def __init__(self, rows, batch, seed):
        self.rows, self.batch = rows, batch
        self.generator = torch.Generator().manual_seed(seed)
        self.order, self.next = None, len(rows)

    def take(self):
        if self.next + self.batch > len(self.rows):
            self.order = self.rows[torch.randperm(len(self.rows), generator=self.generator)]
            self.next = 0
        picked = self.order[self.next:self.next + self.batch]
        self.next += self.batch
        return picked


def arguments(description):
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="S: processes (default 2, one per core here)")
    p.add_argument("--hidden", type=str, default="4096", help="hidden widths W1,W2,... (default 4096)")
    p.add_argument("--lr", type=float, default=0.01, help="plain SGD learning rate (default 0.01)")
    p.add_argument("--batch", type=int, default=128, help="mini-batch per worker (default 128)")
    p.add_argument("--local-steps", type=int, default=20, help="l: steps per round (default 20)")
    p.add_argument("--rounds", type=int, default=60, help="T: rounds (default 60)")
    p.add_argument("--eval-every", type=int, default=1, help="evaluate every K rounds (default 1)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--validation-rows", type=int, default=0,
                   help="hold the last N training rows out of training; the summary's chosen_accuracy is the "
                        "test accuracy at the evaluation best on them (default 0)")
    p.add_argument("--standardize", action="store_true",
                   help="standardise every pixel by the training rows' mean and sd, as ist-bench talk does")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")
    p.add_argument("--port", type=int, default=0, help="gloo rendezvous port on 127.0.0.1 (default: a free one)")
    a = p.parse_args()
    a.hidden = [int(w) for w in a.hidden.split(",")]
    if a.validation_rows < 0:
        p.error("--validation-rows must be at least 0")
    for name in ("workers", "batch", "local_steps", "rounds", "eval_every", "threads"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if any(w < a.workers for w in a.hidden):
        p.error("--hidden: every width must be at least --workers")
    return a


def held_out(data, args):
    """The training rows without the last args.validation_rows, which go to args.validation (never
    sampled); with args.standardize every set is standardised by the remaining training rows'
    per-pixel mean and sd (constant pixels only centred), as ist's Standardization."""
    train_x, train_y, test_x, test_y = data
    kept = len(train_y) - args.validation_rows
    if kept < args.batch:
        raise SystemExit(f"--validation-rows {args.validation_rows} leaves {kept} training rows, fewer than a batch")
    args.validation = (train_x[kept:], train_y[kept:])
    train_x, train_y = train_x[:kept], train_y[:kept]
    if args.standardize:
        mean = train_x.mean(0)
        sd = ((train_x - mean) ** 2).mean(0).sqrt()
        sd = torch.where(sd > 1e-6, sd, torch.ones_like(sd))
        train_x, test_x = (train_x - mean) / sd, (test_x - mean) / sd
        args.validation = ((args.validation[0] - mean) / sd, args.validation[1])
    return train_x, train_y, test_x, test_y


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args, run):
    """Runs run(rank, args, data) in args.workers processes joined by a gloo process group. Started by
    `ist-cluster run --gloo` (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT and GLOO_SOCKET_IFNAME set, one
    process per node), this process is the one rank its RANK names."""
    if "RANK" in os.environ:
        if int(os.environ["WORLD_SIZE"]) != args.workers:
            raise SystemExit(f"--workers {args.workers} but WORLD_SIZE={os.environ['WORLD_SIZE']}")
        _process(int(os.environ["RANK"]), args, run, init_method="env://")
        return
    if not args.port:
        args.port = free_port()
    # Each process's BLAS gets the thread count the process is given; the spawned interpreters
    # read these when they load OpenBLAS / OpenMP.
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = str(args.threads)
    mp.spawn(_process, args=(args, run), nprocs=args.workers, join=True)


def _process(rank, args, run, init_method=None):
    torch.set_num_threads(args.threads)
    init_method = init_method or f"tcp://127.0.0.1:{args.port}"
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=args.workers)
    data = held_out(load_fashion_mnist(), args)
    torch.manual_seed(args.seed)  # the same initial model on every rank
    run(rank, args, data)
    dist.barrier()
    dist.destroy_process_group()


class Report:
    """Rank 0's evaluation lines and closing summary; the clock counts training only."""

    def __init__(self, framework, args):
        self.framework, self.args = framework, args
        self.seconds, self.started, self.history = 0.0, None, []

    def start(self):
        self.started = time.perf_counter()

    def stop(self):
        self.seconds += time.perf_counter() - self.started

    def evaluate(self, model, round_, steps, test_x, test_y):
        acc = accuracy(model, test_x, test_y)
        validation_x, validation_y = self.args.validation
        validation = accuracy(model, validation_x, validation_y) if len(validation_y) else None
        self.history.append((round_, steps, self.seconds, acc, validation))
        print(f"eval round {round_} steps {steps} seconds {self.seconds:.3f} accuracy {acc:.4f}"
              + (f" validation {validation:.4f}" if validation is not None else ""), flush=True)

    def at_convergence(self):
        """The test accuracy at the first evaluation best on the validation rows (the last without
        them), its 1-based index, and whether the last 5 test accuracies lie within 0.003."""
        if not self.history:
            return None, None, False
        chosen = len(self.history) - 1
        if self.history[0][4] is not None:
            chosen = max(range(len(self.history)), key=lambda i: (self.history[i][4], -i))
        last = [h[3] for h in self.history[-5:]]
        return self.history[chosen][3], chosen + 1, len(last) == 5 and max(last) - min(last) < 0.003

    def finish(self):
        a = self.args
        chosen_accuracy, chosen, converged = self.at_convergence()
        print(json.dumps({"framework": self.framework, "torch": torch.__version__, "workers": a.workers,
                          "hidden": a.hidden, "lr": a.lr, "batch": a.batch, "local_steps": a.local_steps,
                          "rounds": a.rounds, "seconds": self.seconds,
                          "final_accuracy": self.history[-1][3] if self.history else None,
                          "validation_rows": a.validation_rows, "chosen_accuracy": chosen_accuracy,
                          "chosen_evaluation": chosen, "converged": converged}), flush=True)
