/* Type conversion, one-hot encoding and stop_gradient. */
#include "autodiff_int.h"

#include <math.h>
#include <string.h>

/* float -> integer conversion that is defined for every input: truncation
 * toward zero, NaN -> 0, saturation at the type's range (C leaves
 * out-of-range conversions undefined). */
static int64_t f2i64(double v, int64_t lo, int64_t hi)
{
    if (isnan(v)) return 0;
    if (v <= (double)lo) return lo;
    if (v >= (double)hi) return hi;
    return (int64_t)v;
}

kc_tensor *kc_cast(kc_tensor *x, kc_dtype dtype, kc_error *err)
{
    if (!x) {
        if (!(err && err->code != KC_OK)) kc__errf(err, KC_EINVAL, "cast: input is NULL");
        return NULL;
    }
    if ((unsigned)dtype >= KC_DTYPE_COUNT) {
        kc__errf(err, KC_EINVAL, "cast: invalid dtype %d", (int)dtype);
        return NULL;
    }
    if (dtype == x->dtype) return kc_tensor_ref(x); /* as TF: casting to the same type is identity */
    kc_tensor *y = kc_tensor_empty(dtype, x->ndim, x->dims, err);
    if (!y) return NULL;
    int64_t n = x->size;
    for (int64_t i = 0; i < n; i++) {
        double v = kc_tensor_get(x, i);
        switch (dtype) {
        case KC_FLOAT32: ((float *)y->data)[i] = (float)v; break;
        case KC_INT32:
            ((int32_t *)y->data)[i] =
                x->dtype == KC_INT64 ? (int32_t)((int64_t *)x->data)[i]
                                     : (int32_t)f2i64(v, INT32_MIN, INT32_MAX);
            break;
        case KC_INT64:
            ((int64_t *)y->data)[i] = x->dtype == KC_INT32 ? ((int32_t *)x->data)[i]
                                                            : f2i64(v, INT64_MIN, INT64_MAX);
            break;
        default: break;
        }
    }
    return y;
}

kc_tensor *kc_one_hot(kc_tensor *indices, int64_t depth, kc_error *err)
{
    if (!indices) {
        if (!(err && err->code != KC_OK)) kc__errf(err, KC_EINVAL, "one_hot: input is NULL");
        return NULL;
    }
    if (depth < 0 || indices->ndim >= KC_MAX_DIMS) {
        kc__errf(err, KC_EINVAL, "one_hot: bad depth %lld or rank %d", (long long)depth,
                 indices->ndim);
        return NULL;
    }
    int64_t d[KC_MAX_DIMS];
    memcpy(d, indices->dims, sizeof(int64_t) * (size_t)indices->ndim);
    d[indices->ndim] = depth;
    kc_tensor *y = kc_tensor_zeros(KC_FLOAT32, indices->ndim + 1, d, err);
    if (!y) return NULL;
    float *yv = y->data;
    for (int64_t i = 0; i < indices->size; i++) {
        double v = kc_tensor_get(indices, i);
        if (v >= 0 && v < (double)depth && v == floor(v)) yv[i * depth + (int64_t)v] = 1.0f;
    }
    return y;
}

kc_tensor *kc_stop_gradient(kc_tensor *x, kc_error *err)
{
    if (!x) {
        if (!(err && err->code != KC_OK)) kc__errf(err, KC_EINVAL, "stop_gradient: input is NULL");
        return NULL;
    }
    /* a view with a new identity: tapes have never seen it */
    return kc__tensor_view(x, x->ndim, x->dims, err);
}
