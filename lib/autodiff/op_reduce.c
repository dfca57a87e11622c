/* Reductions over axes (sum, mean, max, min, prod) and argmax / argmin.
 *
 * The work is done by kc__reduce_raw (op_util.c), which always produces the
 * keepdims shape; without keepdims the result is a view with the reduced
 * axes removed. Backward broadcasts the output gradient back over the
 * reduced axes:
 *   sum  -> g;  mean -> g / count;
 *   max/min -> g split equally between the positions equal to the result
 *              (TensorFlow's rule for ties);
 *   prod -> g * product of the other elements, computed with prefix and
 *           suffix products so that zeros are handled exactly. */
#include "autodiff_int.h"

#include <math.h>
#include <string.h>

/* attrs.i[0..ndim) = reduce mask, i[KC_MAX_DIMS] = keepdims */
static kc_status parse_axes(const char *name, const kc_tensor *x, const int *axes, int n_axes,
                            bool *mask, kc_error *err)
{
    if (n_axes < 0) return kc__errf(err, KC_EINVAL, "%s: negative axis count", name);
    if (!axes || n_axes == 0) {
        for (int i = 0; i < x->ndim; i++) mask[i] = true;
        return KC_OK;
    }
    for (int i = 0; i < x->ndim; i++) mask[i] = false;
    for (int k = 0; k < n_axes; k++) {
        int a;
        if (!kc__axis(axes[k], x->ndim, &a))
            return kc__errf(err, KC_EINVAL, "%s: axis %d is out of range for rank %d", name,
                            axes[k], x->ndim);
        mask[a] = true;
    }
    return KC_OK;
}

static kc_tensor *squeeze_view(kc_tensor *r, const bool *mask, kc_error *err)
{
    int64_t dims[KC_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < r->ndim; i++)
        if (!mask[i]) dims[nd++] = r->dims[i];
    kc_tensor *v = kc__tensor_view(r, nd, dims, err);
    kc_tensor_unref(r);
    return v;
}

static kc_tensor *reduce(kc__op op, const char *name, kc_tensor *x, const int *axes, int n_axes,
                         bool keepdims, kc_error *err)
{
    if (kc__check_f32(name, &x, 1, err) != KC_OK) return NULL;
    bool mask[KC_MAX_DIMS];
    if (parse_axes(name, x, axes, n_axes, mask, err) != KC_OK) return NULL;
    kc__red_kind kind = op == KC__OP_REDUCE_MAX    ? KC__RED_MAX
                        : op == KC__OP_REDUCE_MIN  ? KC__RED_MIN
                        : op == KC__OP_REDUCE_PROD ? KC__RED_PROD
                                                   : KC__RED_SUM;
    kc_tensor *r = kc__reduce_raw(x, mask, kind, err);
    if (!r) return NULL;
    if (op == KC__OP_REDUCE_MEAN) {
        int64_t count = 1;
        for (int i = 0; i < x->ndim; i++)
            if (mask[i]) count *= x->dims[i];
        float *p = r->data;
        for (int64_t i = 0; i < r->size; i++) p[i] = count ? (float)(p[i] / (double)count) : NAN;
    }
    if (!keepdims) {
        r = squeeze_view(r, mask, err);
        if (!r) return NULL;
    }
    kc__attrs at;
    memset(&at, 0, sizeof(at));
    for (int i = 0; i < x->ndim; i++) at.i[i] = mask[i];
    at.i[KC_MAX_DIMS] = keepdims;
    return kc__finish(op, r, &x, 1, &at, err);
}

kc_tensor *kc_reduce_sum(kc_tensor *x, const int *axes, int n, bool keepdims, kc_error *err)
{
    return reduce(KC__OP_REDUCE_SUM, "reduce_sum", x, axes, n, keepdims, err);
}
kc_tensor *kc_reduce_mean(kc_tensor *x, const int *axes, int n, bool keepdims, kc_error *err)
{
    return reduce(KC__OP_REDUCE_MEAN, "reduce_mean", x, axes, n, keepdims, err);
}
kc_tensor *kc_reduce_max(kc_tensor *x, const int *axes, int n, bool keepdims, kc_error *err)
{
    return reduce(KC__OP_REDUCE_MAX, "reduce_max", x, axes, n, keepdims, err);
}
kc_tensor *kc_reduce_min(kc_tensor *x, const int *axes, int n, bool keepdims, kc_error *err)
{
    return reduce(KC__OP_REDUCE_MIN, "reduce_min", x, axes, n, keepdims, err);
}
kc_tensor *kc_reduce_prod(kc_tensor *x, const int *axes, int n, bool keepdims, kc_error *err)
{
    return reduce(KC__OP_REDUCE_PROD, "reduce_prod", x, axes, n, keepdims, err);
}

/* ---- backward ------------------------------------------------------------------ */

/* Materialize t (keepdims shape) broadcast to x's shape, times scale. */
static kc_tensor *broadcast_like(kc_tensor *t, const kc_tensor *x, float scale, kc_error *err)
{
    kc_tensor *out = kc__tensor_like(x, err);
    if (!out || !out->size) return out;
    int64_t ts[KC_MAX_DIMS], os[KC_MAX_DIMS];
    kc__contig_strides(t->ndim, t->dims, ts);
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] == 1) ts[i] = 0;
    kc__contig_strides(x->ndim, x->dims, os);
    kc__strided_copy(x->ndim, x->dims, t->data, ts, out->data, os, sizeof(float));
    if (scale != 1.0f) {
        float *p = out->data;
        for (int64_t i = 0; i < out->size; i++) p[i] *= scale;
    }
    return out;
}

/* The node's output gradient (and output) seen with keepdims dims. */
static kc_tensor *keep_view(kc_tensor *t, const kc_tensor *x, const bool *mask, kc_error *err)
{
    int64_t dims[KC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = mask[i] ? 1 : x->dims[i];
    return kc__tensor_view(t, x->ndim, dims, err);
}

static kc_status prod_backward(kc_tensor *x, kc_tensor *g, const bool *mask, kc_tensor **out,
                               kc_error *err);

kc_status kc__reduce_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                              kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    kc_tensor *x = node->in[0];
    bool mask[KC_MAX_DIMS];
    int64_t count = 1;
    for (int i = 0; i < x->ndim; i++) {
        mask[i] = node->attrs.i[i] != 0;
        if (mask[i]) count *= x->dims[i];
    }
    kc_tensor *g = keep_view(gout[0], x, mask, err);
    if (!g) return kc__error_code(err, KC_ENOMEM);
    kc_status rc = KC_OK;
    switch (node->op) {
    case KC__OP_REDUCE_SUM: gin[0] = broadcast_like(g, x, 1.0f, err); break;
    case KC__OP_REDUCE_MEAN:
        gin[0] = broadcast_like(g, x, count ? (float)(1.0 / (double)count) : 0.0f, err);
        break;
    case KC__OP_REDUCE_MAX:
    case KC__OP_REDUCE_MIN: {
        kc_tensor *y = keep_view(node->out[0], x, mask, err);
        kc_tensor *yb = y ? broadcast_like(y, x, 1.0f, err) : NULL;
        kc_tensor_unref(y);
        if (!yb) break;
        /* yb <- indicator (x == y); then count the ties per output */
        float *ind = yb->data;
        const float *xv = x->data;
        for (int64_t i = 0; i < x->size; i++) ind[i] = xv[i] == ind[i] ? 1.0f : 0.0f;
        kc_tensor *cnt = kc__reduce_raw(yb, mask, KC__RED_SUM, err);
        if (!cnt) {
            kc_tensor_unref(yb);
            break;
        }
        float *c = cnt->data;
        const float *gv = g->data;
        for (int64_t i = 0; i < cnt->size; i++) c[i] = c[i] > 0.0f ? gv[i] / c[i] : 0.0f;
        kc_tensor *share = broadcast_like(cnt, x, 1.0f, err);
        kc_tensor_unref(cnt);
        if (share) {
            float *s = share->data;
            for (int64_t i = 0; i < x->size; i++) s[i] *= ind[i];
        }
        kc_tensor_unref(yb);
        gin[0] = share;
        break;
    }
    case KC__OP_REDUCE_PROD: rc = prod_backward(x, g, mask, &gin[0], err); break;
    default: rc = kc__errf(err, KC_EINTERNAL, "reduce_backward: unexpected op");
    }
    kc_tensor_unref(g);
    if (rc == KC_OK && !gin[0]) rc = kc__error_code(err, KC_ENOMEM);
    return rc;
}

static kc_status prod_backward(kc_tensor *x, kc_tensor *g, const bool *mask, kc_tensor **out,
                               kc_error *err)
{
    /* permute so the reduced axes come last: rows of length R */
    int perm[KC_MAX_DIMS], inv[KC_MAX_DIMS], np = 0;
    int64_t pd[KC_MAX_DIMS], R = 1;
    for (int i = 0; i < x->ndim; i++)
        if (!mask[i]) perm[np++] = i;
    for (int i = 0; i < x->ndim; i++)
        if (mask[i]) {
            perm[np++] = i;
            R *= x->dims[i];
        }
    for (int i = 0; i < x->ndim; i++) {
        pd[i] = x->dims[perm[i]];
        inv[perm[i]] = i;
    }
    kc_tensor *xp = kc_tensor_empty(KC_FLOAT32, x->ndim, pd, err);
    kc_tensor *gp = xp ? kc__tensor_like(xp, err) : NULL;
    if (!gp) {
        kc_tensor_unref(xp);
        return kc__error_code(err, KC_ENOMEM);
    }
    int64_t xs[KC_MAX_DIMS], ps[KC_MAX_DIMS], cs[KC_MAX_DIMS];
    kc__contig_strides(x->ndim, x->dims, xs);
    for (int i = 0; i < x->ndim; i++) ps[i] = xs[perm[i]];
    kc__contig_strides(x->ndim, pd, cs);
    kc__strided_copy(x->ndim, pd, x->data, ps, xp->data, cs, sizeof(float));
    const float *xv = xp->data, *gv = g->data;
    float *gr = gp->data;
    int64_t M = R ? x->size / R : 0;
    for (int64_t m = 0; m < M; m++) {
        const float *row = xv + m * R;
        float *grow = gr + m * R;
        float pre = 1.0f;
        for (int64_t j = 0; j < R; j++) { /* prefix products */
            grow[j] = pre;
            pre *= row[j];
        }
        float suf = 1.0f;
        for (int64_t j = R - 1; j >= 0; j--) { /* times suffix products */
            grow[j] *= suf * gv[m];
            suf *= row[j];
        }
    }
    /* back to x's axis order */
    kc_tensor *res = kc__tensor_like(x, err);
    if (res) {
        int64_t src[KC_MAX_DIMS];
        for (int i = 0; i < x->ndim; i++) src[i] = cs[inv[i]];
        kc__strided_copy(x->ndim, x->dims, gp->data, src, res->data, xs, sizeof(float));
    }
    kc_tensor_unref(xp);
    kc_tensor_unref(gp);
    *out = res;
    return res ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* ---- argmax / argmin ------------------------------------------------------------- */

static kc_tensor *arg_extreme(const char *name, kc_tensor *x, int axis, bool want_max,
                              kc_error *err)
{
    if (kc__check_f32(name, &x, 1, err) != KC_OK) return NULL;
    int a;
    if (!kc__axis(axis, x->ndim, &a)) {
        kc__errf(err, KC_EINVAL, "%s: axis %d is out of range for rank %d", name, axis, x->ndim);
        return NULL;
    }
    if (x->dims[a] == 0) {
        kc__errf(err, KC_EINVAL, "%s: axis %d is empty", name, axis);
        return NULL;
    }
    int64_t dims[KC_MAX_DIMS], outer = 1, inner = 1, n = x->dims[a];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i < a) outer *= x->dims[i];
        if (i > a) inner *= x->dims[i];
        if (i != a) dims[nd++] = x->dims[i];
    }
    kc_tensor *out = kc_tensor_empty(KC_INT64, nd, dims, err);
    if (!out) return NULL;
    const float *xv = x->data;
    int64_t *ov = out->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            const float *p = xv + o * n * inner + i;
            int64_t best = 0;
            float bv = p[0];
            for (int64_t j = 1; j < n; j++) {
                float v = p[j * inner];
                if (isnan(bv)) break;
                if (isnan(v) || (want_max ? v > bv : v < bv)) {
                    bv = v;
                    best = j;
                }
            }
            ov[o * inner + i] = best;
        }
    }
    return out;
}

kc_tensor *kc_argmax(kc_tensor *x, int axis, kc_error *err) { return arg_extreme("argmax", x, axis, true, err); }
kc_tensor *kc_argmin(kc_tensor *x, int axis, kc_error *err) { return arg_extreme("argmin", x, axis, false, err); }
