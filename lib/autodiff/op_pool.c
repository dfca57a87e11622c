/* Pooling (max, average) over 1 to 3 spatial axes and bilinear resizing,
 * channels last, as custom-gradient ops.
 *
 * Both walk the output one pixel at a time and the channels of a pixel in
 * an inner, contiguous (vectorizable) loop, using the window taps of the
 * convolution plan (conv_int.h). Max pooling's backward finds, for every
 * output value, the first tap of its window holding the maximum again
 * (the one the forward pass kept: ties go to the first, as TensorFlow's
 * and TensorFlow.js's gradients do), instead of storing argmax indices on
 * the tape. */
#include "conv_int.h"

#include <math.h>
#include <string.h>

typedef struct pool_ctx {
    kc__conv_geom g;
    kc__pool_kind kind;
} pool_ctx;

static int64_t valid_taps(const kc__conv_plan *t, const int64_t *toff)
{
    int64_t n = 0;
    for (int64_t i = 0; i < t->taps; i++) n += toff[i] >= 0;
    return n;
}

void kc__pool_forward(const kc__conv_plan *t, kc__pool_kind kind, const float *x, float *y, int64_t *toff)
{
    int64_t c = t->cin;
    for (int64_t r = 0; r < t->m; r++) {
        kc__conv_row_taps(t, r, toff);
        float *yr = y + r * c;
        if (kind == KC__POOL_MAX) {
            for (int64_t k = 0; k < c; k++) yr[k] = -INFINITY;
            for (int64_t i = 0; i < t->taps; i++) {
                if (toff[i] < 0) continue;
                const float *xr = x + toff[i];
                for (int64_t k = 0; k < c; k++) yr[k] = xr[k] > yr[k] ? xr[k] : yr[k];
            }
        } else {
            memset(yr, 0, sizeof(float) * (size_t)c);
            for (int64_t i = 0; i < t->taps; i++) {
                if (toff[i] < 0) continue;
                const float *xr = x + toff[i];
                for (int64_t k = 0; k < c; k++) yr[k] += xr[k];
            }
            float inv = 1.0f / (float)valid_taps(t, toff);
            for (int64_t k = 0; k < c; k++) yr[k] *= inv;
        }
    }
}

static kc_status pool_forward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out,
                              int n_out, kc_error *err)
{
    (void)n_in, (void)n_out;
    const pool_ctx *p = ctx;
    kc__conv_plan t;
    kc__conv_plan_init(&p->g, &t);
    int64_t dims[KC_MAX_DIMS];
    dims[0] = p->g.batch;
    for (int d = 0; d < p->g.nsp; d++) dims[d + 1] = p->g.out[d];
    dims[p->g.nsp + 1] = t.cin;
    kc_tensor *y = kc_tensor_empty(KC_FLOAT32, p->g.nsp + 2, dims, err);
    int64_t *toff = kc__malloc_array((size_t)t.taps, sizeof(int64_t));
    if (!y || !toff) {
        kc_tensor_unref(y);
        kc__free(toff);
        return kc__errf(err, KC_ENOMEM, "out of memory (pooling)");
    }
    kc__pool_forward(&t, p->kind, in[0]->data, y->data, toff);
    kc__free(toff);
    out[0] = y;
    return KC_OK;
}

static kc_status pool_backward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor *const *out,
                               int n_out, kc_tensor *const *gout, const bool *needs,
                               kc_tensor **gin, kc_error *err)
{
    (void)n_in, (void)n_out;
    if (!needs[0]) return KC_OK;
    const pool_ctx *p = ctx;
    kc__conv_plan t;
    kc__conv_plan_init(&p->g, &t);
    int64_t c = t.cin;
    kc_tensor *dx = kc__tensor_zeros_like(in[0], err);
    int64_t *toff = kc__malloc_array((size_t)t.taps, sizeof(int64_t));
    unsigned char *done = kc__malloc((size_t)(c ? c : 1));
    if (!dx || !toff || !done) {
        kc_tensor_unref(dx);
        kc__free(toff);
        kc__free(done);
        return kc__errf(err, KC_ENOMEM, "out of memory (pooling gradient)");
    }
    const float *x = in[0]->data, *y = out[0]->data, *g = gout[0]->data;
    float *d = dx->data;
    for (int64_t r = 0; r < t.m; r++) {
        kc__conv_row_taps(&t, r, toff);
        const float *yr = y + r * c, *gr = g + r * c;
        if (p->kind == KC__POOL_MAX) {
            memset(done, 0, (size_t)c);
            for (int64_t i = 0; i < t.taps; i++) {
                if (toff[i] < 0) continue;
                const float *xr = x + toff[i];
                float *dr = d + toff[i];
                for (int64_t k = 0; k < c; k++) {
                    if (!done[k] && xr[k] == yr[k]) {
                        dr[k] += gr[k];
                        done[k] = 1;
                    }
                }
            }
        } else {
            float inv = 1.0f / (float)valid_taps(&t, toff);
            for (int64_t i = 0; i < t.taps; i++) {
                if (toff[i] < 0) continue;
                float *dr = d + toff[i];
                for (int64_t k = 0; k < c; k++) dr[k] += gr[k] * inv;
            }
        }
    }
    kc__free(toff);
    kc__free(done);
    gin[0] = dx;
    return KC_OK;
}

static void ctx_free(void *ctx) { kc__free(ctx); }

static const kc_custom_op pool_op = {
    .name = "pool",
    .forward = pool_forward,
    .backward = pool_backward,
    .ctx_free = ctx_free,
};

kc_tensor *kc__pool(kc_tensor *x, kc__pool_kind kind, const kc__conv_geom *g, kc_error *err)
{
    if (kc__check_f32("pool", &x, 1, err) != KC_OK) return NULL;
    bool ok = x->ndim == g->nsp + 2 && x->dims[0] == g->batch && x->dims[g->nsp + 1] == g->cin &&
              g->cin == g->cout && g->groups == 1;
    for (int d = 0; ok && d < g->nsp; d++) ok = x->dims[d + 1] == g->in[d];
    if (!ok) {
        char s[160];
        kc__errf(err, KC_ESHAPE, "pool: input of shape %s does not fit the pooling geometry",
                 kc__dims_format(x->ndim, x->dims, s, sizeof(s)));
        return NULL;
    }
    pool_ctx *c = kc__malloc(sizeof(*c));
    if (!c) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    c->g = *g;
    c->kind = kind;
    return kc_custom_call1(&pool_op, c, &x, 1, err);
}

/* ---- bilinear resize ----------------------------------------------------------------------- */

/* Source positions of one axis (TensorFlow's half-pixel centers):
 * out[i] = in[lo[i]] * (1 - frac[i]) + in[hi[i]] * frac[i]. */
typedef struct lerp_axis {
    int64_t *lo, *hi;
    float *frac;
} lerp_axis;

static bool lerp_init(lerp_axis *a, int64_t in, int64_t out)
{
    a->lo = kc__malloc_array((size_t)(out ? out : 1), sizeof(int64_t));
    a->hi = kc__malloc_array((size_t)(out ? out : 1), sizeof(int64_t));
    a->frac = kc__malloc_array((size_t)(out ? out : 1), sizeof(float));
    if (!a->lo || !a->hi || !a->frac) return false;
    float scale = (float)in / (float)out;
    for (int64_t i = 0; i < out; i++) {
        float src = ((float)i + 0.5f) * scale - 0.5f;
        float fl = floorf(src);
        int64_t f = (int64_t)fl, c = (int64_t)ceilf(src);
        a->lo[i] = f < 0 ? 0 : f;
        a->hi[i] = c > in - 1 ? in - 1 : c;
        a->frac[i] = src - fl;
    }
    return true;
}

static void lerp_fini(lerp_axis *a)
{
    kc__free(a->lo);
    kc__free(a->hi);
    kc__free(a->frac);
}

typedef struct resize_ctx {
    int64_t out_h, out_w;
} resize_ctx;

/* forward (grad false): y = resize(x); backward (grad true): x += resize^T(y). */
static void resize_apply(const kc_tensor *x, float *xd, float *yd, const lerp_axis *ah,
                         const lerp_axis *aw, int64_t oh, int64_t ow, bool grad)
{
    int64_t n = x->dims[0], h = x->dims[1], w = x->dims[2], c = x->dims[3];
    for (int64_t b = 0; b < n; b++) {
        for (int64_t i = 0; i < oh; i++) {
            float fy = ah->frac[i];
            float *top = xd + (b * h + ah->lo[i]) * w * c, *bot = xd + (b * h + ah->hi[i]) * w * c;
            for (int64_t j = 0; j < ow; j++) {
                float fx = aw->frac[j];
                float *yr = yd + ((b * oh + i) * ow + j) * c;
                float *tl = top + aw->lo[j] * c, *tr = top + aw->hi[j] * c;
                float *bl = bot + aw->lo[j] * c, *br = bot + aw->hi[j] * c;
                if (!grad) {
                    for (int64_t k = 0; k < c; k++) {
                        float t = tl[k] + (tr[k] - tl[k]) * fx;
                        float u = bl[k] + (br[k] - bl[k]) * fx;
                        yr[k] = t + (u - t) * fy;
                    }
                } else {
                    float wtl = (1 - fy) * (1 - fx), wtr = (1 - fy) * fx;
                    float wbl = fy * (1 - fx), wbr = fy * fx;
                    for (int64_t k = 0; k < c; k++) {
                        tl[k] += yr[k] * wtl;
                        tr[k] += yr[k] * wtr;
                        bl[k] += yr[k] * wbl;
                        br[k] += yr[k] * wbr;
                    }
                }
            }
        }
    }
}

static kc_status resize_run(const resize_ctx *r, const kc_tensor *x, float *xd, float *yd,
                            bool grad, kc_error *err)
{
    lerp_axis ah = {0}, aw = {0};
    bool ok = lerp_init(&ah, x->dims[1], r->out_h) && lerp_init(&aw, x->dims[2], r->out_w);
    if (ok) resize_apply(x, xd, yd, &ah, &aw, r->out_h, r->out_w, grad);
    lerp_fini(&ah);
    lerp_fini(&aw);
    return ok ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory (resize)");
}

static kc_status resize_forward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out,
                                int n_out, kc_error *err)
{
    (void)n_in, (void)n_out;
    const resize_ctx *r = ctx;
    int64_t dims[4] = {in[0]->dims[0], r->out_h, r->out_w, in[0]->dims[3]};
    kc_tensor *y = kc_tensor_empty(KC_FLOAT32, 4, dims, err);
    if (!y) return kc__error_code(err, KC_ENOMEM);
    if (resize_run(r, in[0], in[0]->data, y->data, false, err) != KC_OK) {
        kc_tensor_unref(y);
        return KC_ENOMEM;
    }
    out[0] = y;
    return KC_OK;
}

static kc_status resize_backward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor *const *out,
                                 int n_out, kc_tensor *const *gout, const bool *needs,
                                 kc_tensor **gin, kc_error *err)
{
    (void)n_in, (void)out, (void)n_out;
    if (!needs[0]) return KC_OK;
    kc_tensor *dx = kc__tensor_zeros_like(in[0], err);
    if (!dx) return kc__error_code(err, KC_ENOMEM);
    if (resize_run(ctx, in[0], dx->data, gout[0]->data, true, err) != KC_OK) {
        kc_tensor_unref(dx);
        return KC_ENOMEM;
    }
    gin[0] = dx;
    return KC_OK;
}

static const kc_custom_op resize_op = {
    .name = "resize_bilinear",
    .forward = resize_forward,
    .backward = resize_backward,
    .ctx_free = ctx_free,
};

kc_tensor *kc__resize_bilinear(kc_tensor *x, int64_t out_h, int64_t out_w, kc_error *err)
{
    if (kc__check_f32("resize_bilinear", &x, 1, err) != KC_OK) return NULL;
    if (x->ndim != 4 || out_h < 1 || out_w < 1 || x->dims[1] < 1 || x->dims[2] < 1) {
        char s[160];
        kc__errf(err, KC_ESHAPE, "resize_bilinear: cannot resize %s to %lld x %lld",
                 kc__dims_format(x->ndim, x->dims, s, sizeof(s)), (long long)out_h, (long long)out_w);
        return NULL;
    }
    resize_ctx *c = kc__malloc(sizeof(*c));
    if (!c) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    c->out_h = out_h;
    c->out_w = out_w;
    return kc_custom_call1(&resize_op, c, &x, 1, err);
}
