#!/usr/bin/python3
"""Goldens for the two sweep files TensorFlow.js cannot read as they are, made by
TensorFlow.js (keras-ref predict) from an equivalent Keras 2 file. Run from this folder:

    /usr/bin/python3 special_goldens.py PATH/TO/shared/conformance

seq_potato_preproc_batch32_k3.9.0.keras: keras_h5.py from-keras3, then the nested
  Sequentials are spliced into the model, RandomFlip and RandomRotation (identity in
  inference) and Resizing (256x256 to 256x256: the identity) are dropped (TensorFlow.js's
  Resizing reports a rank-3 output shape and cannot be built), and the fixed batch 32 of
  the InputLayer becomes None. Inputs: ONE image (Keras predicts on any batch; the model
  was saved with batch 32) of integer pixel values 0..255 (numpy RandomState(1)), which the
  model's Rescaling(1/255) expects.
func_conv_ae_leakyrelu_act_k3.3.3.keras: keras_h5.py from-keras3, then each Conv2D whose
  activation is a LeakyReLU layer gets activation "linear" and a LeakyReLU layer after it
  (TensorFlow.js takes activations by name only). Inputs: keras_h5.py inputs --batch 1.
"""
import json, os, subprocess, sys, tempfile

import h5py
import numpy as np

CONF = sys.argv[1]
KH = [sys.executable, os.path.join(CONF, 'tools', 'keras_h5.py')]
REF = os.path.join(CONF, 'keras-ref')


def edit_config(path, fn):
    with h5py.File(path, 'r+') as f:
        c = json.loads(f.attrs['model_config'])
        fn(c, f)
        f.attrs['model_config'] = json.dumps(c)


def potato(c, f):
    layers = []
    for l in c['config']['layers']:
        if l['class_name'] == 'Sequential':
            layers += [x for x in l['config']['layers'] if x['class_name'] != 'InputLayer']
        else:
            layers.append(l)
    keep = [l for l in layers if l['class_name'] not in ('RandomFlip', 'RandomRotation', 'Resizing')]
    for l in keep:
        cfg = l['config']
        for key in ('batch_input_shape', 'batch_shape'):
            if key in cfg:
                cfg[key] = [None] + list(cfg[key][1:])
    c['config']['layers'] = keep
    names = [n for n in f['model_weights'].attrs['layer_names']]
    keepw = [n for n in names if (n.decode() if isinstance(n, bytes) else n) not in ('sequential', 'sequential_1')]
    f['model_weights'].attrs['layer_names'] = np.array([n if isinstance(n, bytes) else n.encode() for n in keepw], dtype='S')


def leaky(c, f):
    layers = c['config']['layers']
    out = []
    for l in layers:
        a = l['config'].get('activation')
        out.append(l)
        if not isinstance(a, dict):
            continue
        l['config']['activation'] = 'linear'
        name = l['config']['name'] + '_activation'
        slope = a['config'].get('negative_slope', a['config'].get('alpha', 0.3))
        out.append({'class_name': 'LeakyReLU', 'name': name, 'inbound_nodes': [[[l['name'], 0, 0, {}]]],
                    'config': {'name': name, 'trainable': True, 'dtype': 'float32', 'alpha': slope}})
        for m in layers:
            if m is l:
                continue
            for node in m.get('inbound_nodes', []):
                for ref in node:
                    if ref[0] == l['name']:
                        ref[0] = name
        for o in c['config']['output_layers']:
            if o[0] == l['name']:
                o[0] = name
    c['config']['layers'] = out


def golden(model, edit, inputs_fn):
    with tempfile.TemporaryDirectory() as tmp:
        k2 = os.path.join(tmp, 'k2.h5')
        subprocess.run(KH + ['from-keras3', model, k2], check=True, stdout=subprocess.DEVNULL)
        edit_config(k2, edit)
        inp = os.path.join(tmp, 'in.json')
        how = inputs_fn(model, inp)
        out = os.path.join(tmp, 'out.json')
        subprocess.run([REF, 'predict', k2, inp, out], check=True)
        io = {'generator': 'special_goldens.py: keras_h5.py from-keras3, edited as its docstring says, then ' + how +
                           ', then keras-ref predict', 'inputs': json.load(open(inp))['inputs'],
              'outputs': json.load(open(out))['outputs']}
        stem = model[:-len('.keras')]
        with open(stem + '.io.json', 'w') as fo:
            json.dump(io, fo)
        print(stem + '.io.json')


def potato_inputs(model, path):
    x = np.random.RandomState(1).randint(0, 256, size=(1, 256, 256, 3))
    json.dump({'inputs': [{'shape': list(x.shape), 'data': [int(v) for v in x.ravel()]}]}, open(path, 'w'))
    return 'one image of numpy RandomState(1) integer pixels 0..255'


def leaky_inputs(model, path):
    subprocess.run(KH + ['inputs', model, path, '--batch', '1'], check=True, stdout=subprocess.DEVNULL)
    return 'keras_h5.py inputs --seed 1 --batch 1'


golden('seq_potato_preproc_batch32_k3.9.0.keras', potato, potato_inputs)
golden('func_conv_ae_leakyrelu_act_k3.3.3.keras', leaky, leaky_inputs)
