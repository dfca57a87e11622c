/* Shape ops: reshape (a view), transpose, concat, slice / split, gather,
 * pad and broadcast_to. All work for any dtype; gradients flow for float32.
 *
 * Every data movement is one kc__strided_copy: a transpose reads with
 * permuted strides, a slice reads at an offset, a concat or pad writes at an
 * offset, a broadcast reads with zero strides. Backward of each is the
 * opposite movement (slice <-> pad, concat -> slices, gather -> scatter-add,
 * broadcast -> sum). */
#include "autodiff_int.h"

#include <string.h>

static bool check_input(const char *name, kc_tensor *x, kc_error *err)
{
    if (x) return true;
    if (!(err && err->code != KC_OK)) kc__errf(err, KC_EINVAL, "%s: input is NULL", name);
    return false;
}

/* ---- reshape ------------------------------------------------------------- */

kc_tensor *kc_reshape(kc_tensor *x, int ndim, const int64_t *dims, kc_error *err)
{
    if (!check_input("reshape", x, err)) return NULL;
    if (ndim < 0 || ndim > KC_MAX_DIMS || (ndim && !dims)) {
        kc__errf(err, KC_EINVAL, "reshape: rank %d is outside 0..%d", ndim, KC_MAX_DIMS);
        return NULL;
    }
    int64_t d[KC_MAX_DIMS], known = 1;
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        d[i] = dims[i];
        if (d[i] == -1) {
            if (infer >= 0) {
                kc__errf(err, KC_EINVAL, "reshape: only one dimension may be -1");
                return NULL;
            }
            infer = i;
        } else if (d[i] < 0) {
            kc__errf(err, KC_EINVAL, "reshape: invalid dimension %lld", (long long)d[i]);
            return NULL;
        } else if (!kc__mul_i64(known, d[i], &known)) {
            kc__errf(err, KC_ELIMIT, "reshape: element count overflows");
            return NULL;
        }
    }
    if (infer >= 0) {
        if (known == 0 || x->size % known) {
            char a[160], b[160];
            kc__errf(err, KC_ESHAPE, "reshape: cannot reshape %s into %s",
                     kc__dims_format(x->ndim, x->dims, a, sizeof(a)),
                     kc__dims_format(ndim, dims, b, sizeof(b)));
            return NULL;
        }
        d[infer] = x->size / known;
    }
    kc_tensor *y = kc__tensor_view(x, ndim, d, err);
    if (!y) {
        /* kc__tensor_view names both shapes; say which op */
        kc__error_context(err, "reshape");
        return NULL;
    }
    return kc__finish(KC__OP_RESHAPE, y, &x, 1, NULL, err);
}

kc_tensor *kc_expand_dims(kc_tensor *x, int axis, kc_error *err)
{
    if (!check_input("expand_dims", x, err)) return NULL;
    int a;
    if (x->ndim >= KC_MAX_DIMS || !kc__axis(axis, x->ndim + 1, &a)) {
        kc__errf(err, KC_EINVAL, "expand_dims: axis %d is out of range for rank %d", axis, x->ndim);
        return NULL;
    }
    int64_t d[KC_MAX_DIMS];
    for (int i = 0, j = 0; i <= x->ndim; i++) d[i] = i == a ? 1 : x->dims[j++];
    return kc_reshape(x, x->ndim + 1, d, err);
}

kc_tensor *kc_squeeze(kc_tensor *x, int axis, kc_error *err)
{
    if (!check_input("squeeze", x, err)) return NULL;
    int a;
    if (!kc__axis(axis, x->ndim, &a) || x->dims[a] != 1) {
        char s[160];
        kc__errf(err, KC_EINVAL, "squeeze: axis %d of shape %s is not of size 1", axis,
                 kc__dims_format(x->ndim, x->dims, s, sizeof(s)));
        return NULL;
    }
    int64_t d[KC_MAX_DIMS];
    for (int i = 0, j = 0; i < x->ndim; i++)
        if (i != a) d[j++] = x->dims[i];
    return kc_reshape(x, x->ndim - 1, d, err);
}

kc_status kc__reshape_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                               kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    gin[0] = kc__tensor_view(gout[0], node->in[0]->ndim, node->in[0]->dims, err);
    return gin[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* ---- transpose -------------------------------------------------------------- */

static kc_tensor *transpose_raw(kc_tensor *x, const int *perm, kc_error *err)
{
    int64_t d[KC_MAX_DIMS], xs[KC_MAX_DIMS], src[KC_MAX_DIMS], ds[KC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) d[i] = x->dims[perm[i]];
    kc_tensor *y = kc_tensor_empty(x->dtype, x->ndim, d, err);
    if (!y || !y->size) return y;
    kc__contig_strides(x->ndim, x->dims, xs);
    for (int i = 0; i < x->ndim; i++) src[i] = xs[perm[i]];
    kc__contig_strides(x->ndim, d, ds);
    kc__strided_copy(x->ndim, d, x->data, src, y->data, ds, kc_dtype_size(x->dtype));
    return y;
}

kc_tensor *kc_transpose(kc_tensor *x, const int *perm, kc_error *err)
{
    if (!check_input("transpose", x, err)) return NULL;
    int p[KC_MAX_DIMS];
    bool seen[KC_MAX_DIMS] = {false};
    for (int i = 0; i < x->ndim; i++) {
        int a = perm ? perm[i] : x->ndim - 1 - i;
        if (!kc__axis(a, x->ndim, &a) || seen[a]) {
            kc__errf(err, KC_EINVAL, "transpose: perm is not a permutation of 0..%d", x->ndim - 1);
            return NULL;
        }
        seen[a] = true;
        p[i] = a;
    }
    kc_tensor *y = transpose_raw(x, p, err);
    kc__attrs at;
    memset(&at, 0, sizeof(at));
    for (int i = 0; i < x->ndim; i++) at.i[i] = p[i];
    return y && y->dtype == KC_FLOAT32 ? kc__finish(KC__OP_TRANSPOSE, y, &x, 1, &at, err) : y;
}

kc_status kc__transpose_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                                 kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    int inv[KC_MAX_DIMS];
    for (int i = 0; i < node->in[0]->ndim; i++) inv[node->attrs.i[i]] = i;
    gin[0] = transpose_raw(gout[0], inv, err);
    return gin[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

/* ---- concat ------------------------------------------------------------------ */

kc_tensor *kc_concat(kc_tensor *const *xs, int n, int axis, kc_error *err)
{
    if (n < 1 || !xs) {
        kc__errf(err, KC_EINVAL, "concat: needs at least one tensor");
        return NULL;
    }
    for (int k = 0; k < n; k++)
        if (!check_input("concat", xs[k], err)) return NULL;
    const kc_tensor *x0 = xs[0];
    int a;
    if (!kc__axis(axis, x0->ndim, &a)) {
        kc__errf(err, KC_EINVAL, "concat: axis %d is out of range for rank %d", axis, x0->ndim);
        return NULL;
    }
    int64_t d[KC_MAX_DIMS];
    memcpy(d, x0->dims, sizeof(d));
    d[a] = 0;
    for (int k = 0; k < n; k++) {
        const kc_tensor *x = xs[k];
        bool ok = x->ndim == x0->ndim && x->dtype == x0->dtype;
        for (int i = 0; ok && i < x->ndim; i++) ok = i == a || x->dims[i] == x0->dims[i];
        if (!ok) {
            char s0[160], s1[160];
            kc__errf(err, x->dtype != x0->dtype ? KC_ETYPE : KC_ESHAPE,
                     "concat: input %d (%s %s) does not match input 0 (%s %s) on axes other than %d",
                     k, kc_dtype_name(x->dtype), kc__dims_format(x->ndim, x->dims, s1, sizeof(s1)),
                     kc_dtype_name(x0->dtype), kc__dims_format(x0->ndim, x0->dims, s0, sizeof(s0)),
                     axis);
            return NULL;
        }
        d[a] += x->dims[a];
    }
    kc_tensor *y = kc_tensor_empty(x0->dtype, x0->ndim, d, err);
    if (!y) return NULL;
    size_t es = kc_dtype_size(x0->dtype);
    int64_t ys[KC_MAX_DIMS], off = 0;
    kc__contig_strides(y->ndim, y->dims, ys);
    for (int k = 0; k < n; k++) {
        const kc_tensor *x = xs[k];
        int64_t xst[KC_MAX_DIMS];
        kc__contig_strides(x->ndim, x->dims, xst);
        if (x->size)
            kc__strided_copy(x->ndim, x->dims, x->data, xst, (char *)y->data + off * ys[a] * (int64_t)es,
                             ys, es);
        off += x->dims[a];
    }
    if (y->dtype != KC_FLOAT32) return y;
    kc__attrs at = {.i = {a}};
    if (kc__recording() && kc__record(KC__OP_CONCAT, xs, n, &y, 1, &at, NULL, 0, NULL, err) != KC_OK) {
        kc_tensor_unref(y);
        return NULL;
    }
    return y;
}

/* Copy the block of `big` starting at begin (shape of small) into small, or
 * the other way round. */
static void block_copy(kc_tensor *big, kc_tensor *small, const int64_t *begin, bool to_small)
{
    if (!small->size) return;
    int64_t bs[KC_MAX_DIMS], ss[KC_MAX_DIMS], off = 0;
    size_t es = kc_dtype_size(big->dtype);
    kc__contig_strides(big->ndim, big->dims, bs);
    kc__contig_strides(small->ndim, small->dims, ss);
    for (int i = 0; i < big->ndim; i++) off += begin[i] * bs[i];
    char *bp = (char *)big->data + off * (int64_t)es;
    if (to_small)
        kc__strided_copy(small->ndim, small->dims, bp, bs, small->data, ss, es);
    else
        kc__strided_copy(small->ndim, small->dims, small->data, ss, bp, bs, es);
}

kc_status kc__concat_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                              kc_tensor **gin, kc_error *err)
{
    int a = (int)node->attrs.i[0];
    int64_t begin[KC_MAX_DIMS] = {0};
    for (int k = 0; k < node->n_in; k++) {
        kc_tensor *x = node->in[k];
        if (needs[k]) {
            gin[k] = kc__tensor_like(x, err);
            if (!gin[k]) return kc__error_code(err, KC_ENOMEM);
            block_copy(gout[0], gin[k], begin, true);
        }
        begin[a] += x->dims[a];
    }
    return KC_OK;
}

/* ---- slice / split ------------------------------------------------------------- */

kc_tensor *kc_slice(kc_tensor *x, const int64_t *begin, const int64_t *size, kc_error *err)
{
    if (!check_input("slice", x, err)) return NULL;
    if (x->ndim && (!begin || !size)) {
        kc__errf(err, KC_EINVAL, "slice: begin and size are required");
        return NULL;
    }
    int64_t d[KC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        int64_t b = begin[i], s = size[i] == -1 ? x->dims[i] - begin[i] : size[i];
        if (b < 0 || s < 0 || b > x->dims[i] || s > x->dims[i] - b) {
            char sh[160];
            kc__errf(err, KC_EINVAL,
                     "slice: begin %lld size %lld is outside axis %d of shape %s", (long long)b,
                     (long long)size[i], i, kc__dims_format(x->ndim, x->dims, sh, sizeof(sh)));
            return NULL;
        }
        d[i] = s;
    }
    kc_tensor *y = kc_tensor_empty(x->dtype, x->ndim, d, err);
    if (!y) return NULL;
    block_copy(x, y, begin, true);
    if (y->dtype != KC_FLOAT32) return y;
    kc__attrs at;
    memset(&at, 0, sizeof(at));
    for (int i = 0; i < x->ndim; i++) at.i[i] = begin[i];
    return kc__finish(KC__OP_SLICE, y, &x, 1, &at, err);
}

kc_status kc__slice_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                             kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    gin[0] = kc__tensor_zeros_like(node->in[0], err);
    if (!gin[0]) return kc__error_code(err, KC_ENOMEM);
    block_copy(gin[0], gout[0], node->attrs.i, false);
    return KC_OK;
}

kc_status kc_split(kc_tensor *x, int n, const int64_t *sizes, int axis, kc_tensor **outs,
                   kc_error *err)
{
    if (outs)
        for (int k = 0; k < n; k++) outs[k] = NULL;
    if (!check_input("split", x, err)) return kc__error_code(err, KC_EINVAL);
    int a;
    if (n < 1 || !outs || !kc__axis(axis, x->ndim, &a))
        return kc__errf(err, KC_EINVAL, "split: bad part count %d or axis %d for rank %d", n, axis,
                        x->ndim);
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        int64_t s = sizes ? sizes[k] : x->dims[a] / n;
        if (s < 0) return kc__errf(err, KC_EINVAL, "split: negative part size");
        total += s;
    }
    if (total != x->dims[a])
        return kc__errf(err, KC_ESHAPE, "split: parts add up to %lld, axis %d has %lld",
                        (long long)total, axis, (long long)x->dims[a]);
    int64_t begin[KC_MAX_DIMS] = {0}, size[KC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) size[i] = -1;
    for (int k = 0; k < n; k++) {
        size[a] = sizes ? sizes[k] : x->dims[a] / n;
        outs[k] = kc_slice(x, begin, size, err);
        if (!outs[k]) {
            for (int j = 0; j < k; j++) {
                kc_tensor_unref(outs[j]);
                outs[j] = NULL;
            }
            return kc__error_code(err, KC_ENOMEM);
        }
        begin[a] += size[a];
    }
    return KC_OK;
}

/* ---- gather -------------------------------------------------------------------- */

kc_tensor *kc_gather(kc_tensor *params, kc_tensor *indices, int axis, kc_error *err)
{
    if (!check_input("gather", params, err) || !check_input("gather", indices, err)) return NULL;
    if (indices->dtype != KC_INT32 && indices->dtype != KC_INT64) {
        kc__errf(err, KC_ETYPE, "gather: indices must be int32 or int64, got %s",
                 kc_dtype_name(indices->dtype));
        return NULL;
    }
    int a;
    if (!kc__axis(axis, params->ndim, &a)) {
        kc__errf(err, KC_EINVAL, "gather: axis %d is out of range for rank %d", axis, params->ndim);
        return NULL;
    }
    int nd = params->ndim - 1 + indices->ndim;
    if (nd > KC_MAX_DIMS) {
        kc__errf(err, KC_EINVAL, "gather: result would have rank %d > %d", nd, KC_MAX_DIMS);
        return NULL;
    }
    int64_t d[KC_MAX_DIMS], outer = 1, inner = 1, n = params->dims[a];
    int k = 0;
    for (int i = 0; i < a; i++) {
        d[k++] = params->dims[i];
        outer *= params->dims[i];
    }
    for (int i = 0; i < indices->ndim; i++) d[k++] = indices->dims[i];
    for (int i = a + 1; i < params->ndim; i++) {
        d[k++] = params->dims[i];
        inner *= params->dims[i];
    }
    int64_t nidx = indices->size;
    for (int64_t j = 0; j < nidx; j++) {
        int64_t v = (int64_t)kc_tensor_get(indices, j);
        if (v < 0 || v >= n) {
            kc__errf(err, KC_EINVAL, "gather: index %lld (position %lld) is outside [0, %lld)",
                     (long long)v, (long long)j, (long long)n);
            return NULL;
        }
    }
    kc_tensor *y = kc_tensor_empty(params->dtype, nd, d, err);
    if (!y) return NULL;
    size_t es = kc_dtype_size(params->dtype), row = (size_t)inner * es;
    const char *pv = params->data;
    char *yv = y->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < nidx; j++) {
            int64_t v = (int64_t)kc_tensor_get(indices, j);
            memcpy(yv + (o * nidx + j) * (int64_t)row, pv + (o * n + v) * (int64_t)row, row);
        }
    if (y->dtype != KC_FLOAT32) return y;
    kc__attrs at = {.i = {a}};
    kc_tensor *in[2] = {params, indices};
    return kc__finish(KC__OP_GATHER, y, in, 2, &at, err);
}

kc_status kc__gather_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                              kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    kc_tensor *params = node->in[0], *indices = node->in[1];
    int a = (int)node->attrs.i[0];
    int64_t outer = 1, inner = 1, n = params->dims[a];
    for (int i = 0; i < a; i++) outer *= params->dims[i];
    for (int i = a + 1; i < params->ndim; i++) inner *= params->dims[i];
    kc_tensor *gp = kc__tensor_zeros_like(params, err);
    if (!gp) return kc__error_code(err, KC_ENOMEM);
    const float *g = gout[0]->data;
    float *d = gp->data;
    int64_t nidx = indices->size;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < nidx; j++) {
            int64_t v = (int64_t)kc_tensor_get(indices, j);
            float *dst = d + (o * n + v) * inner;
            const float *src = g + (o * nidx + j) * inner;
            for (int64_t t = 0; t < inner; t++) dst[t] += src[t];
        }
    gin[0] = gp;
    return KC_OK;
}

/* ---- pad ------------------------------------------------------------------------- */

kc_tensor *kc_pad(kc_tensor *x, const int64_t *paddings, float value, kc_error *err)
{
    if (!check_input("pad", x, err)) return NULL;
    if (x->ndim && !paddings) {
        kc__errf(err, KC_EINVAL, "pad: paddings is NULL");
        return NULL;
    }
    int64_t d[KC_MAX_DIMS], begin[KC_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) {
        int64_t lo = paddings[2 * i], hi = paddings[2 * i + 1];
        if (lo < 0 || hi < 0 || lo > INT64_MAX / 4 || hi > INT64_MAX / 4) {
            kc__errf(err, KC_EINVAL, "pad: paddings of axis %d must be >= 0, got (%lld, %lld)", i,
                     (long long)lo, (long long)hi);
            return NULL;
        }
        d[i] = x->dims[i] + lo + hi;
        begin[i] = lo;
    }
    kc_tensor *y = kc_tensor_full(x->dtype, x->ndim, d, value, err);
    if (!y) return NULL;
    block_copy(y, x, begin, false);
    if (y->dtype != KC_FLOAT32) return y;
    kc__attrs at;
    memset(&at, 0, sizeof(at));
    for (int i = 0; i < x->ndim; i++) at.i[i] = begin[i];
    return kc__finish(KC__OP_PAD, y, &x, 1, &at, err);
}

kc_status kc__pad_backward(const kc__node *node, kc_tensor *const *gout, const bool *needs,
                           kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    gin[0] = kc__tensor_like(node->in[0], err);
    if (!gin[0]) return kc__error_code(err, KC_ENOMEM);
    block_copy(gout[0], gin[0], node->attrs.i, true);
    return KC_OK;
}

/* ---- broadcast_to ------------------------------------------------------------------ */

kc_tensor *kc_broadcast_to(kc_tensor *x, int ndim, const int64_t *dims, kc_error *err)
{
    if (!check_input("broadcast_to", x, err)) return NULL;
    int nd;
    int64_t d[KC_MAX_DIMS];
    if (ndim < x->ndim || ndim > KC_MAX_DIMS || (ndim && !dims)) {
        kc__errf(err, KC_EINVAL, "broadcast_to: target rank %d is below the input's %d", ndim,
                 x->ndim);
        return NULL;
    }
    if (kc__broadcast_shape("broadcast_to", x->ndim, x->dims, ndim, dims, &nd, d, err) != KC_OK)
        return NULL;
    for (int i = 0; i < ndim; i++) {
        if (d[i] != dims[i]) {
            char a[160], b[160];
            kc__errf(err, KC_ESHAPE, "broadcast_to: %s cannot be broadcast to %s",
                     kc__dims_format(x->ndim, x->dims, a, sizeof(a)),
                     kc__dims_format(ndim, dims, b, sizeof(b)));
            return NULL;
        }
    }
    kc_tensor *y = kc_tensor_empty(x->dtype, ndim, dims, err);
    if (!y) return NULL;
    if (y->size) {
        int64_t xs[KC_MAX_DIMS], src[KC_MAX_DIMS], ys[KC_MAX_DIMS];
        kc__contig_strides(x->ndim, x->dims, xs);
        for (int i = 0; i < ndim; i++) {
            int j = i - (ndim - x->ndim);
            src[i] = (j >= 0 && x->dims[j] != 1) ? xs[j] : 0;
        }
        kc__contig_strides(ndim, dims, ys);
        kc__strided_copy(ndim, dims, x->data, src, y->data, ys, kc_dtype_size(x->dtype));
    }
    if (y->dtype != KC_FLOAT32) return y;
    return kc__finish(KC__OP_BROADCAST_TO, y, &x, 1, NULL, err);
}

kc_status kc__broadcast_to_backward(const kc__node *node, kc_tensor *const *gout,
                                    const bool *needs, kc_tensor **gin, kc_error *err)
{
    if (!needs[0]) return KC_OK;
    gin[0] = kc__sum_to(gout[0], node->in[0]->ndim, node->in[0]->dims, err);
    return gin[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}
