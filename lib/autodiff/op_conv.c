/* Convolutions (regular, grouped, depthwise, transposed) over 1 to 3
 * spatial axes, channels last, as custom-gradient ops.
 *
 * How it works. A convolution of x (batch, in..., cin) with a Keras kernel
 * w (k..., cin/groups, cout) is, per group, one matrix product
 *     Y[M, cout_g] = col[M, taps * cin_g] @ W[taps * cin_g, cout_g]
 * where M = batch * prod(out) and row r of col holds the input values the
 * window of output position r sees (im2col; zeros where it reads padding).
 * Keras' kernel layout is already W, row-major. The three products of a
 * training step are
 *     forward            Y  = col @ W               (+ bias)
 *     input gradient     dcol = G @ W^T, scattered back onto dx (col2im)
 *     kernel gradient    dW = col^T @ G             (bias: column sums of G)
 * all through kc__sgemm. col is built for a block of rows at a time, small
 * enough to stay in cache between im2col and the GEMM that reads it, in one
 * recycled buffer (kc__buffer_alloc); backward rebuilds it instead of
 * keeping a copy per call on the tape. A 1x1 kernel with stride 1 and no
 * padding needs no im2col: x itself is col.
 *
 * When every group has a single input channel (DepthwiseConv2D; a Conv2D
 * on one-channel images) the products degenerate to dot products of length
 * `taps`, and direct loops over (row, tap, channel) are much faster than
 * GEMMs with one column.
 *
 * A transposed convolution is the input gradient of the convolution going
 * the other way, so it reuses the same three kernels with the roles of
 * forward and input gradient swapped (as TensorFlow's conv2d_transpose is
 * conv2d_backprop_input). */
#include "conv_int.h"
#include "../core/blas_int.h"
#include "../core/conv_backend.h"

#include <string.h>

/* Bytes of im2col rows built at once. */
#define COL_BLOCK_BYTES ((size_t)1 << 20)

/* ---- geometry ---------------------------------------------------------------------------- */

int64_t kc__conv_out_length(int64_t in, int64_t k, kc__padding padding, int64_t stride,
                            int64_t dilation)
{
    if (in < 0) return -1;
    int64_t dk = (k - 1) * dilation + 1;
    int64_t len = padding == KC__PAD_VALID ? in - dk + 1 : in;
    return len <= 0 ? len : (len + stride - 1) / stride;
}

int64_t kc__deconv_out_length(int64_t in, int64_t k, kc__padding padding, int64_t output_padding,
                              int64_t stride, int64_t dilation)
{
    if (in < 0) return -1;
    int64_t dk = (k - 1) * dilation + 1;
    if (output_padding < 0)
        return padding == KC__PAD_VALID ? in * stride + (dk - stride > 0 ? dk - stride : 0)
                                        : in * stride;
    int64_t pad = padding == KC__PAD_SAME ? dk / 2 : 0;
    return (in - 1) * stride + dk - 2 * pad + output_padding;
}

kc_status kc__conv_geom_init(kc__conv_geom *g, const int64_t *in, kc__padding padding,
                             kc_error *err)
{
    for (int d = 0; d < g->nsp; d++) {
        int64_t dk = (g->k[d] - 1) * g->dilation[d] + 1;
        g->in[d] = in[d];
        g->out[d] = kc__conv_out_length(in[d], g->k[d], padding, g->stride[d], g->dilation[d]);
        if (g->out[d] <= 0)
            return kc__errf(err, KC_ESHAPE,
                            "spatial axis %d of size %lld is smaller than the window of size %lld "
                            "(kernel %lld, dilation %lld) with padding 'valid'",
                            d + 1, (long long)in[d], (long long)dk, (long long)g->k[d],
                            (long long)g->dilation[d]);
        if (padding == KC__PAD_VALID) {
            g->pad[d] = 0;
        } else if (padding == KC__PAD_CAUSAL) {
            g->pad[d] = dk - 1;
        } else {
            int64_t total = (g->out[d] - 1) * g->stride[d] + dk - in[d];
            g->pad[d] = total > 0 ? total / 2 : 0;
        }
    }
    return KC_OK;
}

void kc__conv_plan_init(const kc__conv_geom *g, kc__conv_plan *t)
{
    int off = 3 - g->nsp;
    for (int d = 0; d < 3; d++) {
        t->in[d] = t->out[d] = t->k[d] = t->s[d] = t->d[d] = 1;
        t->p[d] = 0;
    }
    for (int d = 0; d < g->nsp; d++) {
        t->in[d + off] = g->in[d];
        t->out[d + off] = g->out[d];
        t->k[d + off] = g->k[d];
        t->s[d + off] = g->stride[d];
        t->d[d + off] = g->dilation[d];
        t->p[d + off] = g->pad[d];
    }
    t->nsp = g->nsp;
    t->n = g->batch;
    t->cin = g->cin;
    t->cout = g->cout;
    t->groups = g->groups;
    t->cg = g->cin / g->groups;
    t->coutg = g->cout / g->groups;
    t->taps = t->k[0] * t->k[1] * t->k[2];
    t->kg = t->taps * t->cg;
    t->m = t->n * t->out[0] * t->out[1] * t->out[2];
    t->direct = t->taps == 1 && t->s[0] == 1 && t->s[1] == 1 && t->s[2] == 1 && t->p[0] == 0 &&
                t->p[1] == 0 && t->p[2] == 0;
}

void kc__conv_row_taps(const kc__conv_plan *t, int64_t r, int64_t *toff)
{
    int64_t ox = r % t->out[2], q = r / t->out[2];
    int64_t oy = q % t->out[1];
    q /= t->out[1];
    int64_t oz = q % t->out[0], b = q / t->out[0];
    int64_t i = 0;
    for (int64_t kz = 0; kz < t->k[0]; kz++) {
        int64_t iz = oz * t->s[0] - t->p[0] + kz * t->d[0];
        bool vz = iz >= 0 && iz < t->in[0];
        for (int64_t ky = 0; ky < t->k[1]; ky++) {
            int64_t iy = oy * t->s[1] - t->p[1] + ky * t->d[1];
            bool vy = vz && iy >= 0 && iy < t->in[1];
            for (int64_t kx = 0; kx < t->k[2]; kx++, i++) {
                int64_t ix = ox * t->s[2] - t->p[2] + kx * t->d[2];
                toff[i] = vy && ix >= 0 && ix < t->in[2]
                              ? (((b * t->in[0] + iz) * t->in[1] + iy) * t->in[2] + ix) * t->cin
                              : -1;
            }
        }
    }
}

/* dx += the rows of col scattered back to where im2col took them from. */
static void col2im(const kc__conv_plan *t, const float *col, int64_t r0, int64_t nr, int64_t c0, float *dx,
                   int64_t *toff)
{
    for (int64_t r = 0; r < nr; r++) {
        kc__conv_row_taps(t, r0 + r, toff);
        const float *src = col + r * t->kg;
        for (int64_t i = 0; i < t->taps; i++, src += t->cg) {
            if (toff[i] < 0) continue;
            float *d = dx + toff[i] + c0;
            for (int64_t c = 0; c < t->cg; c++) d[c] += src[c];
        }
    }
}

/* Rows per im2col block. */
static int64_t block_rows(const kc__conv_plan *t)
{
    int64_t rows = (int64_t)(COL_BLOCK_BYTES / sizeof(float)) / (t->kg > 0 ? t->kg : 1);
    if (rows < 32) rows = 32;
    return rows < t->m ? rows : t->m;
}

/* Scratch for one call: the tap offsets and an im2col block. */
typedef struct scratch {
    int64_t *toff;
    float *col;
    size_t col_cap;
} scratch;

static kc_status scratch_init(scratch *s, const kc__conv_plan *t, bool with_col, kc_error *err)
{
    s->col = NULL;
    s->col_cap = 0;
    s->toff = kc__malloc_array((size_t)t->taps, sizeof(int64_t));
    if (!s->toff) return kc__errf(err, KC_ENOMEM, "out of memory (convolution scratch)");
    if (with_col && !t->direct) {
        size_t n;
        int64_t rows = block_rows(t);
        if (!kc__mul_size((size_t)(rows > 0 ? rows : 1), (size_t)(t->kg > 0 ? t->kg : 1), &n) ||
            !(s->col = kc__buffer_alloc(n * sizeof(float), &s->col_cap))) {
            kc__free(s->toff);
            return kc__errf(err, KC_ENOMEM, "out of memory (convolution buffer)");
        }
    }
    return KC_OK;
}

static void scratch_fini(scratch *s)
{
    kc__free(s->toff);
    if (s->col) kc__buffer_free(s->col, s->col_cap);
}

/* ---- the three kernels ----------------------------------------------------------------- */

/* dx += the input gradient of conv for output gradient gy. */
static void conv_backward_input(const kc__conv_plan *t, const float *gy, const float *w, float *dx,
                                scratch *s)
{
    if (t->cg == 1 && !t->direct) {
        int64_t dm = t->coutg;
        for (int64_t r = 0; r < t->m; r++) {
            kc__conv_row_taps(t, r, s->toff);
            const float *gr = gy + r * t->cout;
            for (int64_t i = 0; i < t->taps; i++) {
                if (s->toff[i] < 0) continue;
                float *dr = dx + s->toff[i];
                const float *wr = w + i * t->cout;
                if (dm == 1) {
                    for (int64_t c = 0; c < t->cout; c++) dr[c] += gr[c] * wr[c];
                } else {
                    for (int64_t c = 0; c < t->cin; c++) {
                        float acc = 0.0f;
                        for (int64_t q = 0; q < dm; q++) acc += gr[c * dm + q] * wr[c * dm + q];
                        dr[c] += acc;
                    }
                }
            }
        }
        return;
    }
    int64_t rows = block_rows(t);
    for (int64_t r0 = 0; r0 < t->m; r0 += rows) {
        int64_t nr = t->m - r0 < rows ? t->m - r0 : rows;
        for (int64_t j = 0; j < t->groups; j++) {
            const float *g = gy + r0 * t->cout + j * t->coutg, *wj = w + j * t->coutg;
            if (t->direct) {
                kc__sgemm(false, true, nr, t->cg, t->coutg, 1.0f, g, t->cout, wj, t->cout, 1.0f,
                          dx + r0 * t->cin + j * t->cg, t->cin);
            } else {
                kc__sgemm(false, true, nr, t->kg, t->coutg, 1.0f, g, t->cout, wj, t->cout, 0.0f,
                          s->col, t->kg);
                col2im(t, s->col, r0, nr, j * t->cg, dx, s->toff);
            }
        }
    }
}

/* dw += the kernel gradient of conv for input x and output gradient gy. */
static void conv_backward_kernel(const kc__conv_plan *t, const float *x, const float *gy, float *dw,
                                 scratch *s)
{
    if (t->cg == 1 && !t->direct) {
        int64_t dm = t->coutg;
        for (int64_t r = 0; r < t->m; r++) {
            kc__conv_row_taps(t, r, s->toff);
            const float *gr = gy + r * t->cout;
            for (int64_t i = 0; i < t->taps; i++) {
                if (s->toff[i] < 0) continue;
                const float *xr = x + s->toff[i];
                float *dr = dw + i * t->cout;
                if (dm == 1) {
                    for (int64_t c = 0; c < t->cout; c++) dr[c] += xr[c] * gr[c];
                } else {
                    for (int64_t c = 0; c < t->cin; c++)
                        for (int64_t q = 0; q < dm; q++) dr[c * dm + q] += xr[c] * gr[c * dm + q];
                }
            }
        }
        return;
    }
    int64_t rows = block_rows(t);
    for (int64_t r0 = 0; r0 < t->m; r0 += rows) {
        int64_t nr = t->m - r0 < rows ? t->m - r0 : rows;
        for (int64_t j = 0; j < t->groups; j++) {
            const float *a = x + r0 * t->cin + j * t->cg;
            int64_t lda = t->cin;
            if (!t->direct) {
                kc__im2col(t, x, r0, nr, j * t->cg, s->col, s->toff);
                a = s->col;
                lda = t->kg;
            }
            kc__sgemm(true, false, t->kg, t->coutg, nr, 1.0f, a, lda, gy + r0 * t->cout + j * t->coutg,
                      t->cout, 1.0f, dw + j * t->coutg, t->cout);
        }
    }
}

/* out[i, c] = b[c] for every row i (or zeros). */
static void fill_bias(float *out, int64_t rows, int64_t c, const float *b)
{
    if (!b) {
        memset(out, 0, sizeof(float) * (size_t)(rows * c));
        return;
    }
    for (int64_t i = 0; i < rows; i++) memcpy(out + i * c, b, sizeof(float) * (size_t)c);
}

/* db[c] = sum over rows of g[:, c], accumulated in double. */
static kc_tensor *bias_grad(const float *g, int64_t rows, int64_t c, kc_error *err)
{
    kc_tensor *db = kc_tensor_empty(KC_FLOAT32, 1, &c, err);
    size_t cap;
    double *acc = db ? kc__buffer_alloc(sizeof(double) * (size_t)(c ? c : 1), &cap) : NULL;
    if (!acc) {
        kc_tensor_unref(db);
        if (db) kc__errf(err, KC_ENOMEM, "out of memory (bias gradient)");
        return NULL;
    }
    memset(acc, 0, sizeof(double) * (size_t)c);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < c; j++) acc[j] += g[i * c + j];
    float *d = db->data;
    for (int64_t j = 0; j < c; j++) d[j] = (float)acc[j];
    kc__buffer_free(acc, cap);
    return db;
}

/* ---- the ops ---------------------------------------------------------------------------- */

typedef struct conv_ctx {
    kc__conv_geom g;
    bool transpose; /* kc__conv_transpose */
} conv_ctx;

static void dims_of(const kc__conv_geom *g, bool out, int64_t c, int64_t *dims)
{
    dims[0] = g->batch;
    for (int d = 0; d < g->nsp; d++) dims[d + 1] = out ? g->out[d] : g->in[d];
    dims[g->nsp + 1] = c;
}

/* Scratch for kc__conv_forward: one block per thread slot. */
static void *forward_scratch(const kc__conv_plan *t, size_t *cap)
{
    size_t n;
    if (!kc__mul_size((size_t)kc__parallel_slots(), kc__conv_scratch_bytes(t), &n)) return NULL;
    return kc__buffer_alloc(n, cap);
}

static kc_status conv_forward_fn(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out,
                                 int n_out, kc_error *err)
{
    (void)n_out;
    const conv_ctx *c = ctx;
    kc__conv_plan t;
    kc__conv_plan_init(&c->g, &t);
    int64_t dims[KC_MAX_DIMS];
    /* a transposed convolution produces the forward convolution's input */
    dims_of(&c->g, !c->transpose, c->transpose ? c->g.cin : c->g.cout, dims);
    kc_tensor *y = kc_tensor_empty(KC_FLOAT32, c->g.nsp + 2, dims, err);
    if (!y) return kc__error_code(err, KC_ENOMEM);
    const float *b = n_in > 2 ? in[2]->data : NULL;
    if (c->transpose) {
        scratch s;
        if (scratch_init(&s, &t, true, err) != KC_OK) {
            kc_tensor_unref(y);
            return err ? err->code : KC_ENOMEM;
        }
        int64_t rows = y->size / (dims[c->g.nsp + 1] ? dims[c->g.nsp + 1] : 1);
        fill_bias(y->data, rows, dims[c->g.nsp + 1], b);
        conv_backward_input(&t, in[0]->data, in[1]->data, y->data, &s);
        scratch_fini(&s);
    } else {
        /* the compute backend when there is one for it, else the own kernels */
        kc__conv_shape cs;
        kc__conv_shape_of(&t, &cs);
        cs.bias = b != NULL;
        bool done = false;
        kc_status rc = kc__conv_backend_run_once(&cs, in[0]->data, in[1]->data, b, y->data, &done, err);
        if (rc != KC_OK || done) {
            if (rc != KC_OK) kc_tensor_unref(y);
            else out[0] = y;
            return rc;
        }
        size_t cap;
        void *s = forward_scratch(&t, &cap);
        if (!s) {
            kc_tensor_unref(y);
            return kc__errf(err, KC_ENOMEM, "out of memory (convolution buffer)");
        }
        kc__conv_forward(&t, in[0]->data, in[1]->data, b, y->data, NULL, s);
        kc__buffer_free(s, cap);
    }
    out[0] = y;
    return KC_OK;
}

static kc_status conv_backward_fn(void *ctx, kc_tensor *const *in, int n_in,
                                  kc_tensor *const *out, int n_out, kc_tensor *const *gout,
                                  const bool *needs, kc_tensor **gin, kc_error *err)
{
    (void)out, (void)n_out;
    const conv_ctx *c = ctx;
    kc__conv_plan t;
    kc__conv_plan_init(&c->g, &t);
    const float *x = in[0]->data, *w = in[1]->data, *gy = gout[0]->data;
    if (!c->transpose) { /* the compute backend when there is one for it */
        kc__conv_shape cs;
        kc__conv_shape_of(&t, &cs);
        cs.bias = n_in > 2;
        bool want_b = n_in > 2 && needs[2], done = false;
        kc_tensor *gx = needs[0] ? kc__tensor_like(in[0], err) : NULL, *gw = needs[1] ? kc__tensor_like(in[1], err) : NULL;
        kc_tensor *gb = want_b ? kc__tensor_like(in[2], err) : NULL;
        kc_status rc = (needs[0] && !gx) || (needs[1] && !gw) || (want_b && !gb) ? kc__error_code(err, KC_ENOMEM)
                       : kc__conv_backend_gradients(&cs, x, w, gy, gx ? gx->data : NULL, gw ? gw->data : NULL,
                                                    gb ? gb->data : NULL, &done, err);
        if (rc == KC_OK && done) {
            gin[0] = gx;
            gin[1] = gw;
            if (want_b) gin[2] = gb;
            return KC_OK;
        }
        kc_tensor_unref(gx), kc_tensor_unref(gw), kc_tensor_unref(gb);
        if (rc != KC_OK) return rc;
    }
    scratch s;
    if (scratch_init(&s, &t, true, err) != KC_OK) return err ? err->code : KC_ENOMEM;
    kc_status rc = KC_OK;
    if (needs[1]) {
        if (!(gin[1] = kc__tensor_zeros_like(in[1], err))) {
            rc = kc__error_code(err, KC_ENOMEM);
        } else if (c->transpose) {
            /* y = conv^T(x): dW = col(gy)^T @ x */
            conv_backward_kernel(&t, gy, x, gin[1]->data, &s);
        } else {
            conv_backward_kernel(&t, x, gy, gin[1]->data, &s);
        }
    }
    if (rc == KC_OK && needs[0]) {
        if (!(gin[0] = kc__tensor_zeros_like(in[0], err)))
            rc = kc__error_code(err, KC_ENOMEM);
        else if (c->transpose) {
            size_t cap;
            void *fs = forward_scratch(&t, &cap);
            if (!fs) rc = kc__errf(err, KC_ENOMEM, "out of memory (convolution buffer)");
            else kc__conv_forward(&t, gy, w, NULL, gin[0]->data, NULL, fs);
            if (fs) kc__buffer_free(fs, cap);
        } else
            conv_backward_input(&t, gy, w, gin[0]->data, &s);
    }
    if (rc == KC_OK && n_in > 2 && needs[2]) {
        int64_t ch = in[2]->dims[0];
        if (!(gin[2] = bias_grad(gy, gout[0]->size / (ch ? ch : 1), ch, err)))
            rc = kc__error_code(err, KC_ENOMEM);
    }
    scratch_fini(&s);
    return rc;
}

static void ctx_free(void *ctx) { kc__free(ctx); }

static const kc_custom_op conv_op = {
    .name = "conv",
    .forward = conv_forward_fn,
    .backward = conv_backward_fn,
    .ctx_free = ctx_free,
};

/* Check that x, w and b fit geometry g (x-space given by `in_side`). */
static kc_status check_operands(const char *op, kc_tensor *x, kc_tensor *w, kc_tensor *b,
                                const kc__conv_geom *g, bool transpose, kc_error *err)
{
    kc_tensor *ops[3] = {x, w, b};
    if (kc__check_f32(op, ops, b ? 3 : 2, err) != KC_OK) return err ? err->code : KC_EINVAL;
    if (g->nsp < 1 || g->nsp > KC__CONV_MAX_SPATIAL || g->groups < 1 || g->cin % g->groups ||
        g->cout % g->groups)
        return kc__errf(err, KC_EINVAL, "%s: bad geometry", op);
    int64_t want[KC_MAX_DIMS];
    char s1[160], s2[160];
    dims_of(g, transpose, transpose ? g->cout : g->cin, want);
    bool ok = x->ndim == g->nsp + 2;
    for (int d = 0; ok && d < g->nsp + 2; d++) ok = x->dims[d] == want[d];
    if (!ok)
        return kc__errf(err, KC_ESHAPE, "%s: input of shape %s, expected %s", op,
                        kc__dims_format(x->ndim, x->dims, s1, sizeof(s1)),
                        kc__dims_format(g->nsp + 2, want, s2, sizeof(s2)));
    for (int d = 0; d < g->nsp; d++) want[d] = g->k[d];
    want[g->nsp] = g->cin / g->groups;
    want[g->nsp + 1] = g->cout;
    ok = w->ndim == g->nsp + 2;
    for (int d = 0; ok && d < g->nsp + 2; d++) ok = w->dims[d] == want[d];
    if (!ok)
        return kc__errf(err, KC_ESHAPE, "%s: kernel of shape %s, expected %s", op,
                        kc__dims_format(w->ndim, w->dims, s1, sizeof(s1)),
                        kc__dims_format(g->nsp + 2, want, s2, sizeof(s2)));
    int64_t nb = transpose ? g->cin : g->cout;
    if (b && (b->ndim != 1 || b->dims[0] != nb))
        return kc__errf(err, KC_ESHAPE, "%s: bias of shape %s, expected (%lld,)", op,
                        kc__dims_format(b->ndim, b->dims, s1, sizeof(s1)), (long long)nb);
    return KC_OK;
}

static kc_tensor *run(const char *name, kc_tensor *x, kc_tensor *w, kc_tensor *b,
                      const kc__conv_geom *g, bool transpose, kc_error *err)
{
    if (check_operands(name, x, w, b, g, transpose, err) != KC_OK) return NULL;
    conv_ctx *c = kc__malloc(sizeof(*c));
    if (!c) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    c->g = *g;
    c->transpose = transpose;
    kc_tensor *in[3] = {x, w, b};
    return kc_custom_call1(&conv_op, c, in, b ? 3 : 2, err);
}

kc_tensor *kc__conv(kc_tensor *x, kc_tensor *w, kc_tensor *b, const kc__conv_geom *g,
                    kc_error *err)
{
    return run("conv", x, w, b, g, false, err);
}

kc_tensor *kc__conv_transpose(kc_tensor *x, kc_tensor *w, kc_tensor *b, const kc__conv_geom *g,
                              kc_error *err)
{
    return run("conv_transpose", x, w, b, g, true, err);
}
