/* Normalization (keras.layers.Normalization): y = (x - mean) /
 * max(sqrt(variance), 1e-7), or with invert x * max(sqrt(variance), 1e-7)
 * + mean, with one mean and variance per position of the kept `axis`
 * (default -1: per feature / channel; a list keeps several axes; null
 * keeps none: one scalar mean).
 *
 * The statistics come from one of two places, as in Keras:
 *   - the config's `mean` and `variance` (numbers or arrays, broadcast
 *     right-aligned onto the kept axes): then the layer has no weights;
 *   - otherwise three non-trainable weights, created in this order at
 *     build: mean and variance (shape of the kept axes; zeros and ones)
 *     and count (a scalar), the order in which tf.keras 2.15 saves them in
 *     a legacy .h5 file (normalization/mean:0, variance:0, count:0) and
 *     Keras 3 numbers them (vars/0, 1, 2). Keras stores count as an
 *     integer; it is only used by adapt(), and ckeras keeps it as a
 *     float32 scalar (a file's int64 count loads into it).
 * adapt() itself is not provided: statistics come from files or configs.
 * The arithmetic is Keras' float32 one, so the tape differentiates it with
 * respect to the input. */
#include "preproc_int.h"

#include <math.h>

typedef struct normalization {
    kc_layer base;
    int64_t axes[KC_MAX_DIMS]; /* as configured (may be negative) */
    int n_axes;
    bool invert;
    json_t *mean_raw, *var_raw;      /* config values as written (NULL: none) */
    kc_tensor *mean_cfg, *var_cfg;   /* the same as tensors */
    kc_tensor *mean_b, *denom_b;     /* config statistics in broadcast shape (built) */
    kc_variable *mean, *variance, *count; /* weights (borrowed), when no config stats */
    int rank;                        /* input rank at build */
    kc_shape bshape;                 /* broadcast shape: kept sizes, 1 elsewhere */
} normalization;

#define NORM_EPSILON 1e-7f /* keras.backend.epsilon() */

static kc_status norm_init(kc_object *self, kc_error *err)
{
    (void)err;
    normalization *n = (normalization *)self;
    n->base.supports_masking = true;
    n->axes[0] = -1;
    n->n_axes = 1;
    return KC_OK;
}

static void norm_fini(kc_object *self)
{
    normalization *n = (normalization *)self;
    json_decref(n->mean_raw);
    json_decref(n->var_raw);
    kc_tensor_unref(n->mean_cfg);
    kc_tensor_unref(n->var_cfg);
    kc_tensor_unref(n->mean_b);
    kc_tensor_unref(n->denom_b);
}

static kc_status norm_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    normalization *n = (normalization *)self;
    const json_t *axis = json_object_get(cfg, "axis");
    kc_status rc = KC_OK;
    if (axis && json_is_null(axis)) {
        n->n_axes = 0;
    } else if (axis) {
        bool present;
        rc = kc__cfg_int_list(ctx, cfg, "axis", false, true, KC_MAX_DIMS, n->axes, &n->n_axes,
                              &present, NULL, err);
    }
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "invert", KC_CFG_NULLABLE, false, &n->invert, err);
    if (rc == KC_OK) rc = kc__cfg_array(ctx, cfg, "mean", false, &n->mean_raw, &n->mean_cfg, err);
    if (rc == KC_OK) rc = kc__cfg_array(ctx, cfg, "variance", false, &n->var_raw, &n->var_cfg, err);
    if (rc != KC_OK) return rc;
    if (!n->mean_cfg != !n->var_cfg)
        return kc__errf(err, KC_EFORMAT,
                        "%s: mean and variance must be given together (got only the %s)", ctx->path,
                        n->mean_cfg ? "mean" : "variance");
    if (n->mean_cfg && !kc_tensor_same_shape(n->mean_cfg, n->var_cfg))
        return kc__errf(err, KC_EFORMAT, "%s: mean and variance must have the same shape", ctx->path);
    if (n->mean_cfg && kc_tensor_ndim(n->mean_cfg) > n->n_axes)
        return kc__errf(err, KC_EFORMAT,
                        "%s: mean has rank %d, more than the %d kept axes", ctx->path,
                        kc_tensor_ndim(n->mean_cfg), n->n_axes);
    return KC_OK;
}

static kc_status norm_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const normalization *n = (const normalization *)self;
    json_t *axis = kc__int_list_json(n->axes, n->n_axes);
    if (!axis || json_object_set_new(cfg, "axis", axis) ||
        json_object_set_new(cfg, "invert", json_boolean(n->invert)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = kc__cfg_set_raw(cfg, "mean", n->mean_raw, err);
    return rc == KC_OK ? kc__cfg_set_raw(cfg, "variance", n->var_raw, err) : rc;
}

/* Which axes of a rank-`rank` input are kept; false if one is out of range. */
static bool kept_axes(const normalization *n, int rank, bool *keep)
{
    for (int i = 0; i < rank; i++) keep[i] = false;
    for (int i = 0; i < n->n_axes; i++) {
        int64_t a = n->axes[i] < 0 ? n->axes[i] + rank : n->axes[i];
        if (a < 0 || a >= rank) return false;
        keep[a] = true;
    }
    return true;
}

static kc_status norm_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                   kc_shape *out, int *n_out, kc_error *err)
{
    const normalization *n = (const normalization *)self;
    bool keep[KC_MAX_DIMS];
    if (!kept_axes(n, in[0].ndim, keep))
        return kc__errf(err, KC_ESHAPE, "Normalization axis %lld is out of range for inputs of rank %d",
                        (long long)n->axes[0], in[0].ndim);
    char buf[160];
    for (int i = 0; i < in[0].ndim; i++) {
        if (keep[i] && in[0].dims[i] < 0)
            return kc__errf(err, KC_ESHAPE, "Normalization needs the size of kept axis %d, the input is %s",
                            i, kc_shape_format(&in[0], buf, sizeof(buf)));
        if (n->rank > 0 && (in[0].ndim != n->rank || (keep[i] && in[0].dims[i] != n->bshape.dims[i]))) {
            char b2[160];
            return kc__errf(err, KC_ESHAPE, "Normalization was built for inputs %s, got %s",
                            kc_shape_format(&n->bshape, b2, sizeof(b2)),
                            kc_shape_format(&in[0], buf, sizeof(buf)));
        }
    }
    return kc__same_shape(self, in, n_in, out, n_out, err);
}

/* max(sqrt(variance), epsilon): Keras' divisor (or, with invert, factor). */
static kc_tensor *denominator(kc_tensor *variance, kc_error *err)
{
    kc_tensor *s = kc_sqrt(variance, err);
    kc_tensor *d = s ? kc_maximum_scalar(s, NORM_EPSILON, err) : NULL;
    kc_tensor_unref(s);
    return d;
}

/* The config's mean / variance placed on the kept axes (right-aligned, as
 * Keras 3 reshapes them; a number fills them all) and broadcast. */
static kc_tensor *place(const normalization *n, kc_tensor *v, const bool *keep, kc_error *err)
{
    int64_t dims[KC_MAX_DIMS];
    for (int i = 0; i < n->rank; i++) dims[i] = 1;
    int k = kc_tensor_ndim(v);
    for (int i = n->rank - 1; i >= 0 && k > 0; i--)
        if (keep[i]) dims[i] = kc_tensor_dim(v, --k);
    kc_tensor *r = kc_reshape(v, n->rank, dims, err);
    kc_tensor *b = r ? kc_broadcast_to(r, n->bshape.ndim, n->bshape.dims, err) : NULL;
    kc_tensor_unref(r);
    if (!b && err && err->code == KC_ESHAPE) {
        char a[160], c[160];
        kc_shape vs = kc_tensor_shape(v);
        kc_error_clear(err);
        kc__errf(err, KC_ESHAPE, "Normalization mean / variance of shape %s do not fit the kept axes %s",
                 kc_shape_format(&vs, a, sizeof(a)), kc_shape_format(&n->bshape, c, sizeof(c)));
    }
    return b;
}

static kc_status norm_build(kc_object *self, const kc_shape *in, int n_in, kc_error *err)
{
    (void)n_in;
    normalization *n = (normalization *)self;
    bool keep[KC_MAX_DIMS];
    kept_axes(n, in[0].ndim, keep); /* checked by compute_output_shape */
    int64_t kdims[KC_MAX_DIMS];
    int nk = 0;
    n->bshape.ndim = in[0].ndim;
    for (int i = 0; i < in[0].ndim; i++) {
        n->bshape.dims[i] = keep[i] ? in[0].dims[i] : 1;
        if (keep[i]) kdims[nk++] = in[0].dims[i];
    }
    n->rank = in[0].ndim;
    if (!n->mean_cfg) {
        if (!(n->mean = kc_layer_add_weight(self, "mean", nk, kdims, NULL, NULL, NULL, false, err)))
            return kc__error_code(err, KC_ENOMEM);
        kc_object *ones = kc_object_create(KC_KIND_INITIALIZER, "ones", err);
        n->variance = ones ? kc_layer_add_weight(self, "variance", nk, kdims, ones, NULL, NULL, false, err) : NULL;
        kc_object_unref(ones);
        if (!n->variance || !(n->count = kc_layer_add_weight(self, "count", 0, NULL, NULL, NULL, NULL, false, err)))
            return kc__error_code(err, KC_ENOMEM);
        return KC_OK;
    }
    kc_tensor *var = place(n, n->var_cfg, keep, err);
    n->mean_b = var ? place(n, n->mean_cfg, keep, err) : NULL;
    n->denom_b = n->mean_b ? denominator(var, err) : NULL;
    kc_tensor_unref(var);
    if (!n->denom_b) n->rank = 0;
    return n->denom_b ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static kc_status norm_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                           kc_error *err)
{
    (void)n_out;
    normalization *n = (normalization *)self;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *x = a->inputs[0], *mean = n->mean_b, *denom = n->denom_b;
    if (kc_tensor_dtype(x) != KC_FLOAT32) x = kc_scope_take(s, kc_cast(x, KC_FLOAT32, err));
    if (!mean) { /* the weights, which a loader may have changed since build */
        mean = kc_scope_take(s, kc_reshape(kc_variable_value(n->mean), n->bshape.ndim, n->bshape.dims, err));
        kc_tensor *var = kc_scope_take(s, kc_reshape(kc_variable_value(n->variance), n->bshape.ndim,
                                                     n->bshape.dims, err));
        denom = var ? kc_scope_take(s, denominator(var, err)) : NULL;
    }
    kc_tensor *y = NULL;
    if (x && mean && denom) {
        if (n->invert)
            y = kc_add(mean, kc_scope_take(s, kc_mul(x, denom, err)), err);
        else
            y = kc_div(kc_scope_take(s, kc_sub(x, mean, err)), denom, err);
    }
    kc_scope_free(s);
    out[0] = y;
    return y ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods norm_methods = {
    .build = norm_build,
    .call = norm_call,
    .compute_output_shape = norm_output_shape,
};

KC__LAYER_CLASS(kc__normalization_class, "Normalization", normalization, norm_init, norm_fini,
                norm_get_config, norm_from_config, &norm_methods);
