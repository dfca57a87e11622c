'use strict';
// Regenerate the TensorFlow.js goldens of the preprocessing layers in this
// folder (TensorFlow.js 4.22 from the keras-ref install, CPU backend). Usage,
// from the repository:
//     node tests/data/preproc/make-goldens.js [path/to/shared/conformance]
// Writes:
//   rescale_crop.json  a Sequential model Rescaling (per-channel scale and
//                      offset) -> Permute (identity) -> CenterCrop ->
//                      Rescaling -> Flatten -> Dense,
//                      Keras 2 model_config written here, weights from a fixed
//                      stream, inputs and TensorFlow.js' predictions. The
//                      CenterCrop sizes are chosen where TensorFlow.js' crop
//                      (cropAndResize 'nearest' on normalized boxes) picks the
//                      same pixels as Keras' slice.
//   image_ops.json     tf.image ops where TensorFlow.js computes what
//                      TensorFlow does: resizeBilinear / resizeNearestNeighbor
//                      with halfPixelCenters (tf.image.resize's convention, not
//                      the Resizing layer's, which TensorFlow.js runs with
//                      alignCorners), and tf.image.transform
//                      (ImageProjectiveTransformV3) in the reflect, wrap and
//                      nearest fill modes on one image at a time (TensorFlow.js
//                      transforms only the first image of a batch, and its
//                      constant mode lacks TensorFlow's out-of-image test).
//                      TensorFlow.js maps coordinates in double precision,
//                      TensorFlow in float32: angles whose coordinates land on
//                      exact halves (a quarter turn of an odd-by-even image)
//                      round differently in nearest mode, so none is used.
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

const toJson = (t) => ({shape: t.shape, data: Array.from(t.dataSync())});
const base = (name) => ({name, trainable: true, dtype: 'float32'});
const layer = (class_name, name, extra) => ({class_name, config: {...base(name), ...(extra || {})}});

const model = {class_name: 'Sequential', config: {name: 'sequential', layers: [
  {class_name: 'InputLayer', config: {batch_input_shape: [null, 8, 10, 3], dtype: 'float32',
    sparse: false, ragged: false, name: 'input_1'}},
  layer('Rescaling', 'rescaling', {scale: [0.5, 0.25, 2.0], offset: [-1.0, 0.0, 0.5]}),
  // identity; TensorFlow.js' CenterCrop.computeOutputShape writes into the
  // shape array it is given, which without a layer that makes a new one
  // would be the model input's
  layer('Permute', 'permute', {dims: [1, 2, 3]}),
  layer('CenterCrop', 'center_crop', {height: 6, width: 6}),
  layer('Rescaling', 'rescaling_1', {scale: 0.0078125, offset: -0.25}),
  layer('Flatten', 'flatten', {data_format: 'channels_last'}),
  {class_name: 'Dense', config: {...base('dense'), units: 4, activation: 'tanh', use_bias: true,
    kernel_initializer: {class_name: 'GlorotUniform', config: {seed: null}},
    bias_initializer: {class_name: 'Zeros', config: {}}, kernel_regularizer: null,
    bias_regularizer: null, activity_regularizer: null, kernel_constraint: null,
    bias_constraint: null}},
]}};

// Keras' projective matrices (tf.keras 2.15 get_rotation_matrix,
// get_zoom_matrix, get_translation_matrix), computed in float32.
function rotation(angle, h, w) {
  const f = Math.fround, c = f(Math.cos(angle)), s = f(Math.sin(angle));
  return [c, -s, f(f((w - 1) - f(f(c * (w - 1)) - f(s * (h - 1)))) / 2), s, c,
    f(f((h - 1) - f(f(s * (w - 1)) + f(c * (h - 1)))) / 2), 0, 0];
}
function zoom(zx, zy, h, w) {
  const f = Math.fround;
  return [f(zx), 0, f(f((w - 1) / 2) * f(1 - zx)), 0, f(zy), f(f((h - 1) / 2) * f(1 - zy)), 0, 0];
}
function translation(dx, dy) { return [1, 0, Math.fround(-dx), 0, 1, Math.fround(-dy), 0, 0]; }

loadDeps().then(async ({tf}) => {
  const generator = `TensorFlow.js ${tf.version.tfjs} (cpu backend), tests/data/preproc/make-goldens.js`;
  // the model
  {
    const m = await tf.models.modelFromJSON({modelTopology: model});
    const next = stream(11);
    const weights = [];
    for (const l of m.layers) {
      for (const w of l.weights) {
        const n = w.shape.reduce((p, d) => p * d, 1);
        const data = Array.from({length: n}, () => next(-0.2, 0.2));
        w.write(tf.tensor(data, w.shape, 'float32'));
        weights.push({layer: l.name, name: w.originalName, shape: w.shape, data});
      }
    }
    const x = tf.tensor(Array.from({length: 2 * 8 * 10 * 3}, () => next(0, 255)), [2, 8, 10, 3]);
    const y = m.predict(x);
    fs.writeFileSync(path.join(here, 'rescale_crop.json'), JSON.stringify(
        {generator, kind: 'rescale_crop', model_config: model, weights, inputs: [toJson(x)],
          outputs: [toJson(y)]}) + '\n');
    console.log(`wrote rescale_crop.json: outputs [${y.shape}]`);
  }
  // the ops
  const next = stream(12);
  const image = (shape) => tf.tensor(Array.from({length: shape.reduce((p, d) => p * d, 1)},
      () => next(-1, 1)), shape);
  const cases = [];
  for (const [inShape, size] of [[[2, 3, 4, 2], [5, 7]], [[1, 6, 9, 3], [4, 4]], [[1, 7, 5, 1], [3, 11]],
    [[2, 4, 4, 2], [4, 4]], [[1, 5, 8, 2], [13, 3]]]) {
    const x = image(inShape);
    for (const method of ['bilinear', 'nearest']) {
      const y = method === 'bilinear' ? tf.image.resizeBilinear(x, size, false, true) :
        tf.image.resizeNearestNeighbor(x, size, false, true);
      cases.push({op: 'resize', method, size, input: toJson(x), output: toJson(y)});
    }
  }
  const h = 5, w = 6;
  // params: what Keras' layers draw to build each matrix (an angle in
  // radians; zooms per axis; shifts in pixels), for tests that go through
  // RandomRotation / RandomZoom / RandomTranslation with fixed factors
  const transforms = [
    [{kind: 'rotation', angle: 0.3}, rotation(0.3, h, w)],
    [{kind: 'rotation', angle: -2.1}, rotation(-2.1, h, w)],
    [{kind: 'rotation', angle: 1.2}, rotation(Math.fround(1.2), h, w)],
    [{kind: 'zoom', zx: 1.4, zy: 1.2}, zoom(1.4, 1.2, h, w)],
    [{kind: 'zoom', zx: 0.7, zy: 0.7}, zoom(0.7, 0.7, h, w)],
    [{kind: 'translation', dx: 1.6, dy: -2.3}, translation(1.6, -2.3)],
    [{kind: 'translation', dx: -5.3, dy: 4.25}, translation(-5.3, 4.25)],
  ];
  for (const [params, t] of transforms) {
    const x = image([1, h, w, 2]);
    for (const fill of ['reflect', 'wrap', 'nearest']) {
      for (const interpolation of ['nearest', 'bilinear']) {
        const y = tf.image.transform(x, tf.tensor2d([t], [1, 8]), interpolation, fill, 0);
        cases.push({op: 'transform', params, transform: t, fill_mode: fill, interpolation,
          input: toJson(x), output: toJson(y)});
      }
    }
  }
  fs.writeFileSync(path.join(here, 'image_ops.json'), JSON.stringify({generator, cases}) + '\n');
  console.log(`wrote image_ops.json: ${cases.length} cases`);
}).catch((e) => {
  console.error(e.stack || String(e));
  process.exit(1);
});
