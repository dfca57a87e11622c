'use strict';
// Helper of make-goldens.
//   dump.js targets IO.json OUT.json   add "targets" = sin(3 * output + 1), exact in float32
//   dump.js join CONF KIND MODEL.h5 IO.json MSE.json SUM.json OUT.json
const fs = require('fs');
const path = require('path');
const [cmd, ...args] = process.argv.slice(2);

if (cmd === 'targets') {
  const io = JSON.parse(fs.readFileSync(args[0], 'utf8'));
  io.targets = io.outputs.map((o) => ({shape: o.shape, data: o.data.map((v) => Math.fround(Math.sin(3 * v + 1)))}));
  fs.writeFileSync(args[1], JSON.stringify(io));
} else if (cmd === 'join') {
  const [conf, kind, h5, ioPath, msePath, sumPath, out] = args;
  const {loadDeps} = require(path.join(conf, 'lib/deps.js'));
  const {readKerasH5} = require(path.join(conf, 'lib/kerash5.js'));
  loadDeps().then(({h5wasm}) => {
    const m = readKerasH5(h5wasm, h5);
    const io = JSON.parse(fs.readFileSync(ioPath, 'utf8'));
    const mse = JSON.parse(fs.readFileSync(msePath, 'utf8'));
    const sum = JSON.parse(fs.readFileSync(sumPath, 'utf8'));
    const weights = [];
    for (const l of m.layers) for (const w of l.weights) weights.push({layer: l.name, name: w.name, shape: w.shape, data: Array.from(w.data)});
    fs.writeFileSync(out, JSON.stringify({
      generator: 'keras-ref make-fixture + grad (TensorFlow.js 4.22.0, cpu backend); tests/data/grad/make-goldens',
      kind, model_config: m.config, weights, inputs: io.inputs, outputs: io.outputs, targets: io.targets,
      mse: {loss: mse.loss, grads: mse.grads}, sum: {loss: sum.loss, grads: sum.grads},
    }));
  });
} else {
  console.error('usage: dump.js targets|join ...');
  process.exit(2);
}
