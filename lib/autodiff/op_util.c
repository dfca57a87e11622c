/* Machinery shared by the op families: argument checks, NumPy broadcasting
 * plans, strided block copies, reductions to a broadcast source shape, and
 * a few unrecorded elementwise helpers for backward functions.
 *
 * Broadcasting works on a "plan": the output dims with, for each operand, the
 * element stride it advances per output index (0 on broadcast axes).
 * Adjacent axes that every operand walks contiguously are merged, so a bias
 * add [N, C] + [C] becomes an outer loop of N and an inner loop of C, and a
 * same-shape add becomes one flat loop. The innermost stride of every
 * operand is then 0 or 1, which is what lets the inner kernels vectorize. */
#include "autodiff_int.h"

#include <math.h>
#include <string.h>

kc_status kc__check_f32(const char *name, kc_tensor *const *in, int n, kc_error *err)
{
    for (int i = 0; i < n; i++) {
        if (!in[i]) {
            if (err && err->code != KC_OK) return err->code; /* propagate the earlier error */
            return kc__errf(err, KC_EINVAL, "%s: input %d is NULL", name, i);
        }
    }
    for (int i = 0; i < n; i++) {
        if (in[i]->dtype != KC_FLOAT32)
            return kc__errf(err, KC_ETYPE, "%s: input %d is %s, expected float32", name, i,
                            kc_dtype_name(in[i]->dtype));
    }
    return KC_OK;
}

kc_status kc__broadcast_shape(const char *op, int nda, const int64_t *da, int ndb,
                              const int64_t *db, int *nd, int64_t *dims, kc_error *err)
{
    int n = nda > ndb ? nda : ndb;
    for (int i = 0; i < n; i++) {
        int ia = nda - n + i, ib = ndb - n + i;
        int64_t x = ia >= 0 ? da[ia] : 1, y = ib >= 0 ? db[ib] : 1;
        if (x == y || y == 1) {
            dims[i] = x;
        } else if (x == 1) {
            dims[i] = y;
        } else {
            char a[160], b[160];
            return kc__errf(err, KC_ESHAPE, "%s: shapes %s and %s cannot be broadcast", op,
                            kc__dims_format(nda, da, a, sizeof(a)),
                            kc__dims_format(ndb, db, b, sizeof(b)));
        }
    }
    *nd = n;
    return KC_OK;
}

void kc__contig_strides(int nd, const int64_t *dims, int64_t *strides)
{
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}

void kc__bcast_init(kc__bcast *p, int nd, const int64_t *dims, int n_ops,
                    const kc_tensor *const *ops)
{
    int64_t st[3][KC_MAX_DIMS];
    for (int k = 0; k < n_ops; k++) {
        const kc_tensor *t = ops[k];
        int64_t cs[KC_MAX_DIMS];
        kc__contig_strides(t->ndim, t->dims, cs);
        for (int i = 0; i < nd; i++) {
            int j = t->ndim - nd + i;
            st[k][i] = (j >= 0 && t->dims[j] != 1) ? cs[j] : 0;
        }
    }
    /* drop size-1 axes, then merge contiguous neighbours */
    p->nd = 0;
    p->n_ops = n_ops;
    for (int i = 0; i < nd; i++) {
        if (dims[i] == 1) continue;
        if (p->nd > 0) {
            int last = p->nd - 1;
            bool merge = true;
            for (int k = 0; k < n_ops && merge; k++)
                merge = p->strides[k][last] == st[k][i] * dims[i];
            if (merge) {
                p->dims[last] *= dims[i];
                for (int k = 0; k < n_ops; k++) p->strides[k][last] = st[k][i];
                continue;
            }
        }
        p->dims[p->nd] = dims[i];
        for (int k = 0; k < n_ops; k++) p->strides[k][p->nd] = st[k][i];
        p->nd++;
    }
    if (p->nd == 0) {
        p->nd = 1;
        p->dims[0] = 1;
        for (int k = 0; k < n_ops; k++) p->strides[k][0] = 0;
    }
}

void kc__strided_copy(int nd, const int64_t *dims, const char *src, const int64_t *src_strides,
                      char *dst, const int64_t *dst_strides, size_t elem)
{
    /* merge axes both sides walk contiguously; drop size-1 axes */
    int64_t d[KC_MAX_DIMS], ss[KC_MAX_DIMS], ds[KC_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < nd; i++) {
        if (dims[i] == 0) return;
        if (dims[i] == 1) continue;
        if (n > 0 && ss[n - 1] == src_strides[i] * dims[i] &&
            ds[n - 1] == dst_strides[i] * dims[i]) {
            d[n - 1] *= dims[i];
            ss[n - 1] = src_strides[i];
            ds[n - 1] = dst_strides[i];
            continue;
        }
        d[n] = dims[i];
        ss[n] = src_strides[i];
        ds[n] = dst_strides[i];
        n++;
    }
    if (n == 0) {
        memcpy(dst, src, elem);
        return;
    }
    int64_t inner = d[n - 1], si = ss[n - 1], di = ds[n - 1];
    int64_t outer = 1;
    for (int i = 0; i < n - 1; i++) outer *= d[i];
    int64_t idx[KC_MAX_DIMS] = {0};
    const char *s = src;
    char *t = dst;
    for (int64_t o = 0; o < outer; o++) {
        if (si == 1 && di == 1) {
            memcpy(t, s, (size_t)inner * elem);
        } else if (elem == 4) {
            const uint32_t *sp = (const uint32_t *)s;
            uint32_t *tp = (uint32_t *)t;
            for (int64_t j = 0; j < inner; j++) tp[j * di] = sp[j * si];
        } else {
            const uint64_t *sp = (const uint64_t *)s;
            uint64_t *tp = (uint64_t *)t;
            for (int64_t j = 0; j < inner; j++) tp[j * di] = sp[j * si];
        }
        /* advance the odometer over the outer axes */
        for (int i = n - 2; i >= 0; i--) {
            if (++idx[i] < d[i]) {
                s += ss[i] * (int64_t)elem;
                t += ds[i] * (int64_t)elem;
                break;
            }
            s -= ss[i] * (d[i] - 1) * (int64_t)elem;
            t -= ds[i] * (d[i] - 1) * (int64_t)elem;
            idx[i] = 0;
        }
    }
}

void kc__accumulate(kc_tensor *dst, const kc_tensor *src)
{
    float *restrict d = dst->data;
    const float *restrict s = src->data;
    for (int64_t i = 0; i < dst->size; i++) d[i] += s[i];
}

kc_tensor *kc__add_raw(kc_tensor *a, kc_tensor *b, kc_error *err)
{
    kc_tensor *out = kc__tensor_like(a, err);
    if (!out) return NULL;
    float *restrict o = out->data;
    const float *restrict x = a->data, *restrict y = b->data;
    for (int64_t i = 0; i < a->size; i++) o[i] = x[i] + y[i];
    return out;
}

kc_tensor *kc__mul_raw(kc_tensor *a, kc_tensor *b, kc_error *err)
{
    kc_tensor *out = kc__tensor_like(a, err);
    if (!out) return NULL;
    float *restrict o = out->data;
    const float *restrict x = a->data, *restrict y = b->data;
    for (int64_t i = 0; i < a->size; i++) o[i] = x[i] * y[i];
    return out;
}

/* ---- reductions -------------------------------------------------------------
 *
 * The input's axes are grouped into runs of reduced / kept axes (size-1 axes
 * dropped), so any reduction is an odometer over the outer runs plus one
 * inner loop: a kept inner run accumulates rows element-wise (column sums,
 * e.g. a bias gradient), a reduced inner run folds a contiguous row into one
 * value (e.g. a sum over the last axis). Sums accumulate in double. */

kc_tensor *kc__reduce_raw(kc_tensor *x, const bool *mask, kc__red_kind kind, kc_error *err)
{
    int64_t odims[KC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) odims[i] = mask[i] ? 1 : x->dims[i];
    kc_tensor *out = kc_tensor_empty(KC_FLOAT32, x->ndim, odims, err);
    if (!out) return NULL;
    int64_t osize = out->size;
    float *o = out->data;
    const float *in = x->data;
    double *acc = NULL;
    size_t acc_cap = 0;
    if (kind == KC__RED_SUM) {
        acc = kc__buffer_alloc((size_t)(osize ? osize : 1) * sizeof(double), &acc_cap);
        if (!acc) {
            kc_tensor_unref(out);
            kc__errf(err, KC_ENOMEM, "out of memory in a reduction");
            return NULL;
        }
        for (int64_t i = 0; i < osize; i++) acc[i] = 0.0;
    } else {
        float init = kind == KC__RED_MAX ? -INFINITY : kind == KC__RED_MIN ? INFINITY : 1.0f;
        for (int64_t i = 0; i < osize; i++) o[i] = init;
    }
    if (x->size == 0) goto done;

    /* runs of (size, reduced) */
    int64_t rs[KC_MAX_DIMS];
    bool rr[KC_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (x->dims[i] == 1) continue;
        if (n > 0 && rr[n - 1] == mask[i]) {
            rs[n - 1] *= x->dims[i];
        } else {
            rs[n] = x->dims[i];
            rr[n] = mask[i];
            n++;
        }
    }
    if (n == 0) {
        rs[0] = 1;
        rr[0] = false;
        n = 1;
    }
    /* output stride of each run (0 for reduced runs) */
    int64_t ost[KC_MAX_DIMS];
    {
        int64_t s = 1;
        for (int i = n - 1; i >= 0; i--) {
            ost[i] = rr[i] ? 0 : s;
            if (!rr[i]) s *= rs[i];
        }
    }
    int64_t inner = rs[n - 1];
    bool inner_reduced = rr[n - 1];
    int64_t outer = x->size / inner;
    int64_t idx[KC_MAX_DIMS] = {0};
    int64_t ooff = 0;
    for (int64_t q = 0; q < outer; q++) {
        const float *row = in + q * inner;
        if (inner_reduced) {
            switch (kind) {
            case KC__RED_SUM: {
                double s = 0.0;
                for (int64_t j = 0; j < inner; j++) s += row[j];
                acc[ooff] += s;
                break;
            }
            case KC__RED_MAX: {
                float m = o[ooff];
                for (int64_t j = 0; j < inner; j++) m = row[j] > m || isnan(row[j]) ? row[j] : m;
                o[ooff] = m;
                break;
            }
            case KC__RED_MIN: {
                float m = o[ooff];
                for (int64_t j = 0; j < inner; j++) m = row[j] < m || isnan(row[j]) ? row[j] : m;
                o[ooff] = m;
                break;
            }
            case KC__RED_PROD: {
                float p = o[ooff];
                for (int64_t j = 0; j < inner; j++) p *= row[j];
                o[ooff] = p;
                break;
            }
            }
        } else {
            switch (kind) {
            case KC__RED_SUM: {
                double *a = acc + ooff;
                for (int64_t j = 0; j < inner; j++) a[j] += row[j];
                break;
            }
            case KC__RED_MAX: {
                float *a = o + ooff;
                for (int64_t j = 0; j < inner; j++) a[j] = row[j] > a[j] || isnan(row[j]) ? row[j] : a[j];
                break;
            }
            case KC__RED_MIN: {
                float *a = o + ooff;
                for (int64_t j = 0; j < inner; j++) a[j] = row[j] < a[j] || isnan(row[j]) ? row[j] : a[j];
                break;
            }
            case KC__RED_PROD: {
                float *a = o + ooff;
                for (int64_t j = 0; j < inner; j++) a[j] *= row[j];
                break;
            }
            }
        }
        for (int i = n - 2; i >= 0; i--) {
            if (++idx[i] < rs[i]) {
                ooff += ost[i];
                break;
            }
            ooff -= ost[i] * (rs[i] - 1);
            idx[i] = 0;
        }
    }
done:
    if (acc) {
        for (int64_t i = 0; i < osize; i++) o[i] = (float)acc[i];
        kc__buffer_free(acc, acc_cap);
    }
    return out;
}

kc_tensor *kc__sum_to(kc_tensor *g, int ndim, const int64_t *dims, kc_error *err)
{
    bool mask[KC_MAX_DIMS];
    bool any = false;
    int off = g->ndim - ndim;
    if (off < 0) return kc__tensor_view(g, ndim, dims, err);
    for (int i = 0; i < g->ndim; i++) {
        int j = i - off;
        mask[i] = j < 0 || (dims[j] == 1 && g->dims[i] != 1);
        any |= mask[i] && g->dims[i] != 1;
    }
    if (!any) {
        if (g->ndim == ndim) return kc_tensor_ref(g);
        return kc__tensor_view(g, ndim, dims, err);
    }
    kc_tensor *r = kc__reduce_raw(g, mask, KC__RED_SUM, err);
    if (!r) return NULL;
    kc_tensor *v = kc__tensor_view(r, ndim, dims, err);
    kc_tensor_unref(r);
    return v;
}


