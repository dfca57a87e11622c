#!/usr/bin/env python3
"""Generate include/ckeras/scoped_ops.h from include/ckeras/ops.h.

    scripts/gen_scoped_ops.py          rewrite the header
    scripts/gen_scoped_ops.py --check  exit 1 (saying so) if it is out of date

Every `KC_API KC_NODISCARD kc_tensor *kc_<op>(..., kc_error *err);` of
ops.h gets an inline twin `kc_s_<op>(kc_scope *s, ...)` whose result the
scope keeps and whose errors go to the scope's err. The suite runs --check
(test `scoped_ops`), so a new op in ops.h fails it until this is rerun.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPS = os.path.join(ROOT, 'include', 'ckeras', 'ops.h')
OUT = os.path.join(ROOT, 'include', 'ckeras', 'scoped_ops.h')

HEAD = '''/* ckeras: ops that put their results in a scope (generated from ops.h by
 * scripts/gen_scoped_ops.py; do not edit by hand).
 *
 * kc_s_<op>(s, ...) is kc_<op>(..., err) whose result the scope s keeps
 * (kc_scope_take) and whose failures go to the err s was created with, so
 * a computation is written without an unref per intermediate and checked
 * once, at the end (a NULL input propagates, as ops.h says). The seed's
 * huber(y_true, y_pred), line for line:
 *
 *     kc_scope *s = kc_scope_new(err);
 *     kc_tensor *error = kc_s_sub(s, y_true, y_pred);             error = y_true - y_pred
 *     kc_tensor *se = kc_s_less_scalar(s, kc_s_abs(s, error), 1);  se = tf.abs(error) < 1
 *     kc_tensor *sq = kc_s_div_scalar(s, kc_s_square(s, error), 2); sq_loss = tf.square(error) / 2
 *     kc_tensor *lin = kc_s_sub_scalar(s, kc_s_abs(s, error), 0.5f); linear_loss = tf.abs(error) - 0.5
 *     return kc_scope_return(s, kc_s_where(s, se, sq, lin));       return tf.where(se, sq_loss, linear_loss)
 *
 * The returned tensors are borrowed: valid until the scope is freed
 * (kc_scope_free, or kc_scope_return, which keeps one). These are inline
 * functions over the exported ops: they add nothing to the ABI. */
#ifndef CKERAS_SCOPED_OPS_H
#define CKERAS_SCOPED_OPS_H

#include "activation.h"
#include "args.h"
#include "autodiff.h"
#include "layer.h"
#include "ops.h"
#include "tensor.h"

KC_BEGIN_DECLS

'''

TAIL = '''
/* Constants made in the scope. */
static inline kc_tensor *kc_s_scalar(kc_scope *s, float value)
{
    return kc_scope_take(s, kc_tensor_scalar(value, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_zeros_like(kc_scope *s, const kc_tensor *t)
{
    return t ? kc_scope_take(s, kc_tensor_zeros(kc_tensor_dtype(t), kc_tensor_ndim(t),
                                                kc_tensor_dims(t), kc_scope_err(s)))
             : NULL;
}
static inline kc_tensor *kc_s_ones_like(kc_scope *s, const kc_tensor *t)
{
    return t ? kc_scope_take(s, kc_tensor_ones(kc_tensor_dtype(t), kc_tensor_ndim(t),
                                               kc_tensor_dims(t), kc_scope_err(s)))
             : NULL;
}

/* A 1-D float32 tensor of the values: kc_s_from_floats(s, KC_FLOATS(0, 1, 1, 1)),
 * or KC_S_FLOATS(s, 0, 1, 1, 1). */
static inline kc_tensor *kc_s_from_floats(kc_scope *s, kc_floats v)
{
    int64_t n = v.n;
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, 1, &n, kc_scope_err(s));
    for (int i = 0; t && i < v.n; i++) kc_tensor_f32(t)[i] = (float)v.values[i];
    return kc_scope_take(s, t);
}

#ifndef __cplusplus
#define KC_S_FLOATS(s, ...) kc_s_from_floats((s), KC_FLOATS(__VA_ARGS__))
#endif

/* Calls that return new references, kept in the scope. */
static inline kc_tensor *kc_s_activation(kc_scope *s, kc_object *activation, kc_tensor *x)
{
    return kc_scope_take(s, kc_activation_call(activation, x, kc_scope_err(s)));
}
static inline kc_tensor *kc_s_layer_call1(kc_scope *s, kc_object *layer, kc_tensor *x, bool training)
{
    return kc_scope_take(s, kc_layer_call1(layer, x, training, kc_scope_err(s)));
}

KC_END_DECLS

#endif /* CKERAS_SCOPED_OPS_H */
'''


def generate():
    src = open(OPS).read()
    decls = re.findall(r'KC_API KC_NODISCARD kc_tensor \*(kc_\w+)\(([^;]*?)\);', src, re.S)
    parts = []
    for name, params in decls:
        ps = [p.strip() for p in ' '.join(params.split()).split(',')]
        if ps[-1] != 'kc_error *err':
            raise SystemExit(f'{name}: the last parameter is not kc_error *err')
        ps = ps[:-1]
        args = [re.match(r'.*?(\w+)$', p).group(1) for p in ps]
        sig = ', '.join(['kc_scope *s'] + ps)
        call = ', '.join(args + ['kc_scope_err(s)'])
        parts.append(f'static inline kc_tensor *kc_s_{name[3:]}({sig})\n{{\n'
                     f'    return kc_scope_take(s, {name}({call}));\n}}\n')
    return HEAD + ''.join(parts) + TAIL


def main():
    text = generate()
    if len(sys.argv) > 1 and sys.argv[1] == '--check':
        current = open(OUT).read() if os.path.exists(OUT) else ''
        if current != text:
            print('include/ckeras/scoped_ops.h is out of date with ops.h: run scripts/gen_scoped_ops.py')
            return 1
        print('scoped_ops.h: %d scoped ops, up to date' % text.count('static inline') )
        return 0
    open(OUT, 'w').write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
