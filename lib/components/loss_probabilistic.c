/* Probabilistic losses (Keras' group of that name): binary, categorical and
 * sparse categorical crossentropy, Kullback-Leibler divergence, Poisson.
 *
 * Probabilities are clipped to [eps, 1 - eps] (eps = 1e-7) before their
 * logarithm, as Keras does, so an exact 0 or 1 gives a large finite loss
 * and a zero gradient instead of inf/NaN. With from_logits the losses use
 * the stable logit forms (TensorFlow's sigmoid / softmax cross-entropy with
 * logits), which never clip. */
#include "loss_int.h"

#define T(x) kc_scope_take(s, (x))

static const int last_axis[] = {-1};
#define ONE_MINUS_EPS ((float)(1.0 - 1e-7)) /* Keras' 1 - epsilon(), in float32 */

/* TensorFlow's sigmoid_cross_entropy_with_logits: with z the logits,
 * max(z, 0) - z y + log(1 + exp(-|z|)), written with where() on z >= 0
 * as TF does so that the gradient at z = 0 is sigmoid(0) - y. */
static kc_tensor *sigmoid_ce_with_logits(kc_scope *s, kc_tensor *y, kc_tensor *z, kc_error *err)
{
    kc_tensor *neg = T(kc_less_scalar(z, 0.0f, err));
    kc_tensor *zero = T(kc_tensor_scalar(0.0f, err));
    kc_tensor *relu_z = T(kc_where(neg, zero, z, err));
    kc_tensor *neg_abs = T(kc_where(neg, z, T(kc_neg(z, err)), err));
    kc_tensor *l1p = T(kc_log1p(T(kc_exp(neg_abs, err)), err));
    return T(kc_add(T(kc_sub(relu_z, T(kc_mul(z, y, err)), err)), l1p, err));
}

/* mean over axis of -(y log p + (1 - y) log(1 - p)), p clipped (Keras 3 and
 * TensorFlow.js; tf.keras 2 also adds eps inside both logarithms). Labels
 * are smoothed towards 0.5: y (1 - s) + s / 2. */
kc_tensor *kc__loss_binary_crossentropy(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                        kc_error *err)
{
    const kc__loss_params *p = kc__loss_p(params);
    kc_scope *s = kc_scope_new(err);
    kc_tensor *y = T(kc__loss_f32(y_true, err)), *r = NULL;
    if (!y || !y_pred || kc__loss_same_shape("binary crossentropy", y, y_pred, err) != KC_OK)
        goto out;
    if (p->label_smoothing != 0.0) {
        float ls = (float)p->label_smoothing;
        y = T(kc_add_scalar(T(kc_mul_scalar(y, 1.0f - ls, err)), 0.5f * ls, err));
    }
    kc_tensor *ce;
    if (p->from_logits) {
        ce = sigmoid_ce_with_logits(s, y, y_pred, err);
    } else {
        kc_tensor *pc = T(kc_clip(y_pred, KC__LOSS_EPS, ONE_MINUS_EPS, err));
        kc_tensor *a = T(kc_mul(y, T(kc_log(pc, err)), err));
        kc_tensor *b = T(kc_mul(T(kc_scalar_sub(1.0f, y, err)),
                                T(kc_log(T(kc_scalar_sub(1.0f, pc, err)), err)), err));
        ce = T(kc_neg(T(kc_add(a, b, err)), err));
    }
    r = kc_reduce_mean(ce, &p->axis, 1, false, err);
out:
    kc_scope_free(s);
    return r;
}

/* -sum(y log p, axis). Probabilities are first divided by their sum over
 * the axis (Keras renormalizes), then clipped; with logits, -sum(y
 * log_softmax(z)). Labels are smoothed towards uniform: y (1 - s) + s / C,
 * C being the size of y_true's last axis, as in Keras. */
kc_tensor *kc__loss_categorical_crossentropy(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                             kc_error *err)
{
    const kc__loss_params *p = kc__loss_p(params);
    kc_scope *s = kc_scope_new(err);
    kc_tensor *y = T(kc__loss_f32(y_true, err)), *r = NULL;
    if (!y || !y_pred || kc__loss_same_shape("categorical crossentropy", y, y_pred, err) != KC_OK)
        goto out;
    if (kc_tensor_ndim(y_pred) < 1) {
        kc__errf(err, KC_ESHAPE, "categorical crossentropy needs y_pred of rank >= 1");
        goto out;
    }
    int axis = p->axis;
    if (p->label_smoothing != 0.0) {
        float ls = (float)p->label_smoothing, c = (float)kc_tensor_dim(y, -1);
        y = T(kc_add_scalar(T(kc_mul_scalar(y, 1.0f - ls, err)), ls / c, err));
    }
    kc_tensor *logp;
    if (p->from_logits) {
        logp = T(kc_log_softmax(y_pred, axis, err));
    } else {
        kc_tensor *sum = T(kc_reduce_sum(y_pred, &axis, 1, true, err));
        kc_tensor *norm = T(kc_div(y_pred, sum, err));
        logp = T(kc_log(T(kc_clip(norm, KC__LOSS_EPS, ONE_MINUS_EPS, err)), err));
    }
    r = kc_neg(T(kc_reduce_sum(T(kc_mul(y, logp, err)), &axis, 1, false, err)), err);
out:
    kc_scope_free(s);
    return r;
}

/* Integer class ids from sparse labels: y_true of shape y_pred.shape[:-1]
 * (or with a trailing 1), int32/int64 or float (truncated toward zero, as
 * Keras' cast to int64). Labels equal to ignore_class become 0 and are
 * marked in *keep (float 0/1, shaped like the labels); others must be in
 * [0, n_classes), as TensorFlow requires. */
static kc_status sparse_labels(const kc_tensor *y_true, const kc_tensor *y_pred,
                               const kc__loss_params *p, kc_tensor **labels, kc_tensor **keep,
                               kc_error *err)
{
    *labels = *keep = NULL;
    int rp = kc_tensor_ndim(y_pred), rt = kc_tensor_ndim(y_true);
    if (rp < 1)
        return kc__errf(err, KC_ESHAPE,
                        "sparse categorical crossentropy needs y_pred of rank >= 1");
    if (rt == rp && kc_tensor_dim(y_true, -1) == 1) rt--; /* [N, 1] labels */
    bool ok = rt == rp - 1;
    for (int i = 0; ok && i < rt; i++)
        ok = kc_tensor_dim(y_true, i) == kc_tensor_dim(y_pred, i);
    if (!ok) {
        kc_shape a = kc_tensor_shape(y_true), b = kc_tensor_shape(y_pred);
        char sa[96], sb[96];
        return kc__errf(err, KC_ESHAPE,
                        "sparse categorical crossentropy needs labels shaped like y_pred without "
                        "its last axis, got labels %s for y_pred %s",
                        kc_shape_format(&a, sa, sizeof(sa)), kc_shape_format(&b, sb, sizeof(sb)));
    }
    int64_t n = kc_tensor_size(y_true), c = kc_tensor_dim(y_pred, -1);
    kc_tensor *lab = kc_tensor_empty(KC_INT64, rt, kc_tensor_dims(y_pred), err);
    kc_tensor *kp = kc_tensor_empty(KC_FLOAT32, rt, kc_tensor_dims(y_pred), err);
    if (!lab || !kp) goto fail;
    int64_t *li = kc_tensor_data(lab);
    float *kf = kc_tensor_f32(kp);
    for (int64_t i = 0; i < n; i++) {
        double v = kc_tensor_get(y_true, i);
        if (!(v > -9.2e18 && v < 9.2e18)) {
            kc__errf(err, KC_EINVAL, "sparse categorical crossentropy: label %g is not a class id",
                     v);
            goto fail;
        }
        int64_t id = (int64_t)v;
        bool ignored = p->has_ignore_class && id == p->ignore_class;
        if (!ignored && (id < 0 || id >= c)) {
            kc__errf(err, KC_EINVAL,
                     "sparse categorical crossentropy: label %lld is outside the valid range "
                     "[0, %lld)",
                     (long long)id, (long long)c);
            goto fail;
        }
        li[i] = ignored ? 0 : id;
        kf[i] = ignored ? 0.0f : 1.0f;
    }
    *labels = lab;
    *keep = kp;
    return KC_OK;
fail:
    kc_tensor_unref(lab);
    kc_tensor_unref(kp);
    return kc__error_code(err, KC_ENOMEM);
}

/* -log_softmax(logits)[label], where the logits are y_pred (from_logits)
 * or log(clip(y_pred)) -- which renormalizes the probabilities, as
 * TensorFlow's sparse_softmax_cross_entropy_with_logits does in Keras.
 * Samples whose label is ignore_class get loss 0 (and no gradient);
 * kc_loss_compute leaves them out of the average. */
kc_tensor *kc__loss_sparse_categorical_crossentropy(kc_tensor *y_true, kc_tensor *y_pred,
                                                    void *params, kc_error *err)
{
    const kc__loss_params *p = kc__loss_p(params);
    if (!y_true || !y_pred) return kc_neg(NULL, err);
    kc_tensor *labels, *keep;
    if (sparse_labels(y_true, y_pred, p, &labels, &keep, err) != KC_OK) return NULL;
    kc_scope *s = kc_scope_new(err);
    labels = T(labels);
    keep = T(keep);
    kc_tensor *logits = p->from_logits
                            ? y_pred
                            : T(kc_log(T(kc_clip(y_pred, KC__LOSS_EPS, ONE_MINUS_EPS, err)), err));
    kc_tensor *ls = T(kc_log_softmax(logits, -1, err));
    kc_tensor *oh = T(kc_one_hot(labels, kc_tensor_dim(y_pred, -1), err));
    kc_tensor *ce =
        T(kc_neg(T(kc_reduce_sum(T(kc_mul(oh, ls, err)), last_axis, 1, false, err)), err));
    kc_tensor *r = p->has_ignore_class ? kc_where(keep, ce, T(kc_tensor_scalar(0.0f, err)), err)
                                       : kc_tensor_ref(ce);
    kc_scope_free(s);
    return r;
}

/* sum(y log(y / p)) with both clipped to [eps, 1]. */
kc_tensor *kc__loss_kl_divergence(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    (void)params;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *y = T(kc_clip(T(kc__loss_f32(y_true, err)), KC__LOSS_EPS, 1.0f, err));
    kc_tensor *pc = T(kc_clip(y_pred, KC__LOSS_EPS, 1.0f, err));
    kc_tensor *t = T(kc_mul(y, T(kc_log(T(kc_div(y, pc, err)), err)), err));
    kc_tensor *r = kc_reduce_sum(t, last_axis, 1, false, err);
    kc_scope_free(s);
    return r;
}

/* mean(y_pred - y_true log(y_pred + eps)) */
kc_tensor *kc__loss_poisson(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    (void)params;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *y = T(kc__loss_f32(y_true, err));
    kc_tensor *lg = T(kc_log(T(kc_add_scalar(y_pred, KC__LOSS_EPS, err)), err));
    kc_tensor *t = T(kc_sub(y_pred, T(kc_mul(y, lg, err)), err));
    kc_tensor *r = kc_reduce_mean(t, last_axis, 1, false, err);
    kc_scope_free(s);
    return r;
}
