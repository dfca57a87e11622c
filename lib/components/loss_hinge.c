/* Hinge losses ("maximum-margin" losses in Keras): hinge, squared hinge and
 * categorical hinge.
 *
 * Keras expects hinge labels in {-1, 1} and converts {0, 1} labels for
 * you: when every value of y_true is 0 or 1, it uses 2 y - 1. The test
 * looks at the whole tensor, so a batch of all-zero labels is converted
 * too. TensorFlow.js does not convert (a known difference). */
#include "loss_int.h"

#define T(x) kc_scope_take(s, (x))

static const int last_axis[] = {-1};

static bool all_binary(const kc_tensor *y)
{
    int64_t n = kc_tensor_size(y);
    for (int64_t i = 0; i < n; i++) {
        double v = kc_tensor_get(y, i);
        if (v != 0.0 && v != 1.0) return false;
    }
    return true;
}

/* max(1 - y y_pred, 0) with Keras' label conversion. */
static kc_tensor *margin(kc_scope *s, kc_tensor *y_true, kc_tensor *y_pred, kc_error *err)
{
    kc_tensor *y = T(kc__loss_f32(y_true, err));
    if (y && all_binary(y)) y = T(kc_sub_scalar(T(kc_mul_scalar(y, 2.0f, err)), 1.0f, err));
    kc_tensor *m = T(kc_scalar_sub(1.0f, T(kc_mul(y, y_pred, err)), err));
    return T(kc_maximum_scalar(m, 0.0f, err));
}

/* mean(max(1 - y y_pred, 0)) */
kc_tensor *kc__loss_hinge(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    (void)params;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *r = kc_reduce_mean(margin(s, y_true, y_pred, err), last_axis, 1, false, err);
    kc_scope_free(s);
    return r;
}

/* mean(max(1 - y y_pred, 0)^2) */
kc_tensor *kc__loss_squared_hinge(kc_tensor *y_true, kc_tensor *y_pred, void *params, kc_error *err)
{
    (void)params;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *sq = T(kc_square(margin(s, y_true, y_pred, err), err));
    kc_tensor *r = kc_reduce_mean(sq, last_axis, 1, false, err);
    kc_scope_free(s);
    return r;
}

/* max(neg - pos + 1, 0) with pos = sum(y y_pred) and neg = max((1 - y)
 * y_pred) over the last axis: the margin between the true class's score
 * and the best other one (labels one-hot, not converted). */
kc_tensor *kc__loss_categorical_hinge(kc_tensor *y_true, kc_tensor *y_pred, void *params,
                                      kc_error *err)
{
    (void)params;
    kc_scope *s = kc_scope_new(err);
    kc_tensor *y = T(kc__loss_f32(y_true, err));
    kc_tensor *pos = T(kc_reduce_sum(T(kc_mul(y, y_pred, err)), last_axis, 1, false, err));
    kc_tensor *other = T(kc_mul(T(kc_scalar_sub(1.0f, y, err)), y_pred, err));
    kc_tensor *neg = T(kc_reduce_max(other, last_axis, 1, false, err));
    kc_tensor *r =
        kc_maximum_scalar(T(kc_add_scalar(T(kc_sub(neg, pos, err)), 1.0f, err)), 0.0f, err);
    kc_scope_free(s);
    return r;
}
