'use strict';
// Helper of make-goldens (Node.js, no dependencies beyond ../shared/conformance).
//   fit.js data X.json DATA.json       DATA.json for keras-ref fit: x from X.json (keras-ref
//                                      inputs), y = sin(2 * (x @ A) + 0.5) rounded to float32,
//                                      A a fixed 4x3 matrix: a target the linear model can
//                                      only approach, so every step has a non-zero gradient
//   fit.js join CONF DIR OUT.json NAME...
//                                      one file: data, the fixture's initial weights (read
//                                      with the conformance library) and, per NAME, the fit
//                                      settings, history and final weights of DIR/NAME.json
const fs = require('fs');
const path = require('path');
const [cmd, ...args] = process.argv.slice(2);
const read = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

if (cmd === 'data') {
  const x = read(args[0]).inputs[0];
  const A = [[0.5, -1.0, 0.25], [1.5, 0.75, -0.5], [-0.25, 0.5, 1.0], [0.8, -0.6, 0.3]];
  const n = x.shape[0], k = x.shape[1];
  const y = [];
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += x.data[i * k + q] * A[q][j];
      y.push(Math.fround(Math.sin(2 * s + 0.5)));
    }
  }
  fs.writeFileSync(args[1], JSON.stringify({x: [{shape: x.shape, data: x.data}], y: [{shape: [n, 3], data: y}]}));
} else if (cmd === 'join') {
  const [conf, dir, out, ...names] = args;
  const {loadDeps} = require(path.join(conf, 'lib/deps.js'));
  const {readKerasH5} = require(path.join(conf, 'lib/kerash5.js'));
  loadDeps().then(({h5wasm}) => {
    const m = readKerasH5(h5wasm, path.join(dir, 'model.h5'));
    const initial = [];
    for (const l of m.layers) for (const w of l.weights) initial.push({name: w.name, shape: w.shape, data: Array.from(w.data)});
    const data = read(path.join(dir, 'data.json'));
    const cases = names.map((name) => {
      const f = read(path.join(dir, `${name}.json`));
      return {name, optimizer: f.args.optimizer, epochs: f.args.epochs, batch_size: f.args.batch_size,
        tfjs_optimizer: f.tfjs.optimizer, history: f.history, weights: f.weights.map((w) => ({name: w.name, shape: w.shape, data: w.data}))};
    });
    const gen = read(path.join(dir, `${names[0]}.json`)).generator;
    fs.writeFileSync(out, JSON.stringify({
      generator: `${gen}; tests/data/optimizers/make-goldens`,
      model: 'keras-ref make-fixture linear (seed 1): Dense(3) on 4 inputs, loss mse',
      x: data.x[0], y: data.y[0], initial, cases,
    }) + "\n");
  });
} else {
  console.error('usage: fit.js data|join ...');
  process.exit(2);
}
