/* Dot(axes, normalize=False): the per-sample dot product of two inputs
 * (Keras' batch_dot).
 *
 * axes is one integer (the same axis of both inputs) or two; negative axes
 * count from the end of each input; the batch axis cannot be one. The
 * output has x's axes without axes[0], then y's without its batch axis and
 * axes[1], e.g. x (b, 3, 5), y (b, 10, 3), axes (1, 2) -> (b, 5, 10); a
 * result of rank 1 gets a trailing axis of size 1 ((b,) -> (b, 1)).
 * normalize L2-normalizes both inputs along their axes first
 * (tf.linalg.l2_normalize: x / sqrt(max(sum(x^2), 1e-12))), giving cosine
 * similarities.
 *
 * How it is computed: x is transposed to (b, rest of x, d) and viewed as
 * (b, M, d); y to (b, d, rest of y) as (b, d, N); one batched matmul gives
 * (b, M, N), reshaped to the output shape. This is batch_dot's result for
 * every rank (TensorFlow.js stops at rank 3).
 *
 * Dot outputs no mask (Keras' Dot.compute_mask returns None). */
#include "layer_util.h"

#include <ckeras/ops.h>

typedef struct dot {
    kc_layer base;
    int64_t axes[2]; /* as configured */
    bool scalar;     /* axes was a single integer */
    bool normalize;
} dot;

static kc_status dot_init(kc_object *self, kc_error *err)
{
    (void)err;
    dot *d = (dot *)self;
    d->axes[0] = d->axes[1] = -1;
    d->scalar = true;
    kc__as_layer(self)->supports_masking = true;
    return KC_OK;
}

static kc_status dot_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const dot *d = (const dot *)self;
    kc_status rc = kc__cfg_set_int_list(cfg, "axes", d->axes, d->scalar ? 1 : 2, d->scalar, err);
    if (rc == KC_OK && json_object_set_new(cfg, "normalize", json_boolean(d->normalize)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status dot_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                 kc_error *err)
{
    dot *d = (dot *)self;
    int64_t axes[2];
    int n = 0;
    bool present, scalar;
    kc_status rc =
        kc__cfg_int_list(ctx, cfg, "axes", true, true, 2, axes, &n, &present, &scalar, err);
    if (rc != KC_OK) return rc;
    if (!scalar && n != 2) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "axes", 0);
        kc__errf(err, KC_EFORMAT, "%s: expected an integer or a list of two integers, got %d items",
                 c.path, n);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    d->axes[0] = axes[0];
    d->axes[1] = scalar ? axes[0] : axes[1];
    d->scalar = scalar;
    return kc_cfg_bool(ctx, cfg, "normalize", KC_CFG_NULLABLE, false, &d->normalize, err);
}

/* The two axes for shapes x and y, normalized and checked against them. */
static kc_status dot_axes(const dot *d, const kc_shape *x, const kc_shape *y, int *ax,
                          kc_error *err)
{
    const kc_shape *s[2] = {x, y};
    char a[160], b[160];
    for (int i = 0; i < 2; i++) {
        if (s[i]->ndim < 2)
            return kc__errf(err, KC_ESHAPE, "Dot needs inputs of rank >= 2, input %d has shape %s",
                            i, kc_shape_format(s[i], a, sizeof(a)));
        int64_t v = d->axes[i] < 0 ? d->axes[i] + s[i]->ndim : d->axes[i];
        if (v < 0 || v >= s[i]->ndim)
            return kc__errf(err, KC_ESHAPE,
                            "Dot axis %lld is out of range for input %d of shape %s",
                            (long long)d->axes[i], i, kc_shape_format(s[i], a, sizeof(a)));
        if (v == 0)
            return kc__errf(err, KC_ESHAPE,
                            "Dot cannot take the dot product over the batch axis (axes %lld, input "
                            "%d of shape %s)",
                            (long long)d->axes[i], i, kc_shape_format(s[i], a, sizeof(a)));
        ax[i] = (int)v;
    }
    int64_t d1 = x->dims[ax[0]], d2 = y->dims[ax[1]];
    if (d1 >= 0 && d2 >= 0 && d1 != d2)
        return kc__errf(
            err, KC_ESHAPE,
            "Dot needs equal sizes on the dot axes: %lld (axis %d of %s) != %lld (axis %d of %s)",
            (long long)d1, ax[0], kc_shape_format(x, a, sizeof(a)), (long long)d2, ax[1],
            kc_shape_format(y, b, sizeof(b)));
    return KC_OK;
}

/* x's axes without ax[0], then y's without 0 and ax[1]; (b,) -> (b, 1). */
static kc_shape dot_shape(const kc_shape *x, const kc_shape *y, const int *ax)
{
    kc_shape o = {0};
    for (int i = 0; i < x->ndim; i++)
        if (i != ax[0]) o.dims[o.ndim++] = x->dims[i];
    for (int i = 1; i < y->ndim; i++)
        if (i != ax[1]) o.dims[o.ndim++] = y->dims[i];
    if (o.ndim == 1) o.dims[o.ndim++] = 1;
    return o;
}

static kc_status dot_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                  kc_shape *out, int *n_out, kc_error *err)
{
    int64_t batch;
    int ax[2];
    kc_status rc = kc__merge_batch(self, in, n_in, &batch, err);
    if (rc == KC_OK) rc = dot_axes((const dot *)self, &in[0], &in[1], ax, err);
    if (rc != KC_OK) return rc;
    if (in[0].ndim + in[1].ndim - 3 > KC_MAX_DIMS)
        return kc__errf(err, KC_ESHAPE, "Dot output would have rank %d (at most %d)",
                        in[0].ndim + in[1].ndim - 3, KC_MAX_DIMS);
    out[0] = dot_shape(&in[0], &in[1], ax);
    out[0].dims[0] = batch;
    *n_out = 1;
    return KC_OK;
}

/* tf.linalg.l2_normalize(x, axis). */
static kc_tensor *l2_normalize(kc_scope *s, kc_tensor *x, int axis, kc_error *err)
{
    kc_tensor *ss =
        kc_scope_take(s, kc_reduce_sum(kc_scope_take(s, kc_square(x, err)), &axis, 1, true, err));
    kc_tensor *inv =
        kc_scope_take(s, kc_rsqrt(kc_scope_take(s, kc_maximum_scalar(ss, 1e-12f, err)), err));
    return kc_scope_take(s, kc_mul(x, inv, err));
}

/* t with axis `from` moved to position `to` (the others keep their order),
 * viewed as (batch, rows, cols) where the moved axis alone makes `rows`
 * (to == 1) or `cols` (to == last). */
static kc_tensor *to_matrix(kc_scope *s, kc_tensor *t, int from, bool to_last, kc_error *err)
{
    if (!t) return NULL; /* normalize failed: the error is in err */
    int r = kc_tensor_ndim(t), perm[KC_MAX_DIMS], k = 0;
    perm[k++] = 0;
    if (!to_last) perm[k++] = from;
    for (int i = 1; i < r; i++)
        if (i != from) perm[k++] = i;
    if (to_last) perm[k++] = from;
    kc_tensor *p = kc_scope_take(s, kc_transpose(t, perm, err));
    int64_t rest = 1, b = kc_tensor_dim(t, 0), d = kc_tensor_dim(t, from);
    for (int i = 1; i < r; i++)
        if (i != from) rest *= kc_tensor_dim(t, i);
    int64_t dims[3] = {b, to_last ? rest : d, to_last ? d : rest};
    return kc_scope_take(s, kc_reshape(p, 3, dims, err));
}

static kc_status dot_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                          kc_error *err)
{
    (void)n_out;
    const dot *d = (const dot *)self;
    kc_tensor *x = a->inputs[0], *y = a->inputs[1];
    kc_shape xs = kc_tensor_shape(x), ys = kc_tensor_shape(y);
    int ax[2];
    kc_status rc = dot_axes(d, &xs, &ys, ax, err);
    if (rc != KC_OK) return rc;
    kc_scope *s = kc_scope_new(err);
    if (d->normalize) {
        x = l2_normalize(s, x, ax[0], err);
        y = l2_normalize(s, y, ax[1], err);
    }
    kc_tensor *xm = to_matrix(s, x, ax[0], true, err);  /* (b, M, d) */
    kc_tensor *ym = to_matrix(s, y, ax[1], false, err); /* (b, d, N) */
    kc_tensor *prod = kc_scope_take(s, kc_matmul(xm, ym, false, false, err));
    kc_shape o = dot_shape(&xs, &ys, ax);
    out[0] = kc_reshape(prod, o.ndim, o.dims, err);
    kc_scope_free(s);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* No output mask, whatever the inputs carry. */
static kc_status dot_compute_mask(kc_object *self, const kc_call_args *a, kc_tensor *const *out,
                                  int n_out, kc_tensor **out_masks, kc_error *err)
{
    (void)self;
    (void)a;
    (void)out;
    (void)n_out;
    (void)err;
    out_masks[0] = NULL;
    return KC_OK;
}

static const kc_layer_methods dot_methods = {
    .min_inputs = 2,
    .max_inputs = 2,
    .call = dot_call,
    .compute_output_shape = dot_output_shape,
    .compute_mask = dot_compute_mask,
};

KC__LAYER_CLASS(kc__dot_class, "Dot", dot, dot_init, NULL, dot_get_config, dot_from_config,
                &dot_methods);
