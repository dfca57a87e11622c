'use strict';
// Helper of make-goldens: seeded data (mulberry32, float32-exact values) and
// TensorFlow.js's metric functions on it.
//   node tfjs_metrics.js CONF OUT.json
const fs = require('fs');
const path = require('path');
const [conf, out] = process.argv.slice(2);
const {loadDeps} = require(path.join(conf, 'lib/deps.js'));

function mulberry32(seed) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

loadDeps().then(({tf}) => {
  const rand = mulberry32(7);
  const N = 23;
  const uniform = (n, lo, hi) => Array.from({length: n}, () => Math.fround(lo + (hi - lo) * rand()));
  const t = (shape, data) => ({shape, data});
  // binary: labels in {0, 1}, probabilities (kept away from the 0.5 threshold)
  const binTrue = Array.from({length: N * 3}, () => (rand() < 0.5 ? 0 : 1));
  const binPred = uniform(N * 3, 0, 1).map((v) => (Math.abs(v - 0.5) < 1e-3 ? 0.25 : v));
  // categorical: one-hot labels over 5 classes, scores
  const C = 5;
  const labels = Array.from({length: N}, () => Math.floor(rand() * C));
  const catTrue = [];
  for (const l of labels) for (let c = 0; c < C; c++) catTrue.push(c === l ? 1 : 0);
  const catPred = uniform(N * C, 0, 1);
  // regression
  const regTrue = uniform(N * 4, -1, 1);
  const regPred = uniform(N * 4, -1, 1);

  const T = (x) => tf.tensor(x.data, x.shape, 'float32');
  const arr = (x) => Array.from(x.dataSync());
  const bt = t([N, 3], binTrue), bp = t([N, 3], binPred);
  const ct = t([N, C], catTrue), cp = t([N, C], catPred);
  const st = t([N], labels);
  const rt = t([N, 4], regTrue), rp = t([N, 4], regPred);
  const bpHard = t([N, 3], binPred.map((v) => (v > 0.5 ? 1 : 0)));
  const res = {
    generator: 'TensorFlow.js 4.22.0 tf.metrics (cpu backend); tests/data/metrics/make-goldens',
    inputs: {binary_true: bt, binary_pred: bp, categorical_true: ct, categorical_pred: cp,
             sparse_true: st, regression_true: rt, regression_pred: rp},
    per_sample: {
      binary_accuracy: arr(tf.metrics.binaryAccuracy(T(bt), T(bp))),
      categorical_accuracy: arr(tf.metrics.categoricalAccuracy(T(ct), T(cp))),
      sparse_categorical_accuracy: arr(tf.metrics.sparseCategoricalAccuracy(T(st), T(cp))),
      mean_squared_error: arr(tf.metrics.meanSquaredError(T(rt), T(rp))),
      mean_absolute_error: arr(tf.metrics.meanAbsoluteError(T(rt), T(rp))),
    },
    // on the whole data set, predictions thresholded at 0.5 (tfjs counts y_pred == 1)
    whole: {
      precision: arr(tf.metrics.precision(T(bt), T(bpHard)))[0],
      recall: arr(tf.metrics.recall(T(bt), T(bpHard)))[0],
    },
  };
  fs.writeFileSync(out, JSON.stringify(res));
});
