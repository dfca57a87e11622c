'use strict';
// Regenerate the recurrent-layer goldens in this folder with TensorFlow.js 4.22
// (the keras-ref install of ../shared/conformance). Usage, from the repository:
//     node tests/data/rnn/make-goldens.js [path/to/shared/conformance]
// For each model below: build it from its Keras 2 model_config with
// tf.models.modelFromJSON, give every weight deterministic values
// (mulberry32, seed 7, uniform in [-s, s], s = 0.8 unless the model says),
// predict on seeded inputs (mulberry32 seed 11; kinds below), and compute the
// loss sum over outputs of mean((y - t)^2) with
// t = sin(3 y0 + 1) (y0 = the inference prediction) and its gradient w.r.t.
// every trainable weight. Writes <name>.json with model_config, weights
// (model.weights order, Keras' file order), inputs, outputs, targets, loss and
// grads. Stateful models instead record the outputs of successive predict
// calls ("calls": [{inputs, outputs}, ...]) without gradients.
//
// Input kinds: float (uniform [-1, 1]); masked (float, with whole timesteps set
// to 0: in sample b, b % 3 == 1, the last ceil(T/3) steps, b % 3 == 2 the
// first and the middle one); index N (int32 ids in [1, N), then the same
// pattern of zeros, for Embedding(mask_zero)).
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

const init = (cls, config = {}) => ({class_name: cls, config});
const common = () => ({
  use_bias: true, kernel_initializer: init('GlorotUniform', {seed: null}), recurrent_initializer: init('Orthogonal', {gain: 1, seed: null}),
  bias_initializer: init('Zeros'), kernel_regularizer: null, recurrent_regularizer: null, bias_regularizer: null,
  kernel_constraint: null, recurrent_constraint: null, bias_constraint: null, dropout: 0, recurrent_dropout: 0,
});
const rnnKeys = (o) => Object.assign({return_sequences: false, return_state: false, go_backwards: false, stateful: false, unroll: false}, o);
const cellCfg = (kind, units, o = {}) => {
  const c = Object.assign({units, activation: 'tanh'}, common());
  if (kind !== 'SimpleRNN') Object.assign(c, {recurrent_activation: 'sigmoid', implementation: 2});
  if (kind === 'LSTM') c.unit_forget_bias = true;
  if (kind === 'GRU') c.reset_after = false;
  return Object.assign(c, o);
};
// flat layers: SimpleRNN / LSTM / GRU
const rnn = (kind, name, units, o = {}) => {
  const {activation, recurrent_activation, reset_after, ...rest} = o;
  const cell = {};
  if (activation) cell.activation = activation;
  if (recurrent_activation) cell.recurrent_activation = recurrent_activation;
  if (reset_after !== undefined) cell.reset_after = reset_after;
  return {class_name: kind, config: Object.assign({name, trainable: true, dtype: 'float32'}, rnnKeys(rest), cellCfg(kind, units, cell), {activity_regularizer: null})};
};
// RNN with a cell config
const rnnCell = (cellKind, name, cellName, units, o = {}, c = {}) => ({class_name: 'RNN', config: Object.assign({name, trainable: true, dtype: 'float32'}, rnnKeys(o),
  {cell: {class_name: cellKind + 'Cell', config: Object.assign({name: cellName, trainable: true, dtype: 'float32'}, cellCfg(cellKind, units, c))}})});
const dense = (name, units, act) => ({class_name: 'Dense', config: {name, trainable: true, dtype: 'float32', units, activation: act, use_bias: true,
  kernel_initializer: init('GlorotUniform', {seed: null}), bias_initializer: init('Zeros'), kernel_regularizer: null, bias_regularizer: null,
  activity_regularizer: null, kernel_constraint: null, bias_constraint: null}});
const bidir = (name, layer, merge) => ({class_name: 'Bidirectional', config: {name, trainable: true, dtype: 'float32', layer, merge_mode: merge}});
const td = (name, layer) => ({class_name: 'TimeDistributed', config: {name, trainable: true, dtype: 'float32', layer}});
const masking = () => ({class_name: 'Masking', config: {name: 'masking', trainable: true, dtype: 'float32', mask_value: 0}});
const embedding = (input_dim, output_dim) => ({class_name: 'Embedding', config: {name: 'embedding', trainable: true, dtype: 'float32', input_dim, output_dim,
  embeddings_initializer: init('RandomUniform', {minval: -0.05, maxval: 0.05, seed: null}), embeddings_regularizer: null,
  activity_regularizer: null, embeddings_constraint: null, mask_zero: true, input_length: null}});
const withShape = (layer, shape) => { layer.config.batch_input_shape = shape; return layer; };
const seq = (name, layers) => ({class_name: 'Sequential', config: {name, layers}});
// Functional: nodes are [layer, [inbound names]] (an inbound "name:k" is output k)
const input = (name, shape) => ({name, class_name: 'InputLayer', config: {batch_input_shape: shape, dtype: 'float32', sparse: false, ragged: false, name}, inbound_nodes: []});
const ref = (s) => { const [n, k] = s.split(':'); return [n, 0, k ? Number(k) : 0, {}]; };
const node = (layer, inbound) => Object.assign({name: layer.config.name, inbound_nodes: [inbound.map(ref)]}, layer);
const functional = (name, layers, inputs, outputs) => ({class_name: 'Functional', config: {name, layers, input_layers: inputs.map((s) => [s, 0, 0]), output_layers: outputs.map(ref).map(([n, a, b]) => [n, a, b])}});

const MODELS = {
  // LSTM with initial states as inputs, return_sequences + return_state; a go_backwards LSTM beside it
  lstm_states: {
    config: functional('lstm_states', [
      input('x', [null, 5, 3]), input('h0', [null, 4]), input('c0', [null, 4]),
      node(rnn('LSTM', 'lstm', 4, {return_sequences: true, return_state: true}), ['x', 'h0', 'c0']),
      node(rnn('LSTM', 'lstm_back', 2, {go_backwards: true, activation: 'softsign', recurrent_activation: 'hard_sigmoid'}), ['x']),
    ], ['x', 'h0', 'c0'], ['lstm', 'lstm:1', 'lstm:2', 'lstm_back']),
    inputs: [[4, 5, 3], [4, 4], [4, 4]],
  },
  // SimpleRNN and GRU variants, activations, go_backwards with return_sequences
  simple_gru: {
    config: seq('simple_gru', [
      withShape(rnn('SimpleRNN', 'simple_rnn', 5, {return_sequences: true, activation: 'relu'}), [null, 6, 3]),
      rnn('GRU', 'gru', 4, {return_sequences: true, go_backwards: true, activation: 'elu', recurrent_activation: 'hard_sigmoid'}),
      rnn('SimpleRNN', 'simple_rnn_1', 3, {go_backwards: true}),
      dense('dense', 2, 'linear')]),
    inputs: [[3, 6, 3]],
  },
  // Masking -> GRU (sequences) -> LSTM: masked steps carry states and outputs
  masking_gru_lstm: {
    config: seq('masking_gru_lstm', [
      withShape(masking(), [null, 7, 3]),
      rnn('GRU', 'gru', 4, {return_sequences: true, activation: 'tanh', recurrent_activation: 'sigmoid'}),
      rnn('LSTM', 'lstm', 3, {go_backwards: true, return_sequences: true}),
      rnn('SimpleRNN', 'simple_rnn', 2)]),
    inputs: [['masked', 6, 7, 3]],
  },
  // Embedding(mask_zero) -> LSTM (sequences) -> TimeDistributed(Dense) -> GRU
  embedding_mask: {
    config: seq('embedding_mask', [
      withShape(embedding(10, 4), [null, 6]),
      rnn('LSTM', 'lstm', 5, {return_sequences: true}),
      td('time_distributed', dense('dense', 3, 'tanh')),
      rnn('GRU', 'gru', 3, {go_backwards: true})]),
    inputs: [['index', 10, 6, 6]],
  },
  // Bidirectional in every merge mode
  bidirectional: {
    config: functional('bidirectional', [
      input('x', [null, 5, 3]),
      node(bidir('bidirectional', rnn('LSTM', 'lstm', 3, {return_sequences: true}), 'concat'), ['x']),
      node(bidir('bidirectional_1', rnn('GRU', 'gru', 2), 'sum'), ['x']),
      node(bidir('bidirectional_2', rnn('SimpleRNN', 'simple_rnn', 2, {return_sequences: true}), 'mul'), ['x']),
      node(bidir('bidirectional_3', rnn('LSTM', 'lstm_1', 2, {recurrent_activation: 'hard_sigmoid'}), 'ave'), ['x']),
      node(bidir('bidirectional_4', rnn('GRU', 'gru_1', 2, {return_sequences: true}), null), ['x']),
      node(bidir('bidirectional_5', rnn('LSTM', 'lstm_2', 2), 'concat'), ['bidirectional']),
    ], ['x'], ['bidirectional', 'bidirectional_1', 'bidirectional_2', 'bidirectional_3', 'bidirectional_4', 'bidirectional_4:1', 'bidirectional_5']),
    inputs: [[3, 5, 3]],
  },
  // Bidirectional with initial states and return_state; masked input into a Bidirectional returning its last output
  bidirectional_states: {
    config: functional('bidirectional_states', [
      input('x', [null, 4, 3]), input('hf', [null, 3]), input('cf', [null, 3]), input('hb', [null, 3]), input('cb', [null, 3]),
      input('m', [null, 6, 2]),
      node(bidir('bidirectional', rnn('LSTM', 'lstm', 3, {return_state: true}), 'concat'), ['x', 'hf', 'cf', 'hb', 'cb']),
      node(masking(), ['m']),
      node(bidir('bidirectional_1', rnn('GRU', 'gru', 3), 'concat'), ['masking']),
    ], ['x', 'hf', 'cf', 'hb', 'cb', 'm'], ['bidirectional', 'bidirectional:1', 'bidirectional:2', 'bidirectional:3', 'bidirectional:4', 'bidirectional_1']),
    inputs: [[3, 4, 3], [3, 3], [3, 3], [3, 3], [3, 3], ['masked', 3, 6, 2]],
  },
  // the generic RNN layer with each cell
  rnn_cells: {
    config: functional('rnn_cells', [
      input('x', [null, 5, 3]),
      node(rnnCell('LSTM', 'rnn', 'lstm_cell', 4, {return_sequences: true}, {recurrent_activation: 'hard_sigmoid'}), ['x']),
      node(rnnCell('GRU', 'rnn_1', 'gru_cell', 3, {go_backwards: true}), ['rnn']),
      node(rnnCell('SimpleRNN', 'rnn_2', 'simple_rnn_cell', 2, {return_sequences: true, return_state: true}, {activation: 'selu'}), ['x']),
    ], ['x'], ['rnn_1', 'rnn_2', 'rnn_2:1']),
    inputs: [[3, 5, 3]],
  },
  // TimeDistributed(Dense) on a sequence, then SimpleRNN
  time_distributed: {
    config: seq('time_distributed', [
      withShape(td('time_distributed', dense('dense', 4, 'relu')), [null, 5, 3]),
      rnn('SimpleRNN', 'simple_rnn', 3, {return_sequences: true, activation: 'softplus'}),
      td('time_distributed_1', dense('dense_1', 2, 'linear'))]),
    inputs: [[3, 5, 3]],
    scale: 0.5,
  },
  // stateful GRU and LSTM: state carried from one predict call to the next
  stateful: {
    config: seq('stateful', [
      withShape(rnn('GRU', 'gru', 3, {stateful: true, return_sequences: true}), [2, 4, 3]),
      rnn('LSTM', 'lstm', 2, {stateful: true})]),
    inputs: [[2, 4, 3]],
    calls: 3,
  },
};

function makeInput(spec, irnd) {
  const kind = typeof spec[0] === 'string' ? spec[0] : 'float';
  let dims = spec.filter((v) => typeof v === 'number');
  let vocab = 0;
  if (kind === 'index') [vocab, ...dims] = dims;
  const n = dims.reduce((a, c) => a * c, 1);
  let data;
  if (kind === 'index') data = Array.from({length: n}, () => 1 + Math.floor(irnd() * (vocab - 1)));
  else data = Array.from({length: n}, () => Math.fround(irnd() * 2 - 1));
  if (kind === 'index' || kind === 'masked') {
    const [B, T] = dims, F = kind === 'index' ? 1 : dims[2];
    for (let b = 0; b < B; b++) {
      const steps = b % 3 === 1 ? Array.from({length: Math.ceil(T / 3)}, (_, i) => T - 1 - i) : b % 3 === 2 ? [0, Math.floor(T / 2)] : [];
      for (const t of steps) for (let f = 0; f < F; f++) data[(b * T + t) * F + f] = 0;
    }
  }
  return {shape: dims, data, dtype: kind === 'index' ? 'int32' : 'float32'};
}

async function main() {
  const {tf} = await loadDeps();
  const only = process.argv[3];
  for (const [name, spec] of Object.entries(MODELS)) {
    if (only && only !== name) continue;
    const model = await tf.models.modelFromJSON(spec.config);
    const rnd = mulberry32(7), s = spec.scale || 0.8;
    const weights = model.weights.map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const data = Array.from({length: n}, () => Math.fround((rnd() * 2 - 1) * s));
      w.write(tf.tensor(data, w.shape));
      return {name: w.originalName || w.name, shape: w.shape, data};
    });
    const irnd = mulberry32(11);
    const out = {generator: 'TensorFlow.js 4.22.0 (cpu backend) via tests/data/rnn/make-goldens.js', model_config: spec.config, weights};
    const toTensors = (ins) => ins.map((t) => tf.tensor(t.data, t.shape, t.dtype));
    const run = (xs) => {
      const y = model.predict(xs.length === 1 ? xs[0] : xs);
      return (Array.isArray(y) ? y : [y]).map((t) => ({shape: t.shape, data: Array.from(t.dataSync())}));
    };
    if (spec.calls) {
      out.calls = [];
      for (let c = 0; c < spec.calls; c++) {
        const inputs = spec.inputs.map((sp) => makeInput(sp, irnd));
        out.calls.push({inputs, outputs: run(toTensors(inputs))});
      }
    } else {
      const inputs = spec.inputs.map((sp) => makeInput(sp, irnd));
      const xs = toTensors(inputs);
      const outputs = run(xs);
      const targets = outputs.map((o) => ({shape: o.shape, data: o.data.map((v) => Math.fround(Math.sin(3 * v + 1)))}));
      const tts = targets.map((t) => tf.tensor(t.data, t.shape));
      // model.execute rather than model.apply: TensorFlow.js' apply of a
      // functional model fails on RNN nodes that take initial states. No
      // model here has dropout, so training and inference agree.
      const f = () => {
        let y = model.execute(xs.length === 1 ? xs[0] : xs, model.outputs.map((o) => o.name));
        if (!Array.isArray(y)) y = [y];
        return tf.addN(y.map((t, i) => tf.mean(tf.square(tf.sub(t, tts[i])))));
      };
      const trainable = model.trainableWeights;
      const {value, grads} = tf.variableGrads(f, trainable.map((w) => w.val));
      Object.assign(out, {inputs, outputs, targets, loss: value.dataSync()[0],
        grads: trainable.map((w) => ({name: w.originalName || w.name, shape: w.shape, data: Array.from(grads[w.val.name].dataSync())}))});
    }
    fs.writeFileSync(path.join(__dirname, name + '.json'), JSON.stringify(out));
    console.log('wrote', name + '.json');
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
