/* Shape alignment, sample weights, Reduce accumulation and threshold
 * configs shared by the metric classes.
 *
 * The shape rules are Keras' (losses_utils.squeeze_or_expand_dimensions,
 * tf.__internal__.ops.broadcast_weights, Reduce.update_state): a metric
 * accepts labels of shape (N,) against predictions (N, 1) and the reverse,
 * per-sample weights against per-element values, and reports anything else
 * as KC_ESHAPE naming both shapes. */
#include "metric_int.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

kc_tensor *kc__metric_f32(kc_tensor *t, kc_error *err)
{
    return kc_cast(t, KC_FLOAT32, err);
}

const char *kc__metric_shape(const kc_tensor *t, char *buf, size_t size)
{
    kc_shape s = kc_tensor_shape(t);
    return kc_shape_format(&s, buf, size);
}

kc_status kc__metric_shape_error(kc_error *err, const char *who, const char *a_name,
                                 const kc_tensor *a, const char *b_name, const kc_tensor *b)
{
    char sa[96], sb[96];
    return kc__errf(err, KC_ESHAPE, "%s: %s shape %s and %s shape %s are incompatible", who, a_name,
                    kc__metric_shape(a, sa, sizeof(sa)), b_name,
                    kc__metric_shape(b, sb, sizeof(sb)));
}

/* Replace *t by t without its last axis (which must be 1). */
static kc_status squeeze_last(kc_tensor **t, const char *what, kc_error *err)
{
    kc_tensor *s = kc_squeeze(*t, -1, err);
    if (!s) {
        char b[96];
        return kc__errf(err, KC_ESHAPE, "cannot squeeze the last axis of %s of shape %s", what,
                        kc__metric_shape(*t, b, sizeof(b)));
    }
    kc_tensor_unref(*t);
    *t = s;
    return KC_OK;
}

kc_status kc__metric_squeeze_or_expand(kc_tensor **y_pred, kc_tensor **y_true,
                                       kc_tensor **sample_weight, kc_error *err)
{
    int rp = kc_tensor_ndim(*y_pred);
    if (y_true && *y_true) {
        int rt = kc_tensor_ndim(*y_true);
        bool pred_last_one = rp > 0 && kc_tensor_dim(*y_pred, -1) == 1;
        /* remove_squeezable_dimensions(y_true, y_pred) */
        if (rp - rt != 1 || pred_last_one) {
            if (rp - rt == 1 && pred_last_one) {
                kc_status rc = squeeze_last(y_pred, "y_pred", err);
                if (rc != KC_OK) return rc;
            } else if (rp - rt == -1 && kc_tensor_dim(*y_true, -1) == 1) {
                kc_status rc = squeeze_last(y_true, "y_true", err);
                if (rc != KC_OK) return rc;
            }
        }
        rp = kc_tensor_ndim(*y_pred);
    }
    if (!sample_weight || !*sample_weight) return KC_OK;
    int rw = kc_tensor_ndim(*sample_weight);
    if (rw == 0) return KC_OK;
    if (rw - rp == 1) {
        if (kc_tensor_dim(*sample_weight, -1) != 1) {
            char sw[96], sp[96];
            return kc__errf(err, KC_ESHAPE,
                            "sample_weight of shape %s does not fit values of shape %s (its last "
                            "axis should be 1)",
                            kc__metric_shape(*sample_weight, sw, sizeof(sw)),
                            kc__metric_shape(*y_pred, sp, sizeof(sp)));
        }
        return squeeze_last(sample_weight, "sample_weight", err);
    }
    if (rp - rw == 1) {
        kc_tensor *e = kc_expand_dims(*sample_weight, -1, err);
        if (!e) return kc__error_code(err, KC_ENOMEM);
        kc_tensor_unref(*sample_weight);
        *sample_weight = e;
    }
    return KC_OK;
}

/* TF's static assert_broadcastable: a scalar, or the same rank with each
 * dim 1 or equal. */
static bool weights_broadcastable(const kc_tensor *w, const kc_tensor *v)
{
    int rw = kc_tensor_ndim(w);
    if (rw == 0) return true;
    if (rw != kc_tensor_ndim(v)) return false;
    for (int i = 0; i < rw; i++) {
        int64_t a = kc_tensor_dim(w, i), b = kc_tensor_dim(v, i);
        if (a != 1 && a != b) return false;
    }
    return true;
}

kc_tensor *kc__metric_broadcast_weights(const char *who, kc_tensor *weights, kc_tensor *values,
                                        kc_error *err)
{
    if (!weights_broadcastable(weights, values)) {
        kc__metric_shape_error(err, who, "sample_weight", weights, "values", values);
        return NULL;
    }
    kc_tensor *w = kc__metric_f32(weights, err);
    kc_tensor *b = kc_broadcast_to(w, kc_tensor_ndim(values), kc_tensor_dims(values), err);
    kc_tensor_unref(w);
    return b;
}

static double sum_f32(kc_tensor *t)
{
    const float *p = kc_tensor_f32(t);
    double s = 0;
    for (int64_t i = 0, n = kc_tensor_size(t); i < n; i++)
        s += p[i];
    return s;
}

kc_status kc__metric_reduce_update(const char *who, kc_variable *total, kc_variable *count,
                                   kc_tensor *values_in, kc_tensor *sample_weight, kc_error *err)
{
    kc_tensor *values = kc__metric_f32(values_in, err);
    if (!values) return kc__error_code(err, KC_ENOMEM);
    double add_total, add_count;
    kc_status rc = KC_OK;
    if (!sample_weight) {
        add_total = sum_f32(values);
        add_count = (double)kc_tensor_size(values);
    } else {
        kc_tensor *w = kc__metric_f32(sample_weight, err);
        if (!w) {
            kc_tensor_unref(values);
            return kc__error_code(err, KC_ENOMEM);
        }
        rc = kc__metric_squeeze_or_expand(&values, NULL, &w, err);
        kc_tensor *prod = NULL;
        if (rc == KC_OK && weights_broadcastable(w, values)) {
            kc_tensor *bw = kc_broadcast_to(w, kc_tensor_ndim(values), kc_tensor_dims(values), err);
            prod = kc_mul(values, bw, err);
            add_count = bw ? sum_f32(bw) : 0;
            kc_tensor_unref(bw);
        } else if (rc == KC_OK) {
            /* Keras: reduce the values to the weights' rank (mean, or sum for
             * Sum), then multiply with broadcasting */
            int rv = kc_tensor_ndim(values), rw = kc_tensor_ndim(w);
            kc_tensor *reduced = kc_tensor_ref(values);
            if (rw < rv) {
                int axes[KC_MAX_DIMS], n = 0;
                for (int i = rw; i < rv; i++)
                    axes[n++] = i;
                kc_tensor_unref(reduced);
                reduced = count ? kc_reduce_mean(values, axes, n, false, err)
                                : kc_reduce_sum(values, axes, n, false, err);
            }
            kc_error merr = {0};
            prod = reduced ? kc_mul(reduced, w, &merr) : NULL;
            if (reduced && !prod && merr.code == KC_ESHAPE)
                kc__metric_shape_error(err, who, "sample_weight", sample_weight, "values",
                                       values_in);
            else if (reduced && !prod && err && err->code == KC_OK)
                *err = merr;
            kc_tensor_unref(reduced);
            add_count = sum_f32(w);
        }
        if (rc == KC_OK && !prod) rc = kc__error_code(err, KC_ENOMEM);
        add_total = prod ? sum_f32(prod) : 0;
        kc_tensor_unref(prod);
        kc_tensor_unref(w);
    }
    kc_tensor_unref(values);
    if (rc != KC_OK) return rc;
    float *t = kc__var_f32(total);
    t[0] += (float)add_total;
    if (count) {
        float *c = kc__var_f32(count);
        c[0] += (float)add_count;
    }
    return KC_OK;
}

kc_tensor *kc__metric_vector(const float *v, int64_t n, bool scalar_if_one, kc_error *err)
{
    if (scalar_if_one && n == 1) return kc_tensor_scalar(v[0], err);
    return kc_tensor_from_data(KC_FLOAT32, 1, &n, v, err);
}

/* ---- thresholds in configs ---------------------------------------------------- */

kc_status kc__metric_cfg_error(const kc_config_ctx *ctx, const char *key, kc_error *err,
                               const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    kc__errf(err, KC_EFORMAT, "%s.%s: %s", ctx->path, key, msg);
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    kc__error_context(err, "%s", c.path);
    return KC_EFORMAT;
}

void kc__thresholds_fini(kc__thresholds *t)
{
    kc__free(t->values);
    t->values = NULL;
    t->n = 0;
    t->form = 0;
}

kc_status kc__thresholds_read(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                              bool check_range, kc__thresholds *out, kc_error *err)
{
    const json_t *v = json_object_get(cfg, key);
    kc__thresholds t = {0};
    if (!v || json_is_null(v)) {
        kc__thresholds_fini(out);
        *out = t;
        return KC_OK;
    }
    size_t n = json_is_array(v) ? json_array_size(v) : 1;
    if (json_is_array(v) && n == 0)
        return kc__metric_cfg_error(ctx, key, err,
                                    "expected a number or a non-empty list of numbers");
    if (n > 100000) return kc__metric_cfg_error(ctx, key, err, "too many thresholds (%zu)", n);
    t.values = kc__malloc_array(n, sizeof(double));
    if (!t.values) return kc__errf(err, KC_ENOMEM, "out of memory reading thresholds");
    t.n = (int)n;
    t.form = json_is_array(v) ? 2 : 1;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
        double d;
        if (!kc__json_to_double(e, &d) || !isfinite(d)) {
            kc__free(t.values);
            return kc__metric_cfg_error(ctx, key, err, "expected a number or a list of numbers");
        }
        if (check_range && !(d >= 0 && d <= 1)) {
            kc__free(t.values);
            return kc__metric_cfg_error(ctx, key, err, "threshold values must be in [0, 1], got %g",
                                        d);
        }
        t.values[i] = d;
    }
    kc__thresholds_fini(out);
    *out = t;
    return KC_OK;
}

kc_status kc__thresholds_write(json_t *cfg, const char *key, const kc__thresholds *t, kc_error *err)
{
    json_t *v;
    if (t->form == 0) {
        v = json_null();
    } else if (t->form == 1) {
        v = kc__json_float(t->values[0]);
    } else {
        v = json_array();
        for (int i = 0; v && i < t->n; i++)
            if (json_array_append_new(v, kc__json_float(t->values[i]))) {
                json_decref(v);
                v = NULL;
            }
    }
    if (!v || json_object_set_new(cfg, key, v))
        return kc__errf(err, KC_ENOMEM, "out of memory writing '%s'", key);
    return KC_OK;
}
