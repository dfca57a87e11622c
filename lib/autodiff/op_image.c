/* Geometric image ops of the augmentation layers: the projective transform
 * (TensorFlow's ImageProjectiveTransformV3, which Keras' RandomRotation,
 * RandomZoom and RandomTranslation call) and per-image flips, as
 * custom-gradient ops on channels-last images.
 *
 * The transform follows tensorflow/core/kernels/image/image_ops.h in float
 * arithmetic: each output pixel maps to an input point, the point is
 * folded back into the image by the fill mode (reflect, wrap, nearest; in
 * constant mode a point outside [0, size - 1] on either axis is the fill
 * value), then read by nearest (round half away from zero) or bilinear
 * interpolation, where a neighbour outside the image reads as the fill
 * value. Its gradient with respect to the image scatters each output
 * gradient back to the pixels it was read from, with the same weights; the
 * fill value is a constant. */
#include "image_int.h"

#include <math.h>
#include <string.h>

/* Points this far out are folded like any other, but the integer
 * arithmetic of the folds must not overflow: no real transform gets here. */
#define FAR_COORD 1.0e12f

static float map_reflect(float c, int64_t len)
{
    if (c < 0) {
        if (len <= 1) return 0.0f;
        int64_t sz2 = 2 * len;
        if (c < (float)sz2) c = (float)(sz2 * (int64_t)(-c / (float)sz2)) + c;
        c = c < (float)-len ? c + (float)sz2 : -c - 1;
    } else if (c > (float)(len - 1)) {
        if (len <= 1) return 0.0f;
        int64_t sz2 = 2 * len;
        c -= (float)(sz2 * (int64_t)(c / (float)sz2));
        if (c >= (float)len) c = (float)sz2 - c - 1;
    }
    return fminf(fmaxf(c, 0.0f), (float)(len - 1));
}

static float map_wrap(float c, int64_t len)
{
    if (c < 0) {
        if (len <= 1) return 0.0f;
        int64_t sz = len - 1;
        c += (float)(len * ((int64_t)(-c / (float)sz) + 1));
    } else if (c > (float)(len - 1)) {
        if (len <= 1) return 0.0f;
        int64_t sz = len - 1;
        c -= (float)(len * (int64_t)(c / (float)sz));
    }
    return fminf(fmaxf(c, 0.0f), (float)(len - 1));
}

static float map_coord(float c, int64_t len, kc__fill_mode mode)
{
    if (c > FAR_COORD) c = FAR_COORD;
    if (c < -FAR_COORD) c = -FAR_COORD;
    switch (mode) {
    case KC__FILL_REFLECT: return map_reflect(c, len);
    case KC__FILL_WRAP: return map_wrap(c, len);
    case KC__FILL_NEAREST: return fminf(fmaxf(c, 0.0f), (float)(len - 1));
    case KC__FILL_CONSTANT: break;
    }
    return c;
}

/* Where one output pixel reads from: up to four input pixels (offsets of
 * their first channel, -1 for "outside: the fill value") and weights. The
 * output is w0 * v0 + w1 * v1 (top) mixed with w2 * v2 + w3 * v3 (bottom)
 * by wy0 / wy1, in TensorFlow's order of operations. */
typedef struct sample {
    bool fill_only;   /* the whole pixel is the fill value */
    bool nearest;     /* one tap: off[0] */
    int64_t off[4];   /* (y0, x0), (y0, x1), (y1, x0), (y1, x1) */
    float wx0, wx1, wy0, wy1;
} sample;

typedef struct transform_ctx {
    int64_t n;                /* images */
    float *t;                 /* n * 8 transforms */
    kc__interpolation interp;
    kc__fill_mode fill;
    float fill_value;
} transform_ctx;

static int64_t pixel(int64_t y, int64_t x, int64_t h, int64_t w, int64_t c)
{
    return (y >= 0 && y < h && x >= 0 && x < w) ? (y * w + x) * c : -1;
}

static void locate(const transform_ctx *tc, const float *t, int64_t oy, int64_t ox, int64_t h,
                   int64_t w, int64_t c, sample *s)
{
    memset(s, 0, sizeof(*s));
    float fx = (float)ox, fy = (float)oy;
    float k = t[6] * fx + t[7] * fy + 1.f;
    if (k == 0) {
        s->fill_only = true;
        return;
    }
    float in_x = (t[0] * fx + t[1] * fy + t[2]) / k;
    float in_y = (t[3] * fx + t[4] * fy + t[5]) / k;
    if (!isfinite(in_x) || !isfinite(in_y)) {
        s->fill_only = true;
        return;
    }
    float x = map_coord(in_x, w, tc->fill), y = map_coord(in_y, h, tc->fill);
    if (x < 0 || x > (float)(w - 1) || y < 0 || y > (float)(h - 1)) {
        s->fill_only = true;
        return;
    }
    if (tc->interp == KC__INTERP_NEAREST) {
        s->nearest = true;
        s->off[0] = pixel((int64_t)roundf(y), (int64_t)roundf(x), h, w, c);
        return;
    }
    float y0 = floorf(y), x0 = floorf(x), y1 = y0 + 1, x1 = x0 + 1;
    s->off[0] = pixel((int64_t)y0, (int64_t)x0, h, w, c);
    s->off[1] = pixel((int64_t)y0, (int64_t)x1, h, w, c);
    s->off[2] = pixel((int64_t)y1, (int64_t)x0, h, w, c);
    s->off[3] = pixel((int64_t)y1, (int64_t)x1, h, w, c);
    s->wx0 = x1 - x;
    s->wx1 = x - x0;
    s->wy0 = y1 - y;
    s->wy1 = y - y0;
}

typedef struct transform_run {
    const transform_ctx *tc;
    int64_t h, w, c;
    const float *x;
    float *y;
} transform_run;

/* Forward over a range of (image, output row) pairs. */
static void transform_rows(void *p, int64_t begin, int64_t end)
{
    const transform_run *r = p;
    const transform_ctx *tc = r->tc;
    int64_t h = r->h, w = r->w, c = r->c;
    float fv = tc->fill_value;
    for (int64_t br = begin; br < end; br++) {
        int64_t b = br / h, oy = br % h;
        const float *t = tc->t + (tc->n == 1 ? 0 : b * 8);
        const float *img = r->x + b * h * w * c;
        float *out = r->y + br * w * c;
        for (int64_t ox = 0; ox < w; ox++) {
            sample s;
            locate(tc, t, oy, ox, h, w, c, &s);
            float *o = out + ox * c;
            if (s.fill_only) {
                for (int64_t ch = 0; ch < c; ch++) o[ch] = fv;
            } else if (s.nearest) {
                for (int64_t ch = 0; ch < c; ch++) o[ch] = s.off[0] >= 0 ? img[s.off[0] + ch] : fv;
            } else {
                for (int64_t ch = 0; ch < c; ch++) {
                    float v00 = s.off[0] >= 0 ? img[s.off[0] + ch] : fv;
                    float v01 = s.off[1] >= 0 ? img[s.off[1] + ch] : fv;
                    float v10 = s.off[2] >= 0 ? img[s.off[2] + ch] : fv;
                    float v11 = s.off[3] >= 0 ? img[s.off[3] + ch] : fv;
                    float top = s.wx0 * v00 + s.wx1 * v01;
                    float bottom = s.wx0 * v10 + s.wx1 * v11;
                    o[ch] = s.wy0 * top + s.wy1 * bottom;
                }
            }
        }
    }
}

/* Backward over a range of images (their pixels are read by many rows). */
static void transform_grad_images(void *p, int64_t begin, int64_t end)
{
    const transform_run *r = p;
    const transform_ctx *tc = r->tc;
    int64_t h = r->h, w = r->w, c = r->c;
    for (int64_t b = begin; b < end; b++) {
        const float *t = tc->t + (tc->n == 1 ? 0 : b * 8);
        float *dimg = r->y + b * h * w * c;
        for (int64_t oy = 0; oy < h; oy++) {
            const float *g = r->x + (b * h + oy) * w * c;
            for (int64_t ox = 0; ox < w; ox++) {
                sample s;
                locate(tc, t, oy, ox, h, w, c, &s);
                if (s.fill_only) continue;
                const float *go = g + ox * c;
                if (s.nearest) {
                    if (s.off[0] >= 0)
                        for (int64_t ch = 0; ch < c; ch++) dimg[s.off[0] + ch] += go[ch];
                    continue;
                }
                float wt[4] = {s.wy0 * s.wx0, s.wy0 * s.wx1, s.wy1 * s.wx0, s.wy1 * s.wx1};
                for (int q = 0; q < 4; q++) {
                    if (s.off[q] < 0) continue;
                    for (int64_t ch = 0; ch < c; ch++) dimg[s.off[q] + ch] += wt[q] * go[ch];
                }
            }
        }
    }
}

static kc_status transform_forward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out,
                                   int n_out, kc_error *err)
{
    (void)n_in, (void)n_out;
    const kc_tensor *x = in[0];
    kc_tensor *y = kc__tensor_like(x, err);
    if (!y) return kc__error_code(err, KC_ENOMEM);
    transform_run r = {ctx, x->dims[1], x->dims[2], x->dims[3], x->data, y->data};
    int64_t per_row = x->dims[2] * x->dims[3] * 4 + 1;
    kc__parallel_for(x->dims[0] * x->dims[1], KC__GRAIN / per_row + 1, transform_rows, &r);
    out[0] = y;
    return KC_OK;
}

static kc_status transform_backward(void *ctx, kc_tensor *const *in, int n_in,
                                    kc_tensor *const *out, int n_out, kc_tensor *const *gout,
                                    const bool *needs, kc_tensor **gin, kc_error *err)
{
    (void)n_in, (void)out, (void)n_out;
    if (!needs[0]) return KC_OK;
    const kc_tensor *x = in[0];
    kc_tensor *dx = kc__tensor_zeros_like(x, err);
    if (!dx) return kc__error_code(err, KC_ENOMEM);
    transform_run r = {ctx, x->dims[1], x->dims[2], x->dims[3], gout[0]->data, dx->data};
    kc__parallel_for(x->dims[0], 1, transform_grad_images, &r);
    gin[0] = dx;
    return KC_OK;
}

static void transform_ctx_free(void *p)
{
    transform_ctx *tc = p;
    if (!tc) return;
    kc__free(tc->t);
    kc__free(tc);
}

static const kc_custom_op transform_op = {
    .name = "image_transform",
    .forward = transform_forward,
    .backward = transform_backward,
    .ctx_free = transform_ctx_free,
};

static bool check_images(const char *op, kc_tensor *x, kc_error *err)
{
    if (kc__check_f32(op, &x, 1, err) != KC_OK) return false;
    if (x->ndim != 4) {
        char s[160];
        kc__errf(err, KC_ESHAPE, "%s: expected images of rank 4 (batch, height, width, channels), got %s",
                 op, kc__dims_format(x->ndim, x->dims, s, sizeof(s)));
        return false;
    }
    return true;
}

kc_tensor *kc__image_transform(kc_tensor *x, const float *transforms, kc__interpolation interp,
                               kc__fill_mode fill, float fill_value, kc_error *err)
{
    if (!check_images("image_transform", x, err)) return NULL;
    transform_ctx *tc = kc__calloc(1, sizeof(*tc));
    int64_t n = x->dims[0] > 0 ? x->dims[0] : 1;
    if (tc) tc->t = kc__malloc_array((size_t)n * 8, sizeof(float));
    if (!tc || !tc->t) {
        transform_ctx_free(tc);
        kc__errf(err, KC_ENOMEM, "out of memory (image_transform)");
        return NULL;
    }
    memcpy(tc->t, transforms, sizeof(float) * 8 * (size_t)x->dims[0]);
    tc->n = x->dims[0];
    tc->interp = interp;
    tc->fill = fill;
    tc->fill_value = fill_value;
    return kc_custom_call1(&transform_op, tc, &x, 1, err);
}

/* ---- flips ---------------------------------------------------------------------------------- */

typedef struct flip_ctx {
    int64_t n;
    bool *lr, *ud;
} flip_ctx;

/* dst = flip(src): the flip is its own inverse, so backward runs it again. */
static void flip_apply(const flip_ctx *f, const kc_tensor *shape, const float *src, float *dst)
{
    int64_t n = shape->dims[0], h = shape->dims[1], w = shape->dims[2], c = shape->dims[3];
    for (int64_t b = 0; b < n; b++) {
        for (int64_t y = 0; y < h; y++) {
            int64_t sy = f->ud[b] ? h - 1 - y : y;
            const float *srow = src + ((b * h) + sy) * w * c;
            float *drow = dst + ((b * h) + y) * w * c;
            if (!f->lr[b]) {
                memcpy(drow, srow, sizeof(float) * (size_t)(w * c));
                continue;
            }
            for (int64_t x = 0; x < w; x++)
                memcpy(drow + x * c, srow + (w - 1 - x) * c, sizeof(float) * (size_t)c);
        }
    }
}

static kc_status flip_forward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out,
                              int n_out, kc_error *err)
{
    (void)n_in, (void)n_out;
    kc_tensor *y = kc__tensor_like(in[0], err);
    if (!y) return kc__error_code(err, KC_ENOMEM);
    flip_apply(ctx, in[0], in[0]->data, y->data);
    out[0] = y;
    return KC_OK;
}

static kc_status flip_backward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor *const *out,
                               int n_out, kc_tensor *const *gout, const bool *needs,
                               kc_tensor **gin, kc_error *err)
{
    (void)n_in, (void)out, (void)n_out;
    if (!needs[0]) return KC_OK;
    kc_tensor *dx = kc__tensor_like(in[0], err);
    if (!dx) return kc__error_code(err, KC_ENOMEM);
    flip_apply(ctx, in[0], gout[0]->data, dx->data);
    gin[0] = dx;
    return KC_OK;
}

static void flip_ctx_free(void *p)
{
    flip_ctx *f = p;
    if (!f) return;
    kc__free(f->lr);
    kc__free(f->ud);
    kc__free(f);
}

static const kc_custom_op flip_op = {
    .name = "image_flip",
    .forward = flip_forward,
    .backward = flip_backward,
    .ctx_free = flip_ctx_free,
};

kc_tensor *kc__image_flip(kc_tensor *x, const bool *flip_lr, const bool *flip_ud, kc_error *err)
{
    if (!check_images("image_flip", x, err)) return NULL;
    size_t n = (size_t)(x->dims[0] > 0 ? x->dims[0] : 1);
    flip_ctx *f = kc__calloc(1, sizeof(*f));
    if (f) {
        f->lr = kc__calloc(n, sizeof(bool));
        f->ud = kc__calloc(n, sizeof(bool));
    }
    if (!f || !f->lr || !f->ud) {
        flip_ctx_free(f);
        kc__errf(err, KC_ENOMEM, "out of memory (image_flip)");
        return NULL;
    }
    f->n = x->dims[0];
    if (x->dims[0] > 0) {
        memcpy(f->lr, flip_lr, sizeof(bool) * (size_t)x->dims[0]);
        memcpy(f->ud, flip_ud, sizeof(bool) * (size_t)x->dims[0]);
    }
    return kc_custom_call1(&flip_op, f, &x, 1, err);
}
