'use strict';
// Regenerate the model goldens in this folder with TensorFlow.js 4.22 (the
// keras-ref install of ../shared/conformance). Usage, from the repository:
//     node tests/data/models/make-goldens.js [path/to/shared/conformance]
// For each model below: build it from its Keras 2 model_config with
// tf.models.modelFromJSON, give every weight deterministic values
// (mulberry32, seed 7; variances positive), predict on seeded inputs
// (inference mode), and compute, in training mode, the loss
// mean((y - t)^2) with t = sin(3 y0 + 1) (y0 = the inference prediction)
// and its gradient w.r.t. every trainable weight. Writes <name>.json with
// model_config, weights (model.weights order, Keras' file order), inputs,
// outputs, targets, loss and grads.
const fs = require('fs');
const path = require('path');
const conf = process.argv[2] || path.join(__dirname, '../../../../shared/conformance');
const {loadDeps} = require(path.join(conf, 'lib/deps.js'));

function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6D2B79F5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const dense = (name, units, act, extra = {}) => ({class_name: 'Dense', config: Object.assign({name, trainable: true, dtype: 'float32', units, activation: act, use_bias: true,
  kernel_initializer: {class_name: 'GlorotUniform', config: {seed: null}}, bias_initializer: {class_name: 'Zeros', config: {}},
  kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null}, extra)});
const seq = (name, layers) => ({class_name: 'Sequential', config: {name, layers}});

const MODELS = {
  dense_bn: {
    config: seq('dense_bn', [
      dense('dense', 6, 'relu', {batch_input_shape: [null, 5]}),
      {class_name: 'BatchNormalization', config: {name: 'batch_normalization', trainable: true, dtype: 'float32', axis: -1, momentum: 0.99, epsilon: 0.001, center: true, scale: true,
        beta_initializer: {class_name: 'Zeros', config: {}}, gamma_initializer: {class_name: 'Ones', config: {}},
        moving_mean_initializer: {class_name: 'Zeros', config: {}}, moving_variance_initializer: {class_name: 'Ones', config: {}},
        beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null}},
      dense('dense_1', 3, 'softmax')]),
    inputs: [[4, 5]],
  },
  layernorm: {
    config: seq('layernorm', [
      dense('dense', 6, 'linear', {batch_input_shape: [null, 5]}),
      {class_name: 'LayerNormalization', config: {name: 'layer_normalization', trainable: true, dtype: 'float32', axis: -1, epsilon: 0.001, center: true, scale: true,
        beta_initializer: {class_name: 'Zeros', config: {}}, gamma_initializer: {class_name: 'Ones', config: {}},
        beta_regularizer: null, gamma_regularizer: null, beta_constraint: null, gamma_constraint: null}},
      dense('dense_1', 2, 'tanh')]),
    inputs: [[3, 5]],
  },
  embedding: {
    config: seq('embedding', [
      {class_name: 'Embedding', config: {name: 'embedding', trainable: true, dtype: 'float32', batch_input_shape: [null, 6], input_dim: 10, output_dim: 4,
        embeddings_initializer: {class_name: 'RandomUniform', config: {minval: -0.05, maxval: 0.05, seed: null}}, embeddings_regularizer: null,
        activity_regularizer: null, embeddings_constraint: null, mask_zero: true, input_length: 6}},
      dense('dense', 3, 'sigmoid')]),
    inputs: [[3, 6, 'index', 10]],
  },
  masking: {
    config: seq('masking', [
      {class_name: 'Masking', config: {name: 'masking', trainable: true, dtype: 'float32', batch_input_shape: [null, 4, 3], mask_value: 0.0}},
      dense('dense', 2, 'elu')]),
    inputs: [[2, 4, 3, 'masked']],
  },
};

async function main() {
  const {tf} = await loadDeps();
  for (const [name, spec] of Object.entries(MODELS)) {
    const model = await tf.models.modelFromJSON(spec.config);
    const rnd = mulberry32(7);
    const weights = model.weights.map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const isVar = w.name.includes('moving_variance');
      const data = Array.from({length: n}, () => Math.fround(isVar ? 0.5 + rnd() : rnd() * 2 - 1));
      w.write(tf.tensor(data, w.shape));
      return {name: w.originalName || w.name, shape: w.shape, data};
    });
    const irnd = mulberry32(11);
    const inputs = spec.inputs.map((s) => {
      const [b, ...rest] = s.filter((v) => typeof v === 'number');
      const kind = s.find((v) => typeof v === 'string') || 'float';
      const dims = kind === 'index' ? [b, rest[0]] : [b, ...rest];
      const n = dims.reduce((a, c) => a * c, 1);
      let data = Array.from({length: n}, () => Math.fround(irnd() * 2 - 1));
      if (kind === 'index') data = Array.from({length: n}, () => Math.floor(irnd() * rest[1]));
      if (kind === 'masked') for (let i = 0; i < dims[2]; i++) data[(1 * dims[1] + 2) * dims[2] + i] = 0;
      return {shape: dims, data, dtype: kind === 'index' ? 'int32' : 'float32'};
    });
    const xs = inputs.map((t) => tf.tensor(t.data, t.shape, t.dtype));
    const y0 = model.predict(xs.length === 1 ? xs[0] : xs);
    const ys = Array.isArray(y0) ? y0 : [y0];
    const outputs = ys.map((y) => ({shape: y.shape, data: Array.from(y.dataSync())}));
    const targets = outputs.map((o) => ({shape: o.shape, data: o.data.map((v) => Math.fround(Math.sin(3 * v + 1)))}));
    const tts = targets.map((t) => tf.tensor(t.data, t.shape));
    const trainable = model.trainableWeights;
    const f = () => {
      let out = model.apply(xs.length === 1 ? xs[0] : xs, {training: true});
      if (!Array.isArray(out)) out = [out];
      return tf.addN(out.map((y, i) => tf.mean(tf.square(tf.sub(y, tts[i])))));
    };
    const {value, grads} = tf.variableGrads(f, trainable.map((w) => w.val));
    const g = trainable.map((w) => ({name: w.originalName || w.name, shape: w.shape, data: Array.from(grads[w.val.name].dataSync())}));
    fs.writeFileSync(path.join(__dirname, name + '.json'), JSON.stringify({
      generator: 'TensorFlow.js 4.22.0 (cpu backend) via tests/data/models/make-goldens.js',
      model_config: spec.config, weights, inputs, outputs, targets, loss: value.dataSync()[0], grads: g}));
    console.log('wrote', name + '.json');
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
