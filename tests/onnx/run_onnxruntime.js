// Runs an ONNX model in onnxruntime (the CPU build inside the npm package onnxruntime-node) on the
// rows of a float32 .npy file and prints its outputs as JSON: {"probabilities": [[...], ...], "class": [...]}.
//   node run_onnxruntime.js RUNTIME_DIR MODEL.onnx ROWS.npy
// RUNTIME_DIR holds node_modules/onnxruntime-node (npm install --prefix RUNTIME_DIR). Exits 77 with
// a "skipped:" line when the package is not there. compare_predictions.js runs models through the
// same functions (module.exports).
'use strict';
const fs = require('fs');
const path = require('path');

/// onnxruntime-node from RUNTIME_DIR, or exit 77 with a "skipped:" line.
function loadRuntime(runtimeDir) {
  try {
    return require(path.resolve(runtimeDir, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    console.log(`skipped: onnxruntime-node is not installed in ${runtimeDir} (${e.code || e.message})`);
    process.exit(77);
  }
}

/// The shape and float32 values of a C-order little-endian .npy file.
function readNpy(file) {
  const bytes = fs.readFileSync(file);
  if (bytes.toString('latin1', 1, 6) !== 'NUMPY') throw new Error(`${file}: not a .npy file`);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLength;
  const header = bytes.toString('latin1', major === 1 ? 10 : 12, start);
  if (!header.includes("'<f4'") || header.includes("'fortran_order': True")) throw new Error(`${file}: not C-order float32`);
  const shape = header.match(/'shape': \(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const values = new Float32Array(bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length));
  return { shape, values };
}

/// The model's outputs on `rows` ({shape, values: Float32Array}): {probabilities: [[...], ...], class: [...]}.
async function score(ort, modelPath, rows) {
  const session = await ort.InferenceSession.create(modelPath);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', rows.values, rows.shape) };
  const out = await session.run(feeds);
  const probabilities = out.probabilities;
  const classes = probabilities.dims[1];
  const table = [];
  for (let r = 0; r < probabilities.dims[0]; ++r) table.push(Array.from(probabilities.data.slice(r * classes, (r + 1) * classes)));
  return { probabilities: table, class: Array.from(out.class.data, Number) };
}

/// Runs `main` and exits 1 with "onnxruntime: <message>" on an error.
function run(main) {
  main().catch((e) => {
    console.error(`onnxruntime: ${e.message}`);
    process.exit(1);
  });
}

module.exports = { loadRuntime, readNpy, score, run };

if (require.main === module) {
  const [runtimeDir, modelPath, rowsPath] = process.argv.slice(2);
  const ort = loadRuntime(runtimeDir);
  run(async () => console.log(JSON.stringify(await score(ort, modelPath, readNpy(rowsPath)))));
}
