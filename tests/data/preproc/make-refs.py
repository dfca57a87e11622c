#!/usr/bin/python3
"""Reference outputs of tf.image.resize for the methods TensorFlow.js lacks.

Usage, from the repository:  /usr/bin/python3 tests/data/preproc/make-refs.py
Writes tests/data/preproc/resize_refs.json: {"generator", "cases": [{"method",
"antialias", "size", "input", "output"}]} with inputs and outputs in keras-ref's
tensor form ({"shape", "data"}, row-major, batch first, channels last).

Each method is written here from TensorFlow's CPU kernels
(tensorflow/core/kernels/image/: resize_nearest_neighbor_op.cc with
half_pixel_centers, resize_bicubic_op.cc with use_keys_cubic and its 1024-entry
coefficient table, resize_area_op.cc, scale_and_translate_op.cc with
sampling_kernels.h) as one weight matrix per axis, applied in float64:
output = A_h . image . A_w^T per channel. Before writing anything the script
checks itself against the expected values that TensorFlow's own tests publish
for tf.image.resize (image_ops_test.py, ResizeImagesV2Test.testResizeUp: a 3x2
image to 6x4 with every method; testResizeDown; testResizeDownArea) and
stops if any differs.

Needs numpy only."""
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
F = np.float32


def nearest(n_in, n_out):
    a = np.zeros((n_out, n_in))
    scale = F(n_in) / F(n_out)
    for o in range(n_out):
        i = int(math.floor(F(F(o) + F(0.5)) * scale))
        a[o, min(max(i, 0), n_in - 1)] = 1
    return a


def keys_table(i, which):
    a = -0.5
    x = F(i * 1.0 / 1024)
    if which == 0:
        return F(((a + 2) * float(x) - (a + 3)) * float(x) * float(x) + 1)
    x = F(float(x) + 1.0)
    return F(((a * float(x) - 5 * a) * float(x) + 8 * a) * float(x) - 4 * a)


def bicubic(n_in, n_out):
    a = np.zeros((n_out, n_in))
    scale = F(n_in) / F(n_out)
    for o in range(n_out):
        loc = F(F(F(o) + F(0.5)) * scale) - F(0.5)
        base = int(math.floor(loc))
        delta = F(loc - F(base))
        off = int(np.rint(F(delta * F(1024))))
        coef = [keys_table(off, 1), keys_table(off, 0), keys_table(1024 - off, 0),
                keys_table(1024 - off, 1)]
        taps = []
        for j in range(4):
            i = base - 1 + j
            b = min(max(i, 0), n_in - 1)
            taps.append((b, coef[j] if b == i else F(0)))
        total = F(0)
        for _, w in taps:
            total = F(total + w)
        inv = F(F(1) / total)
        for b, w in taps:
            a[o, b] += float(F(w * inv))
    return a


def area(n_in, n_out):
    a = np.zeros((n_out, n_in))
    s = F(n_in) / F(n_out)
    for o in range(n_out):
        lo, hi = F(F(o) * s), F(F(o + 1) * s)
        for i in range(int(math.floor(lo)), int(math.ceil(hi))):
            if F(i) < lo:
                w = s if F(i + 1) > hi else F(F(i + 1) - lo)
            else:
                w = F(hi - F(i)) if F(i + 1) > hi else F(1)
            a[o, min(max(i, 0), n_in - 1)] += float(w)
    return a / float(s)


def lanczos(r):
    def k(x):
        x = abs(x)
        if x > r:
            return 0.0
        if x <= 1e-3:
            return 1.0
        return r * math.sin(math.pi * x) * math.sin(math.pi * x / r) / (math.pi ** 2 * x * x)
    return k, float(r)


KERNELS = {
    'lanczos3': lanczos(3),
    'lanczos5': lanczos(5),
    'gaussian': (lambda x: 0.0 if abs(x) >= 1.5 else math.exp(-x * x / (2 * 0.5 * 0.5)), 1.5),
    'mitchellcubic': (lambda x: 0.0 if abs(x) >= 2 else
                      ((-7 / 18 * abs(x) + 2) * abs(x) - 10 / 3) * abs(x) + 16 / 9 if abs(x) >= 1 else
                      ((7 / 6 * abs(x) - 2) * abs(x)) * abs(x) + 8 / 9, 2.0),
    'triangle': (lambda x: max(0.0, 1 - abs(x)), 1.0),
    'keyscubic': (lambda x: 0.0 if abs(x) >= 2 else
                  ((-0.5 * abs(x) + 2.5) * abs(x) - 4) * abs(x) + 2 if abs(x) >= 1 else
                  ((1.5 * abs(x) - 2.5) * abs(x)) * abs(x) + 1, 2.0),
}


def spans(n_in, n_out, kernel, antialias):
    k, radius = KERNELS[kernel]
    a = np.zeros((n_out, n_in))
    inv_scale = n_in / n_out
    kscale = max(inv_scale, 1.0) if antialias else 1.0
    for o in range(n_out):
        sample = (o + 0.5) * inv_scale
        start = min(max(math.ceil(sample - radius * kscale - 0.5), 0), n_in - 1)
        end = min(max(math.floor(sample + radius * kscale - 0.5), 0), n_in - 1) + 1
        w = np.array([k((s + 0.5 - sample) / kscale) for s in range(start, end)])
        a[o, start:end] = w / w.sum()
    return a


def matrix(method, antialias, n_in, n_out):
    if method == 'nearest':
        return nearest(n_in, n_out)
    if method == 'area':
        return area(n_in, n_out)
    if method == 'bicubic':
        return spans(n_in, n_out, 'keyscubic', True) if antialias else bicubic(n_in, n_out)
    if method == 'bilinear':
        return spans(n_in, n_out, 'triangle', antialias)
    return spans(n_in, n_out, method, antialias)


def resize(x, size, method, antialias=False):
    ah = matrix(method, antialias, x.shape[1], size[0])
    aw = matrix(method, antialias, x.shape[2], size[1])
    return np.einsum('oh,bhwc,pw->bopc', ah, x.astype(np.float64), aw)


# ---- TensorFlow's published values (tensorflow/python/ops/image_ops_test.py) ----
TF_UP = {  # [1, 3, 2, 1] = [64, 32, 32, 64, 50, 100] to 6 x 4, atol 1e-4
    'bilinear': [64.0, 56.0, 40.0, 32.0, 56.0, 52.0, 44.0, 40.0, 40.0, 44.0, 52.0, 56.0,
                 36.5, 45.625, 63.875, 73.0, 45.5, 56.875, 79.625, 91.0, 50.0, 62.5, 87.5, 100.0],
    'nearest': [64.0, 64.0, 32.0, 32.0, 64.0, 64.0, 32.0, 32.0, 32.0, 32.0, 64.0, 64.0,
                32.0, 32.0, 64.0, 64.0, 50.0, 50.0, 100.0, 100.0, 50.0, 50.0, 100.0, 100.0],
    'area': [64.0, 64.0, 32.0, 32.0, 64.0, 64.0, 32.0, 32.0, 32.0, 32.0, 64.0, 64.0,
             32.0, 32.0, 64.0, 64.0, 50.0, 50.0, 100.0, 100.0, 50.0, 50.0, 100.0, 100.0],
    'lanczos3': [75.8294, 59.6281, 38.4313, 22.23, 60.6851, 52.0037, 40.6454, 31.964,
                 35.8344, 41.0779, 47.9383, 53.1818, 24.6968, 43.0769, 67.1244, 85.5045,
                 35.7939, 56.4713, 83.5243, 104.2017, 44.8138, 65.1949, 91.8603, 112.2413],
    'lanczos5': [77.5699, 60.0223, 40.6694, 23.1219, 61.8253, 51.2369, 39.5593, 28.9709,
                 35.7438, 40.8875, 46.5604, 51.7041, 21.5942, 43.5299, 67.7223, 89.658,
                 32.1213, 56.784, 83.984, 108.6467, 44.5802, 66.183, 90.0082, 111.6109],
    'gaussian': [61.1087, 54.6926, 41.3074, 34.8913, 54.6926, 51.4168, 44.5832, 41.3074,
                 41.696, 45.2456, 52.6508, 56.2004, 39.4273, 47.0526, 62.9602, 70.5855,
                 47.3008, 57.3042, 78.173, 88.1764, 51.4771, 62.3638, 85.0752, 95.9619],
    'bicubic': [70.1453, 59.0252, 36.9748, 25.8547, 59.3195, 53.3386, 41.4789, 35.4981,
                36.383, 41.285, 51.0051, 55.9071, 30.2232, 42.151, 65.8032, 77.731,
                41.6492, 55.823, 83.9288, 98.1026, 47.0363, 62.2744, 92.4903, 107.7284],
    'mitchellcubic': [66.0382, 56.6079, 39.3921, 29.9618, 56.7255, 51.9603, 43.2611, 38.4959,
                      39.1828, 43.4664, 51.2864, 55.57, 34.6287, 45.1812, 64.4458, 74.9983,
                      43.8523, 56.8078, 80.4594, 93.4149, 48.9943, 63.026, 88.6422, 102.6739],
}
TF_DOWN_AREA = ([128, 64, 32, 16, 8, 4, 4, 8, 16, 32, 64, 128, 128, 64, 32, 16, 8, 4, 5,
                 10, 15, 20, 25, 30, 30, 25, 20, 15, 10, 5, 5, 10, 15, 20, 25, 30],
                [73, 33, 23, 39, 73, 33, 23, 39, 14, 16, 19, 21, 14, 16, 19, 21])  # 6x6 -> 4x4, atol 1
TF_DOWN = ([127, 127, 64, 64, 127, 127, 64, 64, 64, 64, 127, 127, 64, 64, 127, 127,
            50, 50, 100, 100, 50, 50, 100, 100], [127, 64, 64, 127, 50, 100])  # 6x4 -> 3x2


def self_check():
    x = np.array([64, 32, 32, 64, 50, 100], np.float32).reshape(1, 3, 2, 1)
    for method, want in TF_UP.items():
        got = resize(x, (6, 4), method).ravel()
        if not np.allclose(got, want, atol=1e-4, rtol=0):
            sys.exit(f'self-check failed: {method} up: {got} != {want}')
    x = np.array(TF_DOWN_AREA[0], np.float32).reshape(1, 6, 6, 1)
    if not np.allclose(resize(x, (4, 4), 'area').ravel(), TF_DOWN_AREA[1], atol=1, rtol=0):
        sys.exit('self-check failed: area down')
    x = np.array(TF_DOWN[0], np.float32).reshape(1, 6, 4, 1)
    for method in ('bilinear', 'nearest', 'area'):
        if not np.allclose(resize(x, (3, 2), method).ravel(), TF_DOWN[1], atol=1e-5, rtol=0):
            sys.exit(f'self-check failed: {method} down')


def tensor(a):
    return {'shape': list(a.shape), 'data': [float(v) for v in np.asarray(a, np.float32).ravel()]}


def main():
    self_check()
    rng = np.random.default_rng(5)
    shapes = [((1, 3, 4, 2), (7, 9)), ((2, 9, 7, 1), (4, 3)), ((1, 5, 6, 3), (8, 4)),
              ((1, 4, 4, 1), (4, 4)), ((1, 16, 3, 2), (5, 3))]
    cases = []
    for in_shape, size in shapes:
        x = rng.uniform(-1, 1, in_shape).astype(np.float32)
        for method in ('nearest', 'bicubic', 'area', 'lanczos3', 'lanczos5', 'gaussian',
                       'mitchellcubic'):
            cases.append({'method': method, 'antialias': False, 'size': list(size),
                          'input': tensor(x), 'output': tensor(resize(x, size, method))})
        if size[0] < in_shape[1] or size[1] < in_shape[2]:
            for method in ('bilinear', 'bicubic', 'lanczos3', 'lanczos5', 'gaussian',
                           'mitchellcubic'):
                cases.append({'method': method, 'antialias': True, 'size': list(size),
                              'input': tensor(x), 'output': tensor(resize(x, size, method, True))})
    out = {'generator': 'tests/data/preproc/make-refs.py (numpy %s, float64; self-checked against '
                        "TensorFlow's image_ops_test.py values)" % np.__version__, 'cases': cases}
    with open(os.path.join(HERE, 'resize_refs.json'), 'w') as f:
        json.dump(out, f)
        f.write('\n')
    print(f'wrote resize_refs.json: {len(cases)} cases')


if __name__ == '__main__':
    main()
