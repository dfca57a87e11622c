#!/usr/bin/python3
"""numpy-predict with MultiHeadAttention's attention_mask.

    numpy_predict_masked.py KERAS_H5_PY MODEL IN.io.json OUT.io.json

Runs `keras_h5.py numpy-predict` (../shared/conformance/tools, an
independent numpy forward pass written from Keras' source), which refuses a
MultiHeadAttention call with an attention_mask, with one addition written
from Keras' MultiHeadAttention._masked_softmax and Softmax.call: the mask
([B, T, S] on rank-3 inputs, or a rank up to the scores') is expanded at
axis -2 * len(attention_axes) - 1 = -3 until it has the scores' rank, and
(1 - mask) * -1e9 is added to the scores before the softmax. Everything
else is keras_h5.py's own code. Exit status as numpy-predict's.
"""
import importlib.util
import sys

import numpy as np


def main(tool, model, in_path, out_path):
    spec = importlib.util.spec_from_file_location("keras_h5", tool)
    k = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(k)
    state = {"mask": None}
    plain_layer, plain_softmax = k.np_layer, k.np_softmax

    def np_layer(cls, c, W, xs, kw, ctx, lname):
        if cls != "MultiHeadAttention" or kw.get("attention_mask") is None:
            return plain_layer(cls, c, W, xs, kw, ctx, lname)
        if len(xs) != 1 or np.ndim(xs[0]) != 3:
            raise k.NumpyRefuse(f'MultiHeadAttention "{lname}": attention_mask is supported on rank-3 inputs only')
        state["mask"] = kw["attention_mask"]
        try:
            return plain_layer(cls, c, W, xs, {key: v for key, v in kw.items() if key != "attention_mask"}, ctx, lname)
        finally:
            state["mask"] = None

    def np_softmax(x, axis=-1):
        m = state["mask"]
        if m is not None and axis == -1 and x.ndim >= 4:   # the scores of the call above
            m = (np.asarray(m) != 0).astype(np.float64)
            while m.ndim < x.ndim:
                m = np.expand_dims(m, -3)   # -2 * len(attention_axes) - 1, one axis
            x = x + (1.0 - m) * -1e9
        return plain_softmax(x, axis)

    k.np_layer, k.np_softmax = np_layer, np_softmax
    try:
        ok = k.numpy_predict(model, in_path, out_path)
    except k.NumpyRefuse as e:
        print(f"numpy-predict: refused: {e}", file=sys.stderr)
        return 2
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
