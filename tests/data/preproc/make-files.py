#!/usr/bin/python3
"""A model with preprocessing layers as tf.keras 2.15 and Keras 3 save it, and numpy's outputs.

Usage, from the repository:  /usr/bin/python3 tests/data/preproc/make-files.py
Writes tests/data/preproc/preproc_k2.15.h5, preproc_k3.keras (the same model and
weights) and preproc.io.json (inputs and expected outputs for both).

The file is laid out as tf.keras 2.15 + h5py 3 save a model without optimizer
(keras.saving.legacy.hdf5_format.save_model_to_hdf5, the layout
../shared/conformance/tools/keras_h5.py save_like_keras writes): a Sequential
model_config in tf.keras 2.15's form and, per layer, its weights in Keras'
order. The adapted Normalization stores what tf.keras stores: mean and
variance (float32, shape of the kept axis) and count (an int64 scalar), all
non-trainable. The other layers carry their tf.keras 2.15 config keys. The
expected outputs are an inference pass in numpy float64 (Normalization,
Rescaling, Resizing bilinear with half-pixel centers, the identity of the
augmentation layers, CenterCrop, Normalization with config statistics and
invert, Flatten, Dense), rounded to float32.

The .keras archive is laid out as Keras 3.7 saves one (keras/src/saving/
saving_lib.py): config.json with Keras 3's forms (module / registered_name,
DTypePolicy dtypes, batch_shape, build_config per layer, tuples as lists:
RandomRotation's and RandomContrast's factors as Keras 3 normalizes them, the
others as given; data_format on every image layer; Resizing's and
RandomContrast's Keras 3 keys), metadata.json, and model.weights.h5 where
each layer's variables are layers/<snake_case class name>[_k]/vars/0.. in
creation order (Normalization: mean, variance, then count as an int64 scalar).
Needs h5py and numpy."""
import io
import json
import os
import zipfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(21)


def base(name):
    return {"name": name, "trainable": True, "dtype": "float32"}


def layer(cls, name, **cfg):
    return {"class_name": cls, "config": {**base(name), **cfg}}


CONFIG = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
    {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 6, 8, 3], "dtype": "float32",
                                            "sparse": False, "ragged": False, "name": "input_1"}},
    layer("Normalization", "normalization", axis=[-1], invert=False, mean=None, variance=None),
    layer("Rescaling", "rescaling", scale=0.5, offset=0.25),
    layer("Resizing", "resizing", height=4, width=6, interpolation="bilinear", crop_to_aspect_ratio=False),
    layer("RandomFlip", "random_flip", mode="horizontal", seed=7),
    layer("RandomRotation", "random_rotation", factor=0.1, fill_mode="reflect", fill_value=0.0,
          interpolation="bilinear", seed=None),
    layer("RandomZoom", "random_zoom", height_factor=[-0.2, 0.1], width_factor=None, fill_mode="reflect",
          fill_value=0.0, interpolation="bilinear", seed=None),
    layer("RandomTranslation", "random_translation", height_factor=0.1, width_factor=0.2,
          fill_mode="constant", fill_value=0.0, interpolation="nearest", seed=3),
    layer("RandomContrast", "random_contrast", factor=0.2, seed=None),
    layer("RandomBrightness", "random_brightness", factor=[-0.1, 0.1], value_range=[0, 255], seed=None),
    layer("CenterCrop", "center_crop", height=3, width=4),
    layer("Normalization", "normalization_1", axis=[-1], invert=True, mean=[0.5, -1.0, 2.0],
          variance=[4.0, 0.25, 1e-20]),
    layer("Flatten", "flatten", data_format="channels_last"),
    layer("Dense", "dense", units=2, activation="linear", use_bias=True,
          kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
          bias_initializer={"class_name": "Zeros", "config": {}}, kernel_regularizer=None,
          bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
          bias_constraint=None),
]}}

MEAN = rng.uniform(-1, 1, 3).astype(np.float32)
VAR = rng.uniform(0.5, 2, 3).astype(np.float32)
KERNEL = rng.uniform(-0.3, 0.3, (3 * 4 * 3, 2)).astype(np.float32)
BIAS = rng.uniform(-0.1, 0.1, 2).astype(np.float32)
WEIGHTS = [
    ("normalization", [("normalization/mean:0", MEAN), ("normalization/variance:0", VAR),
                       ("normalization/count:0", np.array(1234, np.int64))]),
    ("dense", [("dense/kernel:0", KERNEL), ("dense/bias:0", BIAS)]),
]
ALL_LAYERS = [l["config"]["name"] for l in CONFIG["config"]["layers"][1:]]


def bilinear_matrix(n_in, n_out):
    a = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for o in range(n_out):
        src = (o + 0.5) * scale - 0.5
        lo = int(np.floor(src))
        frac = src - lo
        a[o, min(max(lo, 0), n_in - 1)] += 1 - frac
        a[o, min(max(lo + 1, 0), n_in - 1)] += frac
    return a


def forward(x):
    x = x.astype(np.float64)
    x = (x - MEAN) / np.maximum(np.sqrt(VAR.astype(np.float64)), 1e-7)
    x = x * 0.5 + 0.25
    x = np.einsum("oh,bhwc,pw->bopc", bilinear_matrix(6, 4), x, bilinear_matrix(8, 6))
    x = x[:, 0:3, 1:5, :]  # CenterCrop(3, 4) of 4 x 6: offsets 1 // 2 = 0 and 2 // 2 = 1
    m2 = np.array([0.5, -1.0, 2.0])
    d2 = np.maximum(np.sqrt(np.array([4.0, 0.25, 1e-20])), 1e-7)
    x = m2 + x * d2
    return x.reshape(x.shape[0], -1) @ KERNEL.astype(np.float64) + BIAS


def keras3_config():
    """CONFIG in Keras 3's form, with the values Keras 3 would hold."""
    policy = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
              "registered_name": None}
    keras3_keys = {
        "Resizing": {"pad_to_aspect_ratio": False, "fill_mode": "constant", "fill_value": 0.0,
                     "antialias": False},
        "RandomRotation": {"factor": [-0.1, 0.1]},
        "RandomContrast": {"factor": [0.0, 0.2], "value_range": [0, 255]},
    }
    image_layers = {"Resizing", "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation",
                    "RandomContrast", "RandomBrightness", "CenterCrop"}
    shape = [None, 6, 8, 3]
    layers = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
               "config": {"batch_shape": shape, "dtype": "float32", "sparse": False, "name": "input_layer"}}]
    for spec in CONFIG["config"]["layers"][1:]:
        cls, cfg = spec["class_name"], dict(spec["config"])
        cfg["dtype"] = policy
        cfg.update(keras3_keys.get(cls, {}))
        if cls in image_layers:
            cfg["data_format"] = "channels_last"
        layers.append({"module": "keras.layers", "class_name": cls, "config": cfg, "registered_name": None,
                       "build_config": {"input_shape": list(shape)}})
        if cls == "Resizing":
            shape = [None, 4, 6, 3]
        elif cls == "CenterCrop":
            shape = [None, 3, 4, 3]
        elif cls == "Flatten":
            shape = [None, 36]
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "sequential", "trainable": True, "dtype": policy, "layers": layers},
            "build_config": {"input_shape": [None, 6, 8, 3]}}


def write_keras3(path):
    """saving_lib.save_model's archive: config.json, metadata.json, model.weights.h5."""
    weights = io.BytesIO()
    groups = {}
    with h5py.File(weights, "w") as f:
        f.create_group("vars")
        stored = dict(WEIGHTS)
        for spec in CONFIG["config"]["layers"][1:]:
            cls, name = spec["class_name"], spec["config"]["name"]
            base = "".join("_" + c.lower() if c.isupper() else c for c in cls).lstrip("_")
            k = groups.get(base, 0)
            groups[base] = k + 1
            g = f.create_group(f"layers/{base}" + (f"_{k}" if k else "") + "/vars")
            for i, (_, value) in enumerate(stored.get(name, [])):
                g.create_dataset(str(i), data=value)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.7.0", "date_saved": "2025-01-01@00:00:00"}))
        z.writestr("config.json", json.dumps(keras3_config()))
        z.writestr("model.weights.h5", weights.getvalue())


def main():
    path = os.path.join(HERE, "preproc_k2.15.h5")
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(CONFIG).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [n.encode("utf8") for n in ALL_LAYERS]
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = b"2.15.0"
        stored = dict(WEIGHTS)
        for name in sorted(ALL_LAYERS):
            g = mw.create_group(name)
            ws = stored.get(name, [])
            g.attrs["weight_names"] = [w.encode("utf8") for w, _ in ws] if ws else np.zeros((0,))
            for w, value in ws:
                d = g.create_dataset(w.encode("utf8"), value.shape, dtype=value.dtype)
                d[()] = value
        mw.create_group("top_level_model_weights").attrs["weight_names"] = np.zeros((0,))
    write_keras3(os.path.join(HERE, "preproc_k3.keras"))
    x = rng.uniform(0, 255, (2, 6, 8, 3)).astype(np.float32)
    y = forward(x).astype(np.float32)
    out = {"generator": "tests/data/preproc/make-files.py (numpy %s float64 inference pass)" % np.__version__,
          "inputs": [{"shape": list(x.shape), "data": [float(v) for v in x.ravel()]}],
          "outputs": [{"name": "dense", "shape": list(y.shape), "data": [float(v) for v in y.ravel()]}]}
    with open(os.path.join(HERE, "preproc.io.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote preproc_k2.15.h5, preproc_k3.keras and preproc.io.json")


if __name__ == "__main__":
    main()
