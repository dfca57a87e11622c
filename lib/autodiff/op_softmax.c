/* softmax and log_softmax along one axis.
 *
 * The tensor is seen as [outer, n, inner] with the axis in the middle; for
 * the usual last axis inner is 1 and every row is contiguous. Both subtract
 * the row maximum first, so large logits do not overflow. Backward:
 *   softmax:     gx = y * (g - sum(g * y))
 *   log_softmax: gx = g - exp(y) * sum(g) */
#include "autodiff_int.h"
#include "kernels.h"
#include "vmath.h"

#include <math.h>

static bool split_axis(const kc_tensor *x, int axis, int64_t *outer, int64_t *n, int64_t *inner)
{
    int a;
    if (!kc__axis(axis, x->ndim, &a)) return false;
    *outer = 1;
    *inner = 1;
    for (int i = 0; i < a; i++) *outer *= x->dims[i];
    for (int i = a + 1; i < x->ndim; i++) *inner *= x->dims[i];
    *n = x->dims[a];
    return true;
}

/* The exp pass is a separate loop (it vectorizes); the sum stays in
 * order, in double. */
KC__VECTORIZE static void exp_shifted(const float *restrict x, float *restrict y, int64_t n, int64_t stride,
                                      float m)
{
    if (stride == 1) {
        for (int64_t j = 0; j < n; j++) y[j] = kc__expf(x[j] - m);
    } else {
        for (int64_t j = 0; j < n; j++) y[j * stride] = kc__expf(x[j * stride] - m);
    }
}

void kc__softmax_rows(const float *x, float *y, int64_t outer, int64_t n, int64_t inner, bool log_form)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *xp = x + o * n * inner + i;
            float *yp = y + o * n * inner + i;
            float m = -INFINITY;
            for (int64_t j = 0; j < n; j++) m = fmaxf(m, xp[j * inner]);
            if (isinf(m) && m < 0) m = 0.0f; /* all -inf: avoid inf - inf */
            double s = 0.0;
            exp_shifted(xp, yp, n, inner, m);
            for (int64_t j = 0; j < n; j++) s += yp[j * inner];
            if (log_form) {
                float ls = (float)log(s);
                for (int64_t j = 0; j < n; j++) yp[j * inner] = xp[j * inner] - m - ls;
            } else {
                float inv = (float)(1.0 / s);
                for (int64_t j = 0; j < n; j++) yp[j * inner] *= inv;
            }
        }
    }
}

static kc_tensor *softmax_op(kc__op op, kc_tensor *x, int axis, kc_error *err)
{
    const char *name = kc__op_table[op].name;
    if (kc__check_f32(name, &x, 1, err) != KC_OK) return NULL;
    int64_t outer, n, inner;
    if (!split_axis(x, axis, &outer, &n, &inner)) {
        kc__errf(err, KC_EINVAL, "%s: axis %d is out of range for rank %d", name, axis, x->ndim);
        return NULL;
    }
    kc_tensor *y = kc__tensor_like(x, err);
    if (!y) return NULL;
    kc__softmax_rows(x->data, y->data, outer, n, inner, op == KC__OP_LOG_SOFTMAX);
    kc__attrs at = {.i = {axis}};
    return kc__finish(op, y, &x, 1, &at, err);
}

kc_tensor *kc_softmax(kc_tensor *x, int axis, kc_error *err) { return softmax_op(KC__OP_SOFTMAX, x, axis, err); }
kc_tensor *kc_log_softmax(kc_tensor *x, int axis, kc_error *err) { return softmax_op(KC__OP_LOG_SOFTMAX, x, axis, err); }

kc_status kc__softmax_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                               kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    kc_tensor *x = node->in[0];
    int64_t outer = 0, n = 0, inner = 0;
    if (!split_axis(x, (int)node->attrs.i[0], &outer, &n, &inner))
        return kc__errf(err, KC_EINTERNAL, "softmax backward: bad axis");
    kc_tensor *gx = kc__tensor_like(x, err);
    if (!gx) return kc__error_code(err, KC_ENOMEM);
    const float *y = node->out[0]->data, *g = gout[0]->data;
    float *d = gx->data;
    bool log_form = node->op == KC__OP_LOG_SOFTMAX;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            double s = 0.0;
            if (log_form) {
                for (int64_t j = 0; j < n; j++) s += g[base + j * inner];
                for (int64_t j = 0; j < n; j++) {
                    int64_t k = base + j * inner;
                    d[k] = g[k] - kc__expf(y[k]) * (float)s;
                }
            } else {
                for (int64_t j = 0; j < n; j++) s += (double)g[base + j * inner] * y[base + j * inner];
                for (int64_t j = 0; j < n; j++) {
                    int64_t k = base + j * inner;
                    d[k] = y[k] * (g[k] - (float)s);
                }
            }
        }
    }
    gin[0] = gx;
    return KC_OK;
}
