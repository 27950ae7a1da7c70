#!/usr/bin/python3
"""The reference IST algorithm in PyTorch, as the authors' 2-layer script does it (IST: Yuan et
al. 2019, IST_Release's distributed_2layer_subnet_centralized_ps_gloo.py), in S processes over
torch.distributed (gloo) on this machine. A port written for this benchmark, not the authors' code.

What it keeps from the reference: rank 0 is the parameter server and also worker 0; every round it
shuffles the hidden neurons, cuts them into S equal chunks and scatters each worker its subnet (the
rows of the incoming weight, the BatchNorm gamma / beta and the columns of the next weight), one
dist.scatter per tensor; every worker trains its subnet for l plain-SGD steps on mini-batches
drawn from the whole training set; one dist.gather per tensor brings the subnets back and rank 0
writes them into the full model. Rank 0 evaluates the full model. With more than one hidden layer
a hidden-to-hidden weight is cut to the [rows of s, columns of s] block, as the 3-layer script.

    /usr/bin/python3 bench/pytorch_ist.py --workers 2 --hidden 4096 --rounds 60

Prints the evaluation lines and the JSON summary of bench/pytorch_common.py.
"""
import torch
import torch.distributed as dist

import pytorch_common as common


def cut(model, chunks):
    """Per parameter name, the S pieces of a round's subnets.

    chunks[k][s]: the neurons of hidden layer k that subnet s holds."""
    pieces = {}
    depth = len(model.dense)
    for k, dense in enumerate(model.dense):
        rows = chunks[k] if k + 1 < depth else None  # the output layer keeps every row
        cols = chunks[k - 1] if k > 0 else None  # the input is never cut
        w = dense.weight.data
        pieces[f"dense.{k}.weight"] = [w[rows[s] if rows else slice(None)][:, cols[s] if cols else slice(None)]
                                       .contiguous() for s in range(len(chunks[0]))]
        if model.norms[k].affine:
            for name in ("weight", "bias"):
                tensor = getattr(model.norms[k], name).data
                pieces[f"norms.{k}.{name}"] = [tensor[c].contiguous() for c in chunks[k]]
    return pieces


def write_back(model, chunks, pieces):
    """The inverse of cut: each worker's returned piece into its place in the full model."""
    depth = len(model.dense)
    for k, dense in enumerate(model.dense):
        for s, piece in enumerate(pieces[f"dense.{k}.weight"]):
            rows = chunks[k][s] if k + 1 < depth else torch.arange(piece.shape[0])
            cols = chunks[k - 1][s] if k > 0 else torch.arange(piece.shape[1])
            dense.weight.data[rows.unsqueeze(1), cols.unsqueeze(0)] = piece
        if model.norms[k].affine:
            for name in ("weight", "bias"):
                tensor = getattr(model.norms[k], name).data
                for s, piece in enumerate(pieces[f"norms.{k}.{name}"]):
                    tensor[chunks[k][s]] = piece


def exchange(subnet, pieces, collective):
    """One scatter (or gather) per parameter tensor, as the reference does; pieces only on rank 0."""
    for name, p in subnet.named_parameters():
        if collective is dist.scatter:
            dist.scatter(tensor=p.data, scatter_list=pieces[name] if pieces else [], src=0)
        else:
            dist.gather(tensor=p.data, gather_list=pieces[name] if pieces else [], dst=0)


def run(rank, args, data):
    train_x, train_y, test_x, test_y = data
    S = args.workers
    full = common.Mlp(784, args.hidden, 10) if rank == 0 else None
    subnet = common.Mlp(784, [w // S for w in args.hidden], 10)
    # Plain SGD keeps no state, so one optimizer over the subnet's tensors serves every round.
    optimizer = torch.optim.SGD(subnet.parameters(), lr=args.lr)
    stream = common.BatchStream(torch.arange(len(train_y)), args.batch, args.seed + 1 + rank)
    shuffle = torch.Generator().manual_seed(args.seed)
    report = common.Report("pytorch-ist", args)
    for round_ in range(1, args.rounds + 1):
        report.start()
        chunks, pieces = None, None
        if rank == 0:
            # Equal chunks of a fresh permutation per hidden layer; a remainder (width not
            # divisible by S) stays out of every subnet, as in the reference.
            chunks = [[p[s * (w // S):(s + 1) * (w // S)] for s in range(S)]
                      for w in args.hidden for p in [torch.randperm(w, generator=shuffle)]]
            pieces = cut(full, chunks)
        exchange(subnet, pieces, dist.scatter)
        for _ in range(args.local_steps):
            rows = stream.take()
            optimizer.zero_grad()
            loss = torch.nn.functional.nll_loss(subnet(train_x[rows]), train_y[rows])
            loss.backward()
            optimizer.step()
        exchange(subnet, pieces, dist.gather)
        if rank == 0:
            write_back(full, chunks, pieces)
        report.stop()
        if rank == 0 and (round_ % args.eval_every == 0 or round_ == args.rounds):
            report.evaluate(full, round_, round_ * args.local_steps, test_x, test_y)
    if rank == 0:
        report.finish()


if __name__ == "__main__":
    common.launch(common.arguments(__doc__), run)
