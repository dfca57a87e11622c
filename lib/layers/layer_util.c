/* Helpers shared by the core layer classes (see layer_util.h).
 *
 * Keras configs hold several tuple-valued keys (Reshape.target_shape,
 * Permute.dims, PReLU.shared_axes, Dot.axes, Softmax.axis) that are a list
 * of integers or, for some, a single integer; the typed getters of config.h
 * read scalars only, so the list reader lives here, with the same kind of
 * messages (JSON path, what was expected, what was found). */
#include "layer_util.h"

#include <ckeras/ops.h>

#include <math.h>
#include <stdio.h>

static kc_status bad_list(const kc_config_ctx *ctx, const char *key, bool allow_scalar, int max_n,
                          const char *what, kc_error *err)
{
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    kc__errf(err, KC_EFORMAT, "%s: expected %sa list of at most %d integers, got %s", c.path,
             allow_scalar ? "an integer or " : "", max_n, what);
    kc__error_context(err, "%s", c.path);
    return KC_EFORMAT;
}

/* An integral JSON number (Python may write 2.0 for 2). */
static bool as_integer(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d == (double)(int64_t)d && d > -9.2e18 && d < 9.2e18) {
            *out = (int64_t)d;
            return true;
        }
    }
    return false;
}

kc_status kc__cfg_int_list(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                           bool required, bool allow_scalar, int max_n, int64_t *out, int *n,
                           bool *present, bool *scalar, kc_error *err)
{
    const json_t *v = json_is_object(cfg) ? json_object_get(cfg, key) : NULL;
    *n = 0;
    *present = false;
    if (scalar) *scalar = false;
    if (!v || json_is_null(v)) {
        if (!required) return KC_OK;
        return bad_list(ctx, key, allow_scalar, max_n, v ? "null" : "nothing (missing)", err);
    }
    if (allow_scalar && as_integer(v, &out[0])) {
        *n = 1;
        *present = true;
        if (scalar) *scalar = true;
        return KC_OK;
    }
    if (!json_is_array(v)) return bad_list(ctx, key, allow_scalar, max_n, "another type", err);
    if ((int)json_array_size(v) > max_n) {
        char what[64];
        snprintf(what, sizeof(what), "%zu items", json_array_size(v));
        return bad_list(ctx, key, allow_scalar, max_n, what, err);
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        if (!as_integer(json_array_get(v, i), &out[i])) {
            char what[64];
            snprintf(what, sizeof(what), "a non-integer item at index %zu", i);
            return bad_list(ctx, key, allow_scalar, max_n, what, err);
        }
    }
    *n = (int)json_array_size(v);
    *present = true;
    return KC_OK;
}

json_t *kc__int_list_json(const int64_t *v, int n)
{
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++) {
        if (json_array_append_new(a, json_integer((json_int_t)v[i]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

kc_status kc__cfg_set_int_list(json_t *cfg, const char *key, const int64_t *v, int n, bool scalar,
                               kc_error *err)
{
    json_t *j = scalar && n == 1 ? json_integer((json_int_t)v[0]) : kc__int_list_json(v, n);
    if (!j || json_object_set_new(cfg, key, j))
        return kc__errf(err, KC_ENOMEM, "out of memory writing config key '%s'", key);
    return KC_OK;
}

kc_status kc__cfg_finite(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                         unsigned flags, double dflt, double *out, kc_error *err)
{
    kc_status rc = kc_cfg_float(ctx, cfg, key, flags, dflt, out, err);
    if (rc == KC_OK && !isfinite(*out)) {
        kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
        kc__errf(err, KC_EFORMAT, "%s: expected a finite number, got %g", c.path, *out);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    return rc;
}

kc_status kc__same_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                         int *n_out, kc_error *err)
{
    (void)self;
    (void)n_in;
    (void)err;
    out[0] = in[0];
    *n_out = 1;
    return KC_OK;
}

kc_status kc__merge_batch(const kc_object *self, const kc_shape *in, int n, int64_t *batch,
                          kc_error *err)
{
    *batch = -1;
    for (int i = 0; i < n; i++) {
        if (in[i].ndim < 1)
            return kc__errf(err, KC_ESHAPE,
                            "%s needs inputs with a batch axis (rank >= 1), input %d is a scalar",
                            self->cls->name, i);
        int64_t b = in[i].dims[0];
        if (b >= 0 && *batch >= 0 && b != *batch) {
            char buf[512];
            return kc__errf(err, KC_ESHAPE,
                            "%s cannot merge tensors with different batch sizes: %s",
                            self->cls->name, kc__shapes_format(in, n, buf, sizeof(buf)));
        }
        if (b >= 0) *batch = b;
    }
    return KC_OK;
}

kc_tensor *kc__mask_bool(kc_tensor *mask, kc_error *err)
{
    if (!mask) return kc_neg(NULL, err); /* reports the NULL input */
    kc_scope *s = kc_scope_new(err);
    kc_tensor *m = mask;
    if (kc_tensor_dtype(mask) != KC_FLOAT32) m = kc_scope_take(s, kc_cast(mask, KC_FLOAT32, err));
    kc_tensor *zero = kc_scope_take(s, kc_tensor_scalar(0.0f, err));
    kc_tensor *b = kc_not_equal(m, zero, err);
    kc_scope_free(s);
    return b;
}

kc_status kc__layer_rng_read(kc__layer_rng *r, const kc_config_ctx *ctx, const json_t *cfg,
                             kc_error *err)
{
    uint64_t seed = 0;
    kc_status rc = kc_cfg_seed(ctx, cfg, "seed", &r->has_seed, &seed, err);
    if (rc != KC_OK) return rc;
    r->seed = (int64_t)seed;
    if (r->has_seed) kc_rng_seed(&r->rng, seed);
    return KC_OK;
}

kc_status kc__layer_rng_write(const kc__layer_rng *r, json_t *cfg, kc_error *err)
{
    json_t *j = r->has_seed ? json_integer((json_int_t)r->seed) : json_null();
    if (!j || json_object_set_new(cfg, "seed", j))
        return kc__errf(err, KC_ENOMEM, "out of memory writing config key 'seed'");
    return KC_OK;
}

kc_rng *kc__layer_rng_get(kc__layer_rng *r)
{
    return r->has_seed ? &r->rng : kc_global_rng();
}

kc_tensor *kc__layer_rng_normal(kc__layer_rng *r, int ndim, const int64_t *dims, float mean,
                                float stddev, kc_error *err)
{
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, ndim, dims, err);
    if (t)
        kc_rng_fill_normal(kc__layer_rng_get(r), kc_tensor_f32(t), (size_t)kc_tensor_size(t), mean,
                           stddev);
    return t;
}
