#!/usr/bin/python3
"""PyTorch DistributedDataParallel over gloo: the data-parallel system a user would pick instead
of IST, on the same data, network, initialisation scheme and hyper-parameters as
bench/pytorch_ist.py and the ist runs it is compared with.

Every process holds the full model; DDP averages the gradients of every step (all-reduce, in
buckets overlapped with the backward pass), then each process takes the same plain-SGD step.
Each process draws its mini-batches from the whole training set with its own seed, as the IST
runs do. The step budget is counted in rounds of l steps so that the evaluation points line up
with the IST runs' (one round = l data-parallel steps, as ist's data-parallel method counts).

    /usr/bin/python3 bench/pytorch_ddp.py --workers 2 --hidden 4096 --rounds 60

Prints the evaluation lines and the JSON summary of bench/pytorch_common.py.
"""
import torch
from torch.nn.parallel import DistributedDataParallel

import pytorch_common as common


def run(rank, args, data):
    train_x, train_y, test_x, test_y = data
    model = DistributedDataParallel(common.Mlp(784, args.hidden, 10))  # broadcasts rank 0's weights
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    stream = common.BatchStream(torch.arange(len(train_y)), args.batch, args.seed + 1 + rank)
    report = common.Report("pytorch-ddp", args)
    for round_ in range(1, args.rounds + 1):
        report.start()
        for _ in range(args.local_steps):
            rows = stream.take()
            optimizer.zero_grad()
            torch.nn.functional.nll_loss(model(train_x[rows]), train_y[rows]).backward()
            optimizer.step()
        report.stop()
        if rank == 0 and (round_ % args.eval_every == 0 or round_ == args.rounds):
            report.evaluate(model.module, round_, round_ * args.local_steps, test_x, test_y)
    if rank == 0:
        report.finish()


if __name__ == "__main__":
    common.launch(common.arguments(__doc__), run)
