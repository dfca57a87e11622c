/* Accuracy matches and the built-in metric functions.
 *
 * These are tf.keras 2.15's metrics_utils matchers (binary_matches,
 * sparse_categorical_matches, sparse_top_k_categorical_matches) and the
 * functions keras.metrics exports (accuracy, binary_accuracy, ...): each
 * gives one 0/1 value per sample (or per element), which MeanMetricWrapper
 * averages. The accuracy classes (metric_reduce.c) call the matchers with
 * their own threshold or k; the registered functions use Keras' defaults.
 *
 * Top-k follows tf.math.in_top_k: a target is in the top k when fewer than
 * k classes have a strictly larger prediction (ties count in its favour),
 * and never when the target is out of range or a prediction in its row is
 * not finite. */
#include "metric_int.h"

#include <math.h>

/* t with its last axis removed when that axis is 1, else an error. */
static kc_tensor *squeeze_last_one(kc_tensor *t, const char *who, const char *what, kc_error *err)
{
    if (kc_tensor_ndim(t) == 0 || kc_tensor_dim(t, -1) != 1) {
        char b[96];
        kc__errf(err, KC_ESHAPE,
                 "%s: %s of shape %s has the rank of y_pred but its last axis is not 1", who, what,
                 kc__metric_shape(t, b, sizeof(b)));
        return NULL;
    }
    return kc_squeeze(t, -1, err);
}

kc_tensor *kc__accuracy_matches(kc_tensor *y_true, kc_tensor *y_pred, kc_error *err)
{
    if (!y_true || !y_pred) return kc_equal(y_true, y_pred, err); /* reports the NULL */
    if (!kc_tensor_same_shape(y_true, y_pred)) {
        kc__metric_shape_error(err, "accuracy", "y_true", y_true, "y_pred", y_pred);
        return NULL;
    }
    kc_scope *s = kc_scope_new(err);
    kc_tensor *t = kc_scope_take(s, kc__metric_f32(y_true, err));
    kc_tensor *p = kc_scope_take(s, kc__metric_f32(y_pred, err));
    /* Keras casts y_pred to y_true's dtype: integer labels truncate */
    if (p && kc_tensor_dtype(y_true) != KC_FLOAT32 && kc_tensor_dtype(y_pred) == KC_FLOAT32) {
        kc_tensor *q = kc_scope_take(s, kc_cast(y_pred, kc_tensor_dtype(y_true), err));
        p = kc_scope_take(s, kc__metric_f32(q, err));
    }
    kc_tensor *r = kc_equal(t, p, err);
    kc_scope_free(s);
    return r;
}

kc_tensor *kc__binary_matches(kc_tensor *y_true, kc_tensor *y_pred, float threshold, kc_error *err)
{
    kc_scope *s = kc_scope_new(err);
    kc_tensor *t = kc_scope_take(s, kc__metric_f32(y_true, err));
    kc_tensor *p = kc_scope_take(s, kc__metric_f32(y_pred, err));
    kc_tensor *pos = kc_scope_take(s, kc_greater_scalar(p, threshold, err));
    kc_tensor *r = kc_equal(t, pos, err);
    kc_scope_free(s);
    return r;
}

kc_tensor *kc__sparse_categorical_matches(kc_tensor *y_true, kc_tensor *y_pred, kc_error *err)
{
    if (!y_true || !y_pred) return kc_equal(y_true, y_pred, err);
    if (kc_tensor_ndim(y_pred) == 0) {
        kc__errf(err, KC_ESHAPE,
                 "sparse categorical accuracy: y_pred must have a class axis, got a scalar");
        return NULL;
    }
    kc_scope *s = kc_scope_new(err);
    kc_tensor *t = kc_scope_take(s, kc__metric_f32(y_true, err));
    bool reshape = false;
    /* labels (N, 1) against predictions (N, C): drop the 1 */
    if (kc_tensor_ndim(y_true) == kc_tensor_ndim(y_pred)) {
        t = kc_scope_take(s, squeeze_last_one(t, "sparse categorical accuracy", "y_true", err));
        reshape = true;
    }
    kc_tensor *am = kc_scope_take(s, kc_argmax(y_pred, -1, err));
    kc_tensor *p = kc_scope_take(s, kc__metric_f32(am, err));
    kc_error eq_err = {0};
    kc_tensor *m = t && p ? kc_scope_take(s, kc_equal(t, p, &eq_err)) : NULL;
    if (t && p && !m) { /* name the caller's shapes, not the argmax */
        if (eq_err.code == KC_ESHAPE)
            kc__metric_shape_error(err, "sparse categorical accuracy", "y_true", y_true, "y_pred",
                                   y_pred);
        else if (err && err->code == KC_OK)
            *err = eq_err;
    }
    kc_tensor *r;
    if (m && reshape && kc_tensor_size(m) != kc_tensor_size(y_true)) {
        kc__metric_shape_error(err, "sparse categorical accuracy", "y_true", y_true, "y_pred",
                               y_pred);
        r = NULL;
    } else {
        r = reshape ? kc_reshape(m, kc_tensor_ndim(y_true), kc_tensor_dims(y_true), err)
                    : kc_tensor_ref(m);
    }
    kc_scope_free(s);
    return r;
}

/* tf.math.in_top_k for one row. */
static bool in_top_k(const float *row, int64_t n_classes, double target, int64_t k)
{
    if (!(target >= 0 && target < (double)n_classes)) return false;
    int64_t t = (int64_t)target;
    float tp = row[t];
    if (!isfinite(tp)) return false;
    int64_t more = 0;
    for (int64_t i = 0; i < n_classes; i++) {
        if (!isfinite(row[i])) return false;
        if (row[i] > tp) more++;
    }
    return more < k;
}

kc_tensor *kc__sparse_top_k_matches(kc_tensor *y_true, kc_tensor *y_pred, int64_t k, kc_error *err)
{
    if (!y_true || !y_pred) return kc_equal(y_true, y_pred, err);
    if (kc_tensor_ndim(y_pred) < 2 || kc_tensor_ndim(y_true) < 1) {
        kc__metric_shape_error(err, "top-k categorical accuracy", "y_true", y_true, "y_pred",
                               y_pred);
        return NULL;
    }
    kc_tensor *p = kc__metric_f32(y_pred, err);
    if (!p) return NULL;
    int64_t n_classes = kc_tensor_dim(p, -1);
    int64_t rows = n_classes ? kc_tensor_size(p) / n_classes : 0;
    if (rows != kc_tensor_size(y_true)) {
        kc_tensor_unref(p);
        kc__metric_shape_error(err, "top-k categorical accuracy", "y_true", y_true, "y_pred",
                               y_pred);
        return NULL;
    }
    kc_tensor *r = kc_tensor_empty(KC_FLOAT32, kc_tensor_ndim(y_true), kc_tensor_dims(y_true), err);
    if (r) {
        const float *pd = kc_tensor_f32(p);
        float *out = kc_tensor_f32(r);
        for (int64_t b = 0; b < rows; b++)
            out[b] =
                in_top_k(pd + b * n_classes, n_classes, kc_tensor_get(y_true, b), k) ? 1.0f : 0.0f;
    }
    kc_tensor_unref(p);
    return r;
}

/* ---- the registered functions (per-sample values; metric_builtins.c) ------------- */

kc_tensor *kc__metric_fn_accuracy(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    (void)params;
    return kc__accuracy_matches(y_true, y_pred, err);
}

kc_tensor *kc__metric_fn_binary_accuracy(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                         kc_error *err)
{
    (void)params;
    kc_tensor *m = kc__binary_matches(y_true, y_pred, 0.5f, err);
    kc_tensor *r = kc_reduce_mean(m, (int[]){-1}, 1, false, err);
    kc_tensor_unref(m);
    return r;
}

kc_tensor *kc__metric_fn_categorical_accuracy(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                              kc_error *err)
{
    (void)params;
    kc_tensor *t = kc_argmax(y_true, -1, err);
    kc_tensor *r = kc__sparse_categorical_matches(t, y_pred, err);
    kc_tensor_unref(t);
    return r;
}

kc_tensor *kc__metric_fn_sparse_categorical_accuracy(kc_tensor *y_true, kc_tensor *y_pred,
                                                     void *params, kc_error *err)
{
    (void)params;
    kc_tensor *m = kc__sparse_categorical_matches(y_true, y_pred, err);
    /* Keras squeezes (N, 1) matches to (N,) */
    if (m && kc_tensor_ndim(m) > 1 && kc_tensor_dim(m, -1) == 1) {
        kc_tensor *q = kc_squeeze(m, -1, err);
        kc_tensor_unref(m);
        m = q;
    }
    return m;
}

kc_tensor *kc__metric_fn_top_k_categorical_accuracy(kc_tensor *y_true, kc_tensor *y_pred,
                                                    void *params, kc_error *err)
{
    (void)params;
    kc_tensor *t = kc_argmax(y_true, -1, err);
    kc_tensor *r = kc__sparse_top_k_matches(t, y_pred, 5, err);
    kc_tensor_unref(t);
    return r;
}

kc_tensor *kc__metric_fn_sparse_top_k_categorical_accuracy(kc_tensor *y_true, kc_tensor *y_pred,
                                                           void *params, kc_error *err)
{
    (void)params;
    return kc__sparse_top_k_matches(y_true, y_pred, 5, err);
}
