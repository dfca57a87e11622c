'use strict';
// Regenerate the core-layer goldens in this folder with TensorFlow.js (the
// keras-ref install of ../shared/conformance). Usage, from the repository:
//     node tests/data/layers/make-goldens.js [path/to/shared/conformance]
// For each model below: a Keras 2 style model_config written here by hand,
// built with tf.models.modelFromJSON, weights set from a fixed formula,
// predictions on fixed inputs; writes <kind>.json with
// {generator, kind, model_config, weights, inputs, outputs}.
// Layers run in inference mode (Dropout and the noise layers pass through).
const fs = require('fs');
const path = require('path');

const here = __dirname;
const conf = process.argv[2] || path.join(here, '../../../../shared/conformance');
const {loadDeps} = require(path.join(conf, 'lib/deps.js'));

// Deterministic float32 values in [lo, hi): mulberry32.
function stream(seed) {
  let a = seed >>> 0;
  return (lo, hi) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return Math.fround(lo + (hi - lo) * u);
  };
}

const base = (name) => ({name, trainable: true, dtype: 'float32'});
const input = (name, shape) => ({
  class_name: 'InputLayer', name, inbound_nodes: [],
  config: {batch_input_shape: [null, ...shape], dtype: 'float32', sparse: false, ragged: false, name},
});
const dense = (name, units, activation) => ({
  class_name: 'Dense',
  config: {...base(name), units, activation: activation || 'linear', use_bias: true,
    kernel_initializer: {class_name: 'GlorotUniform', config: {seed: null}},
    bias_initializer: {class_name: 'Zeros', config: {}},
    kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null,
    kernel_constraint: null, bias_constraint: null},
});
const layer = (class_name, name, extra) => ({class_name, config: {...base(name), ...(extra || {})}});
// Functional entry: the layer plus its name and one node over `from`.
const node = (l, ...from) => ({...l, name: l.config.name, inbound_nodes: [from.map((f) => [f, 0, 0, {}])]});

const models = {
  // Sequential: activation layers (and the inference-mode identity of the
  // dropout and noise layers) on rank-3 inputs.
  activations: {
    inputs: [[3, 4]],
    config: {class_name: 'Sequential', config: {name: 'sequential', layers: [
      input('input_1', [3, 4]),
      dense('dense', 4),
      layer('LeakyReLU', 'leaky_re_lu', {alpha: 0.2}),
      layer('Dropout', 'dropout', {rate: 0.5, noise_shape: null, seed: null}),
      dense('dense_1', 4),
      layer('ReLU', 're_lu', {max_value: 0.6, negative_slope: 0.0, threshold: 0.0}),
      layer('PReLU', 'p_re_lu', {alpha_initializer: {class_name: 'Zeros', config: {}},
        alpha_regularizer: null, alpha_constraint: null, shared_axes: [1]}),
      layer('GaussianNoise', 'gaussian_noise', {stddev: 0.3, seed: null}),
      dense('dense_2', 4),
      layer('ELU', 'elu', {alpha: 1.0}),
      layer('Activation', 'activation', {activation: 'softsign'}),
      layer('Softmax', 'softmax', {axis: -1}),
      layer('GaussianDropout', 'gaussian_dropout', {rate: 0.2, seed: null}),
      dense('dense_3', 4),
      layer('Softmax', 'softmax_1', {axis: [1, 2]}),
    ]}},
  },
  // Sequential: Permute, Reshape, Flatten in both data formats,
  // RepeatVector, Reshape with -1 (last: TensorFlow.js leaves the inferred
  // size unknown, which a following Flatten refuses).
  reshaping: {
    inputs: [[2, 3, 4]],
    config: {class_name: 'Sequential', config: {name: 'sequential_1', layers: [
      input('input_2', [2, 3, 4]),
      layer('Permute', 'permute', {dims: [3, 1, 2]}),
      layer('Reshape', 'reshape', {target_shape: [4, 6]}),
      dense('dense_4', 5),
      layer('Flatten', 'flatten', {data_format: 'channels_first'}),
      dense('dense_5', 3),
      layer('RepeatVector', 'repeat_vector', {n: 2}),
      layer('Flatten', 'flatten_1', {data_format: 'channels_last'}),
      layer('Reshape', 'reshape_1', {target_shape: [-1, 2]}),
    ]}},
  },
  // Functional, three inputs: every merge layer TensorFlow.js has, inputs
  // of different ranks, Concatenate on axes -1 and 1, Dot with int and
  // pair axes, normalize.
  merge: {
    inputs: [[4], [4], [3, 4]],
    config: {class_name: 'Functional', config: {name: 'model', layers: [
      input('in_a', [4]), input('in_b', [4]), input('in_c', [3, 4]),
      node(dense('da', 4), 'in_a'),
      node(dense('db', 4, 'tanh'), 'in_b'),
      node(layer('Add', 'add'), 'da', 'db'),
      node(layer('Multiply', 'multiply'), 'da', 'db', 'in_a'),
      node(layer('Average', 'average'), 'in_a', 'in_b'),
      node(layer('Maximum', 'maximum'), 'da', 'db'),
      node(layer('Minimum', 'minimum'), 'da', 'in_b'),
      node(layer('Concatenate', 'concatenate', {axis: -1}), 'add', 'multiply', 'average', 'maximum', 'minimum'),
      node(layer('Dot', 'dot', {axes: 1, normalize: false}), 'da', 'db'),
      node(layer('Dot', 'dot_1', {axes: [2, 1], normalize: true}), 'in_c', 'da'),
      node(layer('Add', 'add_1'), 'in_c', 'in_a'),
      node(layer('Concatenate', 'concatenate_1', {axis: 1}), 'in_c', 'add_1'),
      node(layer('Flatten', 'flatten_2', {data_format: 'channels_last'}), 'concatenate_1'),
      node(layer('Dot', 'dot_2', {axes: [1, 1], normalize: false}), 'in_c', 'add_1'),
      node(layer('Flatten', 'flatten_3', {data_format: 'channels_last'}), 'dot_2'),
      node(layer('Concatenate', 'concatenate_2', {axis: -1}), 'concatenate', 'dot', 'dot_1', 'flatten_2'),
      node(dense('out', 2, 'softmax'), 'concatenate_2'),
    ],
    input_layers: [['in_a', 0, 0], ['in_b', 0, 0], ['in_c', 0, 0]],
    output_layers: [['concatenate_2', 0, 0], ['out', 0, 0], ['flatten_3', 0, 0]]}},
  },
};

function toJson(t) {
  return {shape: t.shape, data: Array.from(t.dataSync())};
}

loadDeps().then(async ({tf}) => {
  let seed = 1;
  for (const [kind, spec] of Object.entries(models)) {
    const model = await tf.models.modelFromJSON({modelTopology: spec.config});
    const next = stream(seed++);
    const weights = [];
    for (const l of model.layers) {
      for (const w of l.weights) {
        const n = w.shape.reduce((p, d) => p * d, 1);
        const data = Array.from({length: n}, () => next(-1, 1));
        w.write(tf.tensor(data, w.shape, 'float32'));
        weights.push({layer: l.name, name: w.originalName, shape: w.shape, data});
      }
    }
    const xs = spec.inputs.map((s) => {
      const shape = [3, ...s];
      const n = shape.reduce((p, d) => p * d, 1);
      return tf.tensor(Array.from({length: n}, () => next(-2, 2)), shape, 'float32');
    });
    let ys = model.predict(xs.length === 1 ? xs[0] : xs);
    if (!Array.isArray(ys)) ys = [ys];
    const out = {
      generator: `TensorFlow.js ${tf.version.tfjs} (cpu backend), tests/data/layers/make-goldens.js`,
      kind, model_config: spec.config, weights, inputs: xs.map(toJson), outputs: ys.map(toJson),
    };
    fs.writeFileSync(path.join(here, `${kind}.json`), JSON.stringify(out) + '\n');
    console.log(`wrote ${kind}.json: ${weights.length} weights, outputs ${ys.map((y) => `[${y.shape}]`).join(' ')}`);
  }
}).catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
