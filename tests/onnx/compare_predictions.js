// An ONNX export against ist-predict's predictions of the same rows (tests/docs/model_file_flow.sh):
// onnxruntime scores the rows of a CSV of features (a header row first) and its probabilities are
// compared with those of ist-predict --out (row,class,p0..pK; its class column numbers, not names;
// probabilities with 6 significant digits, so D holds their rounding, up to 5e-7, too).
//   node compare_predictions.js RUNTIME_DIR MODEL.onnx ROWS.csv PREDICTIONS.csv
// Prints "max diff D, classes identical S of N" (D the largest |difference| of a probability).
// Exits 77 with a "skipped:" line when onnxruntime-node is not in RUNTIME_DIR.
'use strict';
const fs = require('fs');
const { loadRuntime, score, run } = require('./run_onnxruntime.js');

/// The rows of a CSV with a header row, as numbers.
function readCsv(file) {
  return fs.readFileSync(file, 'utf8').split('\n').slice(1).filter((line) => line.trim()).map((line) => line.split(',').map(Number));
}

const [runtimeDir, modelPath, rowsPath, predictionsPath] = process.argv.slice(2);
const ort = loadRuntime(runtimeDir);
run(async () => {
  const rows = readCsv(rowsPath);
  const features = rows[0].length;
  const theirs = await score(ort, modelPath, { shape: [rows.length, features], values: Float32Array.from(rows.flat()) });
  const ours = readCsv(predictionsPath);
  if (ours.length !== rows.length) throw new Error(`${predictionsPath}: ${ours.length} predictions for ${rows.length} rows`);
  let worst = 0, same = 0;
  ours.forEach(([row, cls, ...p], i) => {
    if (row !== i || p.length !== theirs.probabilities[i].length) throw new Error(`${predictionsPath}: row ${i} is not row,class,p0..p${theirs.probabilities[i].length - 1}`);
    p.forEach((x, k) => { worst = Math.max(worst, Math.abs(x - theirs.probabilities[i][k])); });
    same += cls === theirs.class[i];
  });
  console.log(`max diff ${worst.toPrecision(3)}, classes identical ${same} of ${rows.length}`);
});
