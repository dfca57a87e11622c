#!/usr/bin/env node
'use strict';
// Regenerate tests/data/losses/tfjs.json: Keras losses as TensorFlow.js
// computes them, with their gradients. Usage, from the repository:
//     node tests/data/losses/make-goldens.js [path/to/shared/conformance]
//
// How: keras-ref make-fixture linear (Dense(3) on 4 inputs, seed 1); a fit
// with learning rate 0 reads its weights W, b. For each case the inputs x are
// solved from the case's target predictions p (the smallest x with
// x W + b = p, rounded to float32), so that every loss sees predictions in
// its domain (probabilities in (0, 1), ...). Then
// `keras-ref fit --loss NAME` does one full-batch SGD step with learning rate
// 1: history.loss[0] is the loss at W, b (weighted by sample_weight when the
// case has one) and W - W', b - b' its gradient. The inputs avoid where Keras
// and TensorFlow.js differ (README of shared/conformance): hinge labels are
// +-1, vectors are far from zero for cosine similarity, probabilities stay
// inside [1e-7, 1 - 1e-7].
const fs = require('fs');
const os = require('os');
const path = require('path');
const {execFileSync} = require('child_process');

const conf = process.argv[2] || path.join(__dirname, '../../../../shared/conformance');
const kr = path.join(conf, 'keras-ref');
execFileSync(path.join(conf, 'setup'), {stdio: ['ignore', 'ignore', 'inherit']});
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'loss-goldens-'));
const run = (...args) => execFileSync(kr, args, {stdio: ['ignore', 'ignore', 'inherit']});
const readJson = (f) => JSON.parse(fs.readFileSync(f, 'utf8'));
const t = (shape, data) => ({shape, data: data.map(Math.fround)});

const model = path.join(tmp, 'model.h5');
run('make-fixture', 'linear', model, path.join(tmp, 'model.io.json'), '--seed', '1');

function fit(data, loss, lr) {
  const d = path.join(tmp, 'data.json'), o = path.join(tmp, 'out.json');
  fs.writeFileSync(d, JSON.stringify(data));
  run('fit', model, d, path.join(tmp, 'out.h5'), o, '--optimizer',
      JSON.stringify({class_name: 'SGD', config: {learning_rate: lr}}), '--loss', loss, '--batch-size', '32');
  return readJson(o);
}

// Initial weights: a step of learning rate 0 leaves them as they are.
const w0 = fit({x: [t([1, 4], [0, 0, 0, 0])], y: [t([1, 3], [0, 0, 0])]}, 'mse', 0).weights;
const W = w0[0].data, b = w0[1].data; // W is [4, 3], row-major

// The smallest x (1 x 4) with x W + b = p: x = W z where (W^T W) z = p - b,
// solved by Gaussian elimination with partial pivoting.
function solveInputs(p) {
  const A = [0, 1, 2].map((j) => [0, 1, 2].map((k) => [0, 1, 2, 3].reduce((s, i) => s + W[i * 3 + j] * W[i * 3 + k], 0)));
  const r = [0, 1, 2].map((j) => p[j] - b[j]);
  for (let c = 0; c < 3; c++) {
    let piv = c;
    for (let k = c + 1; k < 3; k++) if (Math.abs(A[k][c]) > Math.abs(A[piv][c])) piv = k;
    [A[c], A[piv]] = [A[piv], A[c]];
    [r[c], r[piv]] = [r[piv], r[c]];
    for (let k = c + 1; k < 3; k++) {
      const f = A[k][c] / A[c][c];
      for (let m = c; m < 3; m++) A[k][m] -= f * A[c][m];
      r[k] -= f * r[c];
    }
  }
  const z = [0, 0, 0];
  for (let c = 2; c >= 0; c--) {
    let s = r[c];
    for (let m = c + 1; m < 3; m++) s -= A[c][m] * z[m];
    z[c] = s / A[c][c];
  }
  return [0, 1, 2, 3].map((i) => z.reduce((s, zj, j) => s + W[i * 3 + j] * zj, 0));
}

const P_SIGNED = [[0.8, -0.4, 1.6], [-1.2, 0.3, 0.1], [0.5, 2.2, -0.7], [-0.3, -1.5, 0.9]];
const P_PROB = [[0.7, 0.2, 0.4], [0.15, 0.6, 0.3], [0.9, 0.35, 0.05], [0.45, 0.8, 0.25]];
const Y_SIGNED = [[0.5, 0.1, -1.0], [0.3, -0.9, 1.2], [-0.4, 0.6, 0.2], [1.1, 0.7, -0.6]];
const Y_ONEHOT = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]];
const Y_BINARY = [[1, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0.5]];
const Y_PM1 = [[1, -1, 1], [-1, 1, 1], [1, 1, -1], [-1, -1, 1]];
const Y_DIST = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.05, 0.15, 0.8], [0.3, 0.3, 0.4]];
const Y_COUNTS = [[0, 1, 2], [3, 0, 1], [1, 1, 0], [2, 4, 1]];
const Y_POSITIVE = [[1.5, 0.2, 0.9], [0.4, 2.5, 0.7], [0.9, 0.3, 1.8], [0.6, 1.2, 0.5]];
const Y_NONZERO = [[0.5, -1.2, 2.0], [1.5, 0.8, -0.6], [-0.9, 1.7, 0.4], [0.7, -0.5, 1.1]];
const SW = [0.5, 2.0, 1.0, 0.25];

const cases = [
  {loss: 'mse', p: P_SIGNED, y: Y_SIGNED, sw: SW},
  {loss: 'mae', p: P_SIGNED, y: Y_SIGNED},
  {loss: 'mape', p: P_SIGNED, y: Y_NONZERO},
  {loss: 'msle', p: P_PROB, y: Y_POSITIVE},
  {loss: 'huber', p: P_SIGNED, y: Y_SIGNED, sw: SW},
  {loss: 'logcosh', p: P_SIGNED, y: Y_SIGNED},
  {loss: 'binary_crossentropy', p: P_PROB, y: Y_BINARY, sw: SW},
  {loss: 'categorical_crossentropy', p: P_PROB, y: Y_ONEHOT, sw: SW},
  {loss: 'sparse_categorical_crossentropy', p: P_PROB, y: [0, 1, 2, 1], ydims: [4], sw: SW},
  {loss: 'hinge', p: P_SIGNED, y: Y_PM1},
  {loss: 'squared_hinge', p: P_SIGNED, y: Y_PM1},
  {loss: 'categorical_hinge', p: P_SIGNED, y: Y_ONEHOT},
  {loss: 'kld', p: P_PROB, y: Y_DIST},
  {loss: 'poisson', p: P_PROB, y: Y_COUNTS},
  {loss: 'cosine_similarity', p: P_SIGNED, y: Y_SIGNED},
];

const out = [];
for (const c of cases) {
  const x = c.p.map(solveInputs).flat();
  const data = {x: [t([4, 4], x)], y: [t(c.ydims || [4, 3], c.y.flat())]};
  if (c.sw) data.sample_weight = [t([4], c.sw)];
  const r = fit(data, c.loss, 1);
  const grad = (i) => w0[i].data.map((v, k) => Math.fround(v - r.weights[i].data[k]));
  out.push({loss: c.loss, x: data.x[0], y: data.y[0], sample_weight: c.sw ? data.sample_weight[0] : null,
            tfjs_loss: r.tfjs.loss[0], value: r.history.loss[0],
            grad_kernel: {shape: [4, 3], data: grad(0)}, grad_bias: {shape: [3], data: grad(1)}});
  console.log(`${c.loss}: ${r.history.loss[0]}`);
}
fs.writeFileSync(path.join(__dirname, 'tfjs.json'), JSON.stringify({
  generator: 'keras-ref make-fixture linear (seed 1) + fit, SGD(learning_rate=1), one full batch ' +
             '(TensorFlow.js 4.22.0, cpu backend); tests/data/losses/make-goldens.js',
  kernel: {shape: [4, 3], data: W}, bias: {shape: [3], data: b}, cases: out,
}, null, 1) + '\n');
fs.rmSync(tmp, {recursive: true});
