'use strict';
// Regenerate the convolution goldens in this folder with TensorFlow.js 4.22
// (the keras-ref install of ../shared/conformance). Usage, from the repository:
//     node tests/data/conv/make-goldens.js [path/to/shared/conformance]
// Same procedure as tests/data/models/make-goldens.js: each model below is
// built from its Keras 2 model_config with tf.models.modelFromJSON, every
// weight gets deterministic values (mulberry32, seed 7), the model predicts
// on seeded inputs (uniform in [-1, 1], mulberry32 seed 11), and the loss
// mean((y - t)^2) with t = sin(3 y0 + 1) is differentiated w.r.t. every
// trainable weight. Writes <name>.json with model_config, weights (Keras'
// order), inputs, outputs, targets, loss and grads.
//
// Models marked nograd have no gradients: TensorFlow.js has none for
// dilated convolutions nor for Conv3DTranspose, and its UpSampling2D
// gradient (resizeNearestNeighbor's) is wrong for batches or channels > 1
// (the C tests check those against finite differences). Average pooling
// with padding 'same' appears only in such models: TensorFlow.js's gradient
// for it divides by the whole window instead of the values inside the
// input, which disagrees with its own finite differences (its forward pass
// is right). TensorFlow.js ignores dilation_rate in DepthwiseConv2D and
// keepdims in global pooling, and has no causal padding, so the models
// here do not use them.
//
// Layers TensorFlow.js lacks (Conv1DTranspose, SeparableConv1D,
// DepthwiseConv1D, Cropping1D/3D, ZeroPadding1D/3D, UpSampling1D/3D,
// SpatialDropout2D/3D, 3-D global pooling) and behaviours where it is not
// Keras (grouped convolutions, bilinear UpSampling2D) are checked by hand in
// tests/test_layers_conv.c instead.
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

const L = (class_name, name, config) => ({class_name, config: Object.assign({name, trainable: true, dtype: 'float32'}, config)});
const seq = (name, layers) => ({class_name: 'Sequential', config: {name, layers}});
const cl = 'channels_last', cf = 'channels_first';

const MODELS = {
  // Conv2D: both paddings, strides, dilation; max and average pooling with
  // both paddings; global average pooling
  conv2d: {config: seq('conv2d', [
    L('Conv2D', 'c1', {batch_input_shape: [null, 7, 6, 3], filters: 4, kernel_size: [3, 3], strides: [1, 1], padding: 'same', data_format: cl, dilation_rate: [1, 1], activation: 'relu', use_bias: true}),
    L('Conv2D', 'c2', {filters: 5, kernel_size: [2, 3], strides: [2, 1], padding: 'valid', data_format: cl, dilation_rate: [1, 1], activation: 'tanh', use_bias: true}),
    L('Conv2D', 'c3', {filters: 3, kernel_size: [2, 2], strides: [1, 1], padding: 'same', data_format: cl, dilation_rate: [2, 2], activation: 'linear', use_bias: false}),
    L('MaxPooling2D', 'p1', {pool_size: [2, 2], strides: [1, 1], padding: 'same', data_format: cl}),
    L('AveragePooling2D', 'p2', {pool_size: [2, 3], strides: [1, 2], padding: 'same', data_format: cl}),
    L('Conv2D', 'c4', {filters: 2, kernel_size: [1, 1], strides: [1, 1], padding: 'valid', data_format: cl, dilation_rate: [1, 1], activation: 'linear', use_bias: true}),
    L('GlobalAveragePooling2D', 'g', {data_format: cl, keepdims: false})]), inputs: [[3, 7, 6, 3]], nograd: true},
  // the same kinds of layers, channels first
  conv2d_cf: {config: seq('conv2d_cf', [
    L('Conv2D', 'c1', {batch_input_shape: [null, 3, 7, 6], filters: 4, kernel_size: [3, 2], strides: [1, 1], padding: 'same', data_format: cf, dilation_rate: [1, 1], activation: 'relu', use_bias: true}),
    L('MaxPooling2D', 'p1', {pool_size: [2, 2], strides: [2, 2], padding: 'valid', data_format: cf}),
    L('Conv2D', 'c2', {filters: 3, kernel_size: [2, 2], strides: [1, 1], padding: 'valid', data_format: cf, dilation_rate: [1, 1], activation: 'sigmoid', use_bias: true}),
    L('AveragePooling2D', 'p2', {pool_size: [2, 1], strides: [1, 1], padding: 'valid', data_format: cf}),
    L('GlobalMaxPooling2D', 'g', {data_format: cf, keepdims: false})]), inputs: [[2, 3, 7, 6]]},
  // Conv1D: valid with dilation, same with strides; 1-D pooling (TensorFlow.js
  // has no causal padding: tested by hand)
  conv1d: {config: seq('conv1d', [
    L('Conv1D', 'c1', {batch_input_shape: [null, 11, 3], filters: 4, kernel_size: [3], strides: [1], padding: 'valid', data_format: cl, dilation_rate: [2], activation: 'relu', use_bias: true}),
    L('Conv1D', 'c2', {filters: 5, kernel_size: [2], strides: [2], padding: 'same', data_format: cl, dilation_rate: [1], activation: 'linear', use_bias: true}),
    L('MaxPooling1D', 'p1', {pool_size: [2], strides: [1], padding: 'valid'}),
    L('AveragePooling1D', 'p2', {pool_size: [3], strides: [2], padding: 'same'}),
    L('Conv1D', 'c3', {filters: 2, kernel_size: [2], strides: [1], padding: 'valid', data_format: cl, dilation_rate: [1], activation: 'tanh', use_bias: true}),
    L('GlobalAveragePooling1D', 'g', {data_format: cl})]), inputs: [[3, 11, 3]], nograd: true},
  conv1d_gmax: {config: seq('conv1d_gmax', [
    L('Conv1D', 'c1', {batch_input_shape: [null, 8, 2], filters: 3, kernel_size: [3], strides: [1], padding: 'valid', data_format: cl, dilation_rate: [1], activation: 'linear', use_bias: true}),
    L('SpatialDropout1D', 'sd', {rate: 0.0}),
    L('GlobalMaxPooling1D', 'g', {data_format: cl})]), inputs: [[2, 8, 2]]},
  // Conv3D and 3-D pooling
  conv3d: {config: seq('conv3d', [
    L('Conv3D', 'c1', {batch_input_shape: [null, 4, 5, 4, 2], filters: 3, kernel_size: [2, 3, 2], strides: [1, 1, 1], padding: 'same', data_format: cl, dilation_rate: [1, 1, 1], activation: 'relu', use_bias: true}),
    L('MaxPooling3D', 'p1', {pool_size: [2, 2, 2], strides: [2, 2, 2], padding: 'same', data_format: cl}),
    L('Conv3D', 'c2', {filters: 2, kernel_size: [1, 2, 1], strides: [1, 1, 1], padding: 'valid', data_format: cl, dilation_rate: [1, 1, 1], activation: 'linear', use_bias: true}),
    L('AveragePooling3D', 'p2', {pool_size: [1, 2, 2], strides: [1, 1, 1], padding: 'valid', data_format: cl})]), inputs: [[2, 4, 5, 4, 2]]},
  conv3d_cf: {config: seq('conv3d_cf', [
    L('Conv3D', 'c1', {batch_input_shape: [null, 2, 3, 4, 5], filters: 2, kernel_size: [2, 2, 3], strides: [1, 2, 1], padding: 'valid', data_format: cf, dilation_rate: [1, 1, 1], activation: 'tanh', use_bias: true}),
    L('MaxPooling3D', 'p1', {pool_size: [1, 2, 2], strides: [1, 1, 1], padding: 'valid', data_format: cf})]), inputs: [[2, 2, 3, 4, 5]]},
  // transposed convolutions
  transpose: {config: seq('transpose', [
    L('Conv2DTranspose', 't1', {batch_input_shape: [null, 3, 4, 2], filters: 3, kernel_size: [3, 3], strides: [2, 2], padding: 'same', data_format: cl, dilation_rate: [1, 1], activation: 'relu', use_bias: true}),
    L('Conv2DTranspose', 't2', {filters: 2, kernel_size: [2, 3], strides: [1, 2], padding: 'valid', data_format: cl, dilation_rate: [1, 1], activation: 'linear', use_bias: true}),
    L('Conv2DTranspose', 't3', {filters: 2, kernel_size: [3, 2], strides: [1, 1], padding: 'same', data_format: cl, dilation_rate: [1, 1], activation: 'linear', use_bias: false})]), inputs: [[2, 3, 4, 2]]},
  transpose_cf: {config: seq('transpose_cf', [
    L('Conv2DTranspose', 't1', {batch_input_shape: [null, 2, 3, 3], filters: 3, kernel_size: [2, 2], strides: [2, 1], padding: 'valid', data_format: cf, dilation_rate: [1, 1], activation: 'tanh', use_bias: true})]), inputs: [[2, 2, 3, 3]]},
  transpose3d: {config: seq('transpose3d', [
    L('Conv3DTranspose', 't1', {batch_input_shape: [null, 2, 3, 2, 2], filters: 2, kernel_size: [2, 2, 3], strides: [2, 1, 2], padding: 'same', data_format: cl, dilation_rate: [1, 1, 1], activation: 'linear', use_bias: true})]), inputs: [[2, 2, 3, 2, 2]], nograd: true},
  // depthwise and separable
  depthwise: {config: seq('depthwise', [
    L('DepthwiseConv2D', 'd1', {batch_input_shape: [null, 6, 5, 3], kernel_size: [3, 3], strides: [1, 1], padding: 'same', data_format: cl, dilation_rate: [1, 1], depth_multiplier: 2, activation: 'relu', use_bias: true}),
    L('DepthwiseConv2D', 'd2', {kernel_size: [2, 3], strides: [2, 2], padding: 'valid', data_format: cl, dilation_rate: [1, 1], depth_multiplier: 1, activation: 'linear', use_bias: true}),
    L('SeparableConv2D', 's1', {filters: 4, kernel_size: [2, 2], strides: [1, 1], padding: 'same', data_format: cl, dilation_rate: [1, 1], depth_multiplier: 2, activation: 'tanh', use_bias: true})]), inputs: [[2, 6, 5, 3]]},
  depthwise_cf: {config: seq('depthwise_cf', [
    L('DepthwiseConv2D', 'd1', {batch_input_shape: [null, 2, 5, 4], kernel_size: [2, 2], strides: [1, 1], padding: 'valid', data_format: cf, dilation_rate: [1, 1], depth_multiplier: 3, activation: 'linear', use_bias: true}),
    L('SeparableConv2D', 's1', {filters: 2, kernel_size: [2, 1], strides: [1, 1], padding: 'valid', data_format: cf, dilation_rate: [1, 1], depth_multiplier: 1, activation: 'linear', use_bias: false})]), inputs: [[2, 2, 5, 4]]},
  // padding, cropping, nearest upsampling (with a convolution, so that the
  // gradients pass through them)
  reshaping: {config: seq('reshaping', [
    L('ZeroPadding2D', 'z', {batch_input_shape: [null, 4, 3, 2], padding: [[1, 2], [0, 1]], data_format: cl}),
    L('Conv2D', 'c1', {filters: 3, kernel_size: [2, 2], strides: [1, 1], padding: 'valid', data_format: cl, dilation_rate: [1, 1], activation: 'linear', use_bias: true}),
    L('Cropping2D', 'cr', {cropping: [[1, 0], [0, 1]], data_format: cl}),
    L('UpSampling2D', 'u', {size: [2, 3], data_format: cl, interpolation: 'nearest'}),
    L('Conv2D', 'c2', {filters: 2, kernel_size: [3, 3], strides: [2, 2], padding: 'valid', data_format: cl, dilation_rate: [1, 1], activation: 'linear', use_bias: true})]), inputs: [[2, 4, 3, 2]], nograd: true},
  reshaping_cf: {config: seq('reshaping_cf', [
    L('ZeroPadding2D', 'z', {batch_input_shape: [null, 2, 3, 4], padding: [1, 2], data_format: cf}),
    L('Conv2D', 'c1', {filters: 2, kernel_size: [2, 2], strides: [1, 1], padding: 'valid', data_format: cf, dilation_rate: [1, 1], activation: 'linear', use_bias: true}),
    L('Cropping2D', 'cr', {cropping: [[0, 1], [2, 1]], data_format: cf}),
    L('UpSampling2D', 'u', {size: [3, 2], data_format: cf, interpolation: 'nearest'})]), inputs: [[2, 2, 3, 4]], nograd: true},
};

async function main() {
  const {tf} = await loadDeps();
  for (const [name, spec] of Object.entries(MODELS)) {
    const model = await tf.models.modelFromJSON(spec.config);
    const rnd = mulberry32(7);
    const weights = model.weights.map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const data = Array.from({length: n}, () => Math.fround(rnd() * 2 - 1));
      w.write(tf.tensor(data, w.shape));
      return {name: w.originalName || w.name, shape: w.shape, data};
    });
    const irnd = mulberry32(11);
    const inputs = spec.inputs.map((dims) => {
      const n = dims.reduce((a, c) => a * c, 1);
      return {shape: dims, data: Array.from({length: n}, () => Math.fround(irnd() * 2 - 1))};
    });
    const xs = inputs.map((t) => tf.tensor(t.data, t.shape));
    const y0 = model.predict(xs.length === 1 ? xs[0] : xs);
    const ys = Array.isArray(y0) ? y0 : [y0];
    const outputs = ys.map((y) => ({shape: y.shape, data: Array.from(y.dataSync())}));
    const extra = {};
    if (!spec.nograd) Object.assign(extra, gradients(tf, model, xs, outputs));
    fs.writeFileSync(path.join(__dirname, name + '.json'), JSON.stringify(Object.assign({
      generator: 'TensorFlow.js 4.22.0 (cpu backend) via tests/data/conv/make-goldens.js',
      model_config: spec.config, weights, inputs, outputs}, extra)));
    console.log('wrote', name + '.json', outputs.map((o) => JSON.stringify(o.shape)).join(' '));
  }
}

function gradients(tf, model, xs, outputs) {
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
    return {targets, loss: value.dataSync()[0], grads: g};
}
main().catch((e) => { console.error(e); process.exit(1); });
