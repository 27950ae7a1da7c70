#!/bin/bash
# The flow docs/model_files.md leads with, as a new user runs it: the embedded digits as CSV files
# with a header row (1347 training rows, 450 labelled test rows, the same 450 rows without their
# label column), ist-train --save-model, then ist-predict from the model file alone. Prints what
# each step prints and, last, the check: the accuracy ist-predict reads from the file alone equals
# the one ist-train printed for the model it saved. Run by docs-check (programs on PATH).
set -euo pipefail
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
digits=$(cd "$(dirname "$0")/../.." && pwd)/data/digits.csv.gz
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
echo "predict from file alone: acc $predict_accuracy = train's $train_accuracy; onnx max diff n/a (not built)"
