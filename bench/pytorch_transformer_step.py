#!/usr/bin/python3
"""PyTorch's time for the training step that ist-micro's BM_TransformerStep measures.

Token embedding (8000 x 256) + learned positions (32), 4 pre-norm blocks (width 256, 8 heads, FFN
1024, GELU, no dropout), a final LayerNorm, mean pooling, a Linear head to 45 classes; plain SGD
lr 0.01; batch 64 of 32 tokens (no padding); float32. Run it with Debian's interpreter and torch:

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/pytorch_transformer_step.py --threads 1

Prints one JSON line: wall milliseconds per step (median and mean), process CPU milliseconds per
step (median, all threads), threads, torch version.
"""
import argparse
import json
import statistics

import torch
import torch.nn as nn

from pytorch_step import time_sgd_steps  # the same timed loop as the MLP step


class Classifier(nn.Module):
    def __init__(self, vocabulary, length, width, heads, ffn, blocks, classes):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, width)
        self.positions = nn.Parameter(torch.randn(length, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, heads, ffn, dropout=0.0, activation="gelu", batch_first=True,
                                           norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, blocks, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, tokens):
        x = self.embedding(tokens) + self.positions[: tokens.shape[1]]
        return self.head(self.norm(self.blocks(x)).mean(dim=1))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (pin OPENBLAS_NUM_THREADS alike)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="timed steps (after 3 warm-up steps)")
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    net = Classifier(8000, 32, 256, 8, 1024, 4, 45).float()
    tokens = torch.randint(1, 8000, (a.batch, 32))
    y = torch.randint(0, 45, (a.batch,))
    times, cpu = time_sgd_steps(net, tokens, y, a.steps)
    times, cpu = [t * 1e3 for t in times], [c * 1e3 for c in cpu]
    print(json.dumps({"ms_per_step_median": statistics.median(times), "ms_per_step_mean": statistics.mean(times),
                      "cpu_ms_per_step_median": statistics.median(cpu), "threads": a.threads,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
