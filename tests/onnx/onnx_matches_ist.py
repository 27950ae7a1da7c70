#!/usr/bin/env python3
"""An exported ONNX model, checked against real ONNX tools: Debian's python3-onnx checker
(check_model with full_check) and onnxruntime (the npm package onnxruntime-node, run by node),
whose probabilities on 100 rows must match ist's own within 1e-5, with the same classes.

    onnx_matches_ist.py KIND --models ONNX_MODELS_EXE --dir DIR --node NODE --runtime RUNTIME_DIR
                        [--ist-export IST_EXPORT_EXE]

ONNX_MODELS_EXE (tests/onnx/onnx_models.cpp) trains the model, exports it and writes ist's
probabilities. With --ist-export, ist-export also exports the model file, and its output must be
the same bytes. Exits 77 (ctest's SKIP_RETURN_CODE) with a "skipped:" line when python3-onnx,
numpy, node or onnxruntime-node is missing."""
import argparse
import json
import os
import shutil
import subprocess
import sys

TOLERANCE = 1e-5


def skip(why):
    print(f"skipped: {why}")
    sys.exit(77)


try:
    import numpy as np
    import onnx
    import onnx.checker
except ImportError as e:
    skip(f"{e.name} missing for {sys.executable} (apt-get install python3-onnx)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind")
    parser.add_argument("--models", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--node", default="")
    parser.add_argument("--runtime", required=True)
    parser.add_argument("--ist-export", default="")
    args = parser.parse_args()
    if not args.node or shutil.which(args.node) is None:
        skip("node not found (apt-get install nodejs npm, then reconfigure)")
    os.makedirs(args.dir, exist_ok=True)
    subprocess.run([args.models, args.kind, args.dir], check=True)
    base = os.path.join(args.dir, args.kind)
    model = onnx.load(base + ".onnx")
    onnx.checker.check_model(model, full_check=True)
    if args.ist_export:
        subprocess.run([args.ist_export, "--model", base + ".npz", "--onnx", base + ".cli.onnx"], check=True)
        with open(base + ".onnx", "rb") as a, open(base + ".cli.onnx", "rb") as b:
            if a.read() != b.read():
                print(f"onnx {args.kind}: ist-export wrote other bytes than ist::export_onnx")
                return 1
    run = subprocess.run([args.node, os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_onnxruntime.js"),
                          args.runtime, base + ".onnx", base + ".rows.npy"], capture_output=True, text=True)
    if run.returncode == 77:
        skip(run.stdout.strip().removeprefix("skipped: "))
    if run.returncode != 0:
        print(run.stdout + run.stderr)
        return 1
    runtime = json.loads(run.stdout)
    theirs = np.array(runtime["probabilities"], dtype=np.float64)
    ours = np.load(base + ".probabilities.npy").astype(np.float64)
    if theirs.shape != ours.shape:
        print(f"onnx {args.kind}: onnxruntime gave probabilities of shape {theirs.shape}, ist {ours.shape}")
        return 1
    difference = float(np.max(np.abs(theirs - ours)))
    same = int(np.sum(np.array(runtime["class"]) == np.argmax(ours, axis=1)))
    rows, classes = ours.shape
    print(f"onnx {args.kind}: opset {model.opset_import[0].version}, {len(model.graph.node)} nodes, checker passed; "
          f"onnxruntime vs ist on {rows} rows: max |difference| of probabilities {difference:.3g}, "
          f"classes identical {same} of {rows}")
    return 0 if difference < TOLERANCE and same == rows else 1


if __name__ == "__main__":
    sys.exit(main())
