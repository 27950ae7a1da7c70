#!/bin/bash
# The flow docs/model_files.md leads with, as a new user runs it: the embedded digits as CSV files
# with a header row (1347 training rows, 450 labelled test rows, the same 450 rows without their
# label column), ist-train --save-model, then ist-predict from the model file alone. Prints what
# each step prints and, last, the check: the accuracy ist-predict reads from the file alone equals
# the one ist-train printed for the model it saved, and the same file exported by ist-export passes
# onnx.checker (python3-onnx, full_check) and run in onnxruntime (node and the npm package onnxruntime-node, as tests/onnx runs it) on new.csv
# gives ist-predict's probabilities (as predictions.csv writes them, 6 significant digits): the
# largest |difference| must be below 1e-5 (tests/onnx's bound), with the same classes. Without
# ist-export (no libonnx-dev), node or onnxruntime-node
# (IST_ONNXRUNTIME: the folder npm installed it into, `make docs-check` sets it) the last line says
# "onnx max diff skipped (why)" instead of a number. Run by docs-check (programs on PATH).
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
root=$(cd "$(dirname "$0")/../.." && pwd)
digits=$root/data/digits.csv.gz
cd "$dir"
header="$(seq -s, -f 'pixel%g' 0 63)"
zcat "$digits" > all.csv
{ echo "$header,digit"; head -n 1347 all.csv; } > train.csv
{ echo "$header,digit"; tail -n 450 all.csv; } > test.csv
{ echo "$header"; tail -n 450 all.csv | cut -d, -f1-64; } > new.csv
echo '$ ist-train --data csv:train.csv --test-data csv:test.csv --save-model m.npz --quiet'
trained=$(ist-train --data csv:train.csv --test-data csv:test.csv --save-model m.npz --quiet 2>/dev/null)
echo "$trained"
echo '$ ist-predict --model m.npz --input new.csv --out predictions.csv; head -3 predictions.csv'
ist-predict --model m.npz --input new.csv --out predictions.csv
head -3 predictions.csv
echo '$ ist-predict --model m.npz --input test.csv'
predicted=$(ist-predict --model m.npz --input test.csv)
echo "$predicted"
train_accuracy=$(sed -n 's/^saved .*: test accuracy \([0-9.e-]*\), loss .*/\1/p' <<< "$trained")
predict_accuracy=$(sed -n 's/^test accuracy \([0-9.e-]*\), loss .*/\1/p' <<< "$predicted")
[ -n "$train_accuracy" ] && [ "$train_accuracy" = "$predict_accuracy" ] || { echo "MISMATCH: $predict_accuracy vs $train_accuracy"; exit 1; }

# Sets onnx to the largest |difference| of a probability, or to "skipped (why)".
compare_onnx() {
  command -v ist-export >/dev/null || { onnx="skipped (ist-export not built: libonnx-dev missing)"; return; }
  echo '$ ist-export --model m.npz --onnx m.onnx'
  ist-export --model m.npz --onnx m.onnx 2>&1
  # Debian's python3-onnx (make deps installs it; /usr/bin/python3 where another python3 is first on PATH),
  # as tests/onnx checks every export.
  local python
  for python in python3 /usr/bin/python3 none; do "$python" -c "import onnx" 2>/dev/null && break; done
  [ "$python" != none ] || { echo "python3-onnx missing (make deps installs it)"; exit 1; }
  "$python" -c "import onnx, onnx.checker; onnx.checker.check_model(onnx.load('m.onnx'), full_check=True)" ||
    { echo "MISMATCH: onnx.checker refuses m.onnx"; exit 1; }
  echo "onnx.checker.check_model(full_check=True): passed"
  local compared status=0
  if ! command -v node >/dev/null; then
    compared="max diff skipped (node not found)"
  elif [ -z "${IST_ONNXRUNTIME:-}" ]; then
    compared="max diff skipped (IST_ONNXRUNTIME unset: no onnxruntime-node)"
  else
    compared=$(node "$root/tests/onnx/compare_predictions.js" "$IST_ONNXRUNTIME" m.onnx new.csv predictions.csv 2>&1) || status=$?
    [ $status = 77 ] && compared="max diff skipped (${compared#skipped: })"
    [ $status = 0 ] || [ $status = 77 ] || { echo "onnxruntime failed: $compared"; exit 1; }
  fi
  echo "onnxruntime on new.csv against predictions.csv: $compared"
  onnx=${compared#max diff }
  onnx=${onnx%%, classes*}
  [[ $onnx == skipped* ]] && return
  [[ $compared == *", classes identical 450 of 450" ]] && awk "BEGIN { exit !($onnx < 1e-5) }" ||
    { echo "MISMATCH: onnxruntime vs ist-predict beyond 1e-5 or in a class"; exit 1; }
}
compare_onnx
echo "predict from file alone: acc $predict_accuracy = train's $train_accuracy; onnx max diff $onnx"
