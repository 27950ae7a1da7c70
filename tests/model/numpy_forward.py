#!/usr/bin/env python3
"""The numpy recipe of docs/model_files.md, checked: loads ist model files with numpy alone and
reproduces ist's evaluation logits within 1e-5.

    numpy_forward.py MODEL_LOGITS_EXE SCRATCH_DIR

Exits 77 (ctest's SKIP_RETURN_CODE) with "skipped: numpy missing" when numpy is not installed."""
import json
import os
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("skipped: numpy missing")
    sys.exit(77)


# --- the recipe (docs/model_files.md shows the same functions) --------------------------------
def tensor(z, name, shape):
    """Array `name` of the file as a dense array of `shape`, stored dense or (a pruned weight) as CSR."""
    if name in z.files:
        return z[name]
    values, columns, offsets = (z[name + part] for part in (".csr_values", ".csr_columns", ".csr_row_offsets"))
    dense = np.zeros((shape[0], int(np.prod(shape[1:]))), dtype=np.float32)
    dense[np.repeat(np.arange(shape[0]), np.diff(offsets).astype(np.int64)), columns] = values
    return dense.reshape(shape)


def forward(path, x):
    """Logits of the ist model saved at `path` (an MLP of library layers) for the raw rows x."""
    z = np.load(path)
    arch = json.loads(bytes(z["architecture.json"]).decode())
    x = x.astype(np.float64)
    for layer in arch["layers"]:
        kind, name = layer["type"], layer["name"]
        if kind == "Standardize":  # the training rows' standardisation (format 2)
            x = (x - z[name + ".mean"]) * z[name + ".scale"]
        elif kind == "Dense":
            x = x @ tensor(z, name + ".weight", (layer["outputs"], layer["inputs"])).T
            if layer["bias"]:
                x = x + z[name + ".bias"]
        elif kind == "BatchNorm":
            if layer["momentum"] > 0:  # saved with running (or population) statistics
                mean, var = z[name + ".running_mean"], z[name + ".running_var"]
            else:  # the reference network: statistics of the batch, in evaluation too
                mean, var = x.mean(axis=0), x.var(axis=0)
            x = (x - mean) / np.sqrt(var + layer["eps"])
            if layer["affine"]:
                x = x * z[name + ".gamma"] + z[name + ".beta"]
        elif kind == "LayerNorm":
            mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
            x = (x - mean) / np.sqrt(var + layer["eps"])
        elif kind == "ReLU":
            x = np.maximum(x, 0.0)
        elif kind == "Dropout":
            pass  # the identity in evaluation
        else:
            raise ValueError(f"{path}: layer type {kind} is not in this recipe")
    return x
# ------------------------------------------------------------------------------------------------


def main():
    exe, scratch = sys.argv[1], sys.argv[2]
    os.makedirs(scratch, exist_ok=True)
    names = subprocess.run([exe, scratch], check=True, capture_output=True, text=True).stdout.split()
    assert names, "model_logits wrote no models"
    worst = 0.0
    for name in names:
        base = os.path.join(scratch, name)
        expected = np.load(base + ".logits.npy")
        got = forward(base + ".npz", np.load(base + ".rows.npy"))
        error = float(np.max(np.abs(got - expected)))
        print(f"{name}: {expected.shape[0]} rows, largest logit difference {error:.2e}")
        worst = max(worst, error)
    if worst > 1e-5:
        print(f"FAILED: numpy's logits differ from ist's by {worst:.2e} (more than 1e-5)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
