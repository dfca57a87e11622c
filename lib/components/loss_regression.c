/* Regression losses (Keras' "regression losses" group): mean squared,
 * absolute, absolute percentage and squared logarithmic error, Huber,
 * log-cosh and cosine similarity.
 *
 * Each is a chain of ops, so tapes differentiate it; the formulas are
 * Keras' own, down to where epsilon guards a division or a logarithm,
 * because a loss that is "the same up to epsilon" gives different numbers
 * exactly at the edges (zero targets, zero vectors) users test first. The
 * reduction over the last axis is a mean, as in Keras. */
#include "loss_int.h"

#include <math.h>

#define T(x) kc_scope_take(s, (x))

static const int last_axis[] = {-1};

/* mean(f(y_pred - y_true), axis=-1) for the element-wise f of the losses
 * below. */
typedef kc_tensor *(*elementwise)(kc_scope *s, kc_tensor *diff, const kc__loss_params *p,
                                  kc_error *err);

static kc_tensor *mean_of_diff(kc_tensor *y_true, kc_tensor *y_pred, const void *params,
                               elementwise f, kc_error *err)
{
    kc_scope *s = kc_scope_new(err);
    kc_tensor *yt = T(kc__loss_f32(y_true, err));
    kc_tensor *d = T(kc_sub(y_pred, yt, err));
    kc_tensor *e = d ? T(f(s, d, kc__loss_p(params), err)) : NULL;
    kc_tensor *r = kc_reduce_mean(e, last_axis, 1, false, err);
    kc_scope_free(s);
    return r;
}

static kc_tensor *squared(kc_scope *s, kc_tensor *d, const kc__loss_params *p, kc_error *err)
{
    (void)s, (void)p;
    return kc_square(d, err);
}

static kc_tensor *absolute(kc_scope *s, kc_tensor *d, const kc__loss_params *p, kc_error *err)
{
    (void)s, (void)p;
    return kc_abs(d, err);
}

/* 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2. tf.where sends
 * the gradient of the branch taken, so at |e| == delta it is e's. */
static kc_tensor *huber_elem(kc_scope *s, kc_tensor *d, const kc__loss_params *p, kc_error *err)
{
    float delta = (float)p->delta;
    kc_tensor *a = T(kc_abs(d, err));
    kc_tensor *quad = T(kc_mul_scalar(T(kc_square(d, err)), 0.5f, err));
    kc_tensor *lin = T(kc_sub_scalar(T(kc_mul_scalar(a, delta, err)), 0.5f * (delta * delta), err));
    kc_tensor *linear_part = T(kc_greater_scalar(a, delta, err));
    return kc_where(linear_part, lin, quad, err);
}

/* log(cosh(x)) = x + softplus(-2x) - log(2): Keras' form, finite where
 * cosh overflows. */
static kc_tensor *log_cosh_elem(kc_scope *s, kc_tensor *d, const kc__loss_params *p, kc_error *err)
{
    (void)p;
    kc_tensor *sp = T(kc_softplus(T(kc_mul_scalar(d, -2.0f, err)), err));
    return kc_sub_scalar(T(kc_add(d, sp, err)), (float)log(2.0), err);
}

kc_tensor *kc__loss_mse(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    return mean_of_diff(y_true, y_pred, params, squared, err);
}

kc_tensor *kc__loss_mae(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    return mean_of_diff(y_true, y_pred, params, absolute, err);
}

kc_tensor *kc__loss_huber(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    return mean_of_diff(y_true, y_pred, params, huber_elem, err);
}

kc_tensor *kc__loss_log_cosh(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    return mean_of_diff(y_true, y_pred, params, log_cosh_elem, err);
}

/* 100 * mean(|y_true - y_pred| / max(|y_true|, eps)) */
kc_tensor *kc__loss_mape(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    (void)params;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *yt = T(kc__loss_f32(y_true, err));
    kc_tensor *den = T(kc_maximum_scalar(T(kc_abs(yt, err)), KC__LOSS_EPS, err));
    kc_tensor *q = T(kc_abs(T(kc_div(T(kc_sub(yt, y_pred, err)), den, err)), err));
    kc_tensor *r = kc_mul_scalar(T(kc_reduce_mean(q, last_axis, 1, false, err)), 100.0f, err);
    kc_scope_free(s);
    return r;
}

/* mean((log(max(y_pred, eps) + 1) - log(max(y_true, eps) + 1))^2). Keras
 * adds 1 then takes the log (not log1p), and so do we, to round alike. */
kc_tensor *kc__loss_msle(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    (void)params;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *yt = T(kc__loss_f32(y_true, err));
    kc_tensor *lp = T(
        kc_log(T(kc_add_scalar(T(kc_maximum_scalar(y_pred, KC__LOSS_EPS, err)), 1.0f, err)), err));
    kc_tensor *lt =
        T(kc_log(T(kc_add_scalar(T(kc_maximum_scalar(yt, KC__LOSS_EPS, err)), 1.0f, err)), err));
    kc_tensor *r =
        kc_reduce_mean(T(kc_square(T(kc_sub(lp, lt, err)), err)), last_axis, 1, false, err);
    kc_scope_free(s);
    return r;
}

/* tf.linalg.l2_normalize: x / sqrt(max(sum(x^2, axis), 1e-12)). A zero
 * vector stays zero, so its similarity with anything is 0. */
static kc_tensor *l2_normalize(kc_scope *s, kc_tensor *x, int axis, kc_error *err)
{
    kc_tensor *ss = T(kc_reduce_sum(T(kc_square(x, err)), &axis, 1, true, err));
    kc_tensor *inv = T(kc_rsqrt(T(kc_maximum_scalar(ss, 1e-12f, err)), err));
    return T(kc_mul(x, inv, err));
}

/* -sum(l2_normalize(y_true) * l2_normalize(y_pred), axis): Keras 2 and 3
 * both return the negative similarity, so that minimizing it aligns the
 * vectors. */
kc_tensor *kc__loss_cosine_similarity(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                      kc_error *err)
{
    int axis = kc__loss_p(params)->axis;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *yt = T(kc__loss_f32(y_true, err));
    kc_tensor *a = l2_normalize(s, yt, axis, err);
    kc_tensor *b = l2_normalize(s, y_pred, axis, err);
    kc_tensor *r = kc_neg(T(kc_reduce_sum(T(kc_mul(a, b, err)), &axis, 1, false, err)), err);
    kc_scope_free(s);
    return r;
}
