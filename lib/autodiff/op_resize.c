/* tf.image.resize for every method Keras names, as custom-gradient ops.
 *
 * Every method except bilinear is separable: output row y mixes a few
 * input rows with weights that depend on y only, and the same along
 * columns. So each method only computes, per axis, a table of taps (input
 * index, weight) for every output index, and one kernel applies the two
 * tables: rows first into an intermediate (batch, out_h, w, c), then
 * columns, which is the order TensorFlow's ResizeBicubic and
 * ScaleAndTranslate use (the rounding follows). The backward pass scatters
 * the output gradient through the same tables in reverse order.
 *
 * The tables reproduce TensorFlow's CPU kernels number for number
 * (tensorflow/core/kernels/image/): the float arithmetic of the scales,
 * ResizeBicubic's 1024-entry coefficient table looked up with lrintf and
 * its renormalization at the borders, ResizeArea's partial-cell weights
 * and final 1 / (scale_h * scale_w), and ScaleAndTranslate's spans and
 * kernels. Bilinear without antialias is ResizeBilinear, which op_pool.c
 * already implements with TensorFlow's own lerp formula. */
#include "conv_int.h"
#include "image_int.h"

#include <float.h>
#include <math.h>
#include <string.h>

const char *const kc__resize_method_names[KC__RESIZE_COUNT] = {
    "bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic",
};

/* One axis: output index o reads input indices idx[o * k + j] with weights
 * w[o * k + j], j < k (unused taps have weight 0 and index 0). */
typedef struct taps {
    int64_t n_in, n_out, k;
    int64_t *idx;
    float *w;
} taps;

static bool taps_alloc(taps *t, int64_t n_in, int64_t n_out, int64_t k)
{
    t->n_in = n_in;
    t->n_out = n_out;
    t->k = k;
    t->idx = kc__calloc((size_t)n_out, (size_t)k * sizeof(int64_t)); /* overflow checked */
    t->w = kc__calloc((size_t)n_out, (size_t)k * sizeof(float));
    return t->idx && t->w;
}

static void taps_free(taps *t)
{
    kc__free(t->idx);
    kc__free(t->w);
    t->idx = NULL;
    t->w = NULL;
}

static int64_t bound(int64_t v, int64_t n) { return v < 0 ? 0 : v >= n ? n - 1 : v; }

/* ---- per-method tables ------------------------------------------------------------------- */

/* ResizeNearestNeighbor, half_pixel_centers: floor((o + 0.5) * in / out). */
static bool nearest_taps(taps *t, int64_t in, int64_t out)
{
    if (!taps_alloc(t, in, out, 1)) return false;
    float scale = (float)in / (float)out;
    for (int64_t o = 0; o < out; o++) {
        t->idx[o] = bound((int64_t)floorf(((float)o + 0.5f) * scale), in);
        t->w[o] = 1.0f;
    }
    return true;
}

/* ResizeBicubic's coefficient table entry: which 0 for |x| in [0, 1], 1 for
 * [1, 2], at x = i / 1024, computed as TensorFlow fills its table (Keys'
 * a = -0.5, double arithmetic stored in float). */
static float keys_table(int64_t i, int which)
{
    const double a = -0.5;
    float x = (float)((double)i * 1.0 / 1024);
    if (which == 0) return (float)(((a + 2) * x - (a + 3)) * x * x + 1);
    x = (float)(x + 1.0);
    return (float)(((a * x - 5 * a) * x + 8 * a) * x - 4 * a);
}

/* ResizeBicubic, half_pixel_centers (GetWeightsAndIndices with
 * use_keys_cubic): four taps around (o + 0.5) * scale - 0.5; taps outside
 * the image get weight 0 and the others are renormalized. */
static bool bicubic_taps(taps *t, int64_t in, int64_t out)
{
    if (!taps_alloc(t, in, out, 4)) return false;
    float scale = (float)in / (float)out;
    for (int64_t o = 0; o < out; o++) {
        float in_loc_f = ((float)o + 0.5f) * scale - 0.5f;
        int64_t in_loc = (int64_t)floorf(in_loc_f);
        float delta = in_loc_f - (float)in_loc;
        int64_t off = lrintf(delta * 1024);
        float coef[4] = {keys_table(off, 1), keys_table(off, 0), keys_table(1024 - off, 0),
                         keys_table(1024 - off, 1)};
        int64_t *ix = t->idx + o * 4;
        float *w = t->w + o * 4;
        float sum = 0.0f;
        for (int j = 0; j < 4; j++) {
            ix[j] = bound(in_loc - 1 + j, in);
            w[j] = ix[j] == in_loc - 1 + j ? coef[j] : 0.0f;
        }
        sum = w[0] + w[1] + w[2] + w[3];
        if (fabsf(sum) >= 1000.0f * FLT_MIN) {
            float inv = 1.0f / sum;
            for (int j = 0; j < 4; j++) w[j] *= inv;
        }
    }
    return true;
}

/* ResizeArea: output cell o covers [o * s, (o + 1) * s) of the input (s =
 * in / out); each input cell contributes the length it overlaps. The
 * caller multiplies by 1 / (s_h * s_w) at the end, as TensorFlow does. */
static float area_weight(int64_t i, float lo, float hi, float s)
{
    if ((float)i < lo) return (float)(i + 1) > hi ? s : (float)(i + 1) - lo;
    return (float)(i + 1) > hi ? hi - (float)i : 1.0f;
}

static bool area_taps(taps *t, int64_t in, int64_t out, float *scale)
{
    float s = (float)in / (float)out;
    *scale = s;
    /* a window of length s covers at most ceil(s) + 1 cells (rounding of
     * the float bounds included) */
    int64_t k = (int64_t)ceilf(s) + 2;
    if (!taps_alloc(t, in, out, k)) return false;
    for (int64_t o = 0; o < out; o++) {
        float lo = (float)o * s, hi = (float)(o + 1) * s;
        int64_t start = (int64_t)floorf(lo), end = (int64_t)ceilf(hi);
        for (int64_t i = start, j = 0; i < end && j < k; i++, j++) {
            t->idx[o * k + j] = bound(i, in);
            t->w[o * k + j] = area_weight(i, lo, hi, s);
        }
    }
    return true;
}

/* The kernels of ScaleAndTranslate (sampling_kernels.h). */
typedef enum { K_LANCZOS3, K_LANCZOS5, K_GAUSSIAN, K_MITCHELL, K_TRIANGLE, K_KEYS } span_kernel;

static float kernel_radius(span_kernel k)
{
    switch (k) {
    case K_LANCZOS3: return 3.0f;
    case K_LANCZOS5: return 5.0f;
    case K_GAUSSIAN: return 1.5f;
    case K_TRIANGLE: return 1.0f;
    default: return 2.0f;
    }
}

static float kernel_value(span_kernel k, float x)
{
    const float pi = 3.14159265359f;
    x = fabsf(x);
    switch (k) {
    case K_LANCZOS3:
    case K_LANCZOS5: {
        float r = kernel_radius(k);
        if (x > r) return 0.0f;
        if (x <= 1e-3f) return 1.0f;
        return r * sinf(pi * x) * sinf(pi * x / r) / (pi * pi * x * x);
    }
    case K_GAUSSIAN: {
        const float sigma = 1.5f / 3.0f;
        if (x >= 1.5f) return 0.0f;
        return (float)exp(-x * x / (2.0 * sigma * sigma));
    }
    case K_TRIANGLE: return x < 1.0f ? 1.0f - x : 0.0f;
    case K_KEYS:
        if (x >= 2.0f) return 0.0f;
        if (x >= 1.0f) return ((-0.5f * x + 2.5f) * x - 4.0f) * x + 2.0f;
        return ((1.5f * x - 2.5f) * x) * x + 1.0f;
    case K_MITCHELL:
        if (x >= 2.0f) return 0.0f;
        if (x >= 1.0f) return (((-7.0f / 18.0f) * x + 2.0f) * x - 10.0f / 3.0f) * x + 16.0f / 9.0f;
        return (((7.0f / 6.0f) * x - 2.0f) * x) * x + 8.0f / 9.0f;
    }
    return 0.0f;
}

/* ScaleAndTranslate's ComputeSpansCore with scale out / in, no translation:
 * output o samples the input at (o + 0.5) / scale, with the kernel
 * stretched by 1 / scale when antialiasing a downscale; the weights of a
 * span are normalized to sum 1. */
static bool span_taps(taps *t, int64_t in, int64_t out, span_kernel kern, bool antialias)
{
    float scale = (float)out / (float)in;
    float inv_scale = (float)(1.0 / scale);
    float inv_translate = -inv_scale * 0.0f;
    float kscale = antialias ? fmaxf(inv_scale, 1.0f) : 1.0f;
    float radius = kernel_radius(kern) * kscale;
    int64_t span = 2 * (int64_t)ceilf(radius) + 1;
    if (span > in) span = in;
    if (!taps_alloc(t, in, out, span)) return false;
    float inv_kscale = 1.0f / kscale;
    for (int64_t o = 0; o < out; o++) {
        float sample = ((float)o + 0.5f) * inv_scale + inv_translate;
        if (sample < 0 || sample > (float)in) continue; /* no sample: weights stay 0 */
        int64_t start = bound((int64_t)ceilf(sample - radius - 0.5f), in);
        int64_t end = bound((int64_t)floorf(sample + radius - 0.5f), in) + 1;
        if (end - start > span) end = start + span; /* cannot happen; keeps writes in range */
        float total = 0.0f;
        for (int64_t s = start; s < end; s++) {
            float wt = kernel_value(kern, ((float)s + 0.5f - sample) * inv_kscale);
            t->idx[o * span + (s - start)] = s;
            t->w[o * span + (s - start)] = wt;
            total += wt;
        }
        if (fabsf(total) >= 1000.0f * FLT_MIN) {
            float inv = 1.0f / total;
            for (int64_t s = start; s < end; s++) t->w[o * span + (s - start)] *= inv;
        } else {
            for (int64_t s = start; s < end; s++) t->w[o * span + (s - start)] = 0.0f;
        }
    }
    return true;
}

/* ---- the separable op ------------------------------------------------------------------------ */

typedef struct sep_ctx {
    taps h, w;        /* rows, columns */
    float post_scale; /* ResizeArea's 1 / (s_h * s_w); 1 otherwise */
} sep_ctx;

static void sep_ctx_free(void *p)
{
    sep_ctx *c = p;
    if (!c) return;
    taps_free(&c->h);
    taps_free(&c->w);
    kc__free(c);
}

typedef struct sep_run {
    const sep_ctx *c;
    int64_t batch, width, channels;
    const float *src; /* forward: x, backward: dy */
    float *mid;       /* (batch, out_h, width, channels) */
    float *dst;       /* forward: y, backward: dx */
} sep_run;

/* Forward, one range of (batch * out_h) rows: the row pass then the
 * column pass for those rows. */
static void sep_forward_rows(void *p, int64_t begin, int64_t end)
{
    const sep_run *r = p;
    const taps *th = &r->c->h, *tw = &r->c->w;
    int64_t c = r->channels, row_in = r->width * c, row_out = tw->n_out * c;
    for (int64_t br = begin; br < end; br++) {
        int64_t b = br / th->n_out, oy = br % th->n_out;
        float *mid = r->mid + br * row_in;
        memset(mid, 0, sizeof(float) * (size_t)row_in);
        for (int64_t j = 0; j < th->k; j++) {
            float wt = th->w[oy * th->k + j];
            const float *in = r->src + (b * th->n_in + th->idx[oy * th->k + j]) * row_in;
            for (int64_t i = 0; i < row_in; i++) mid[i] += wt * in[i];
        }
        float *out = r->dst + br * row_out;
        for (int64_t ox = 0; ox < tw->n_out; ox++) {
            float *o = out + ox * c;
            memset(o, 0, sizeof(float) * (size_t)c);
            for (int64_t j = 0; j < tw->k; j++) {
                float wt = tw->w[ox * tw->k + j];
                const float *in = mid + tw->idx[ox * tw->k + j] * c;
                for (int64_t ch = 0; ch < c; ch++) o[ch] += wt * in[ch];
            }
            if (r->c->post_scale != 1.0f)
                for (int64_t ch = 0; ch < c; ch++) o[ch] *= r->c->post_scale;
        }
    }
}

/* Backward, one range of images: columns^T into mid, then rows^T into dx
 * (rows of one image overlap, so images are the unit of work). */
static void sep_backward_images(void *p, int64_t begin, int64_t end)
{
    const sep_run *r = p;
    const taps *th = &r->c->h, *tw = &r->c->w;
    int64_t c = r->channels, row_in = r->width * c, row_out = tw->n_out * c;
    for (int64_t b = begin; b < end; b++) {
        for (int64_t oy = 0; oy < th->n_out; oy++) {
            int64_t br = b * th->n_out + oy;
            float *mid = r->mid + br * row_in;
            memset(mid, 0, sizeof(float) * (size_t)row_in);
            const float *g = r->src + br * row_out;
            for (int64_t ox = 0; ox < tw->n_out; ox++) {
                for (int64_t j = 0; j < tw->k; j++) {
                    float wt = tw->w[ox * tw->k + j] * r->c->post_scale;
                    float *m = mid + tw->idx[ox * tw->k + j] * c;
                    for (int64_t ch = 0; ch < c; ch++) m[ch] += wt * g[ox * c + ch];
                }
            }
            for (int64_t j = 0; j < th->k; j++) {
                float wt = th->w[oy * th->k + j];
                float *dx = r->dst + (b * th->n_in + th->idx[oy * th->k + j]) * row_in;
                for (int64_t i = 0; i < row_in; i++) dx[i] += wt * mid[i];
            }
        }
    }
}

static kc_status sep_forward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor **out,
                             int n_out, kc_error *err)
{
    (void)n_in, (void)n_out;
    const sep_ctx *c = ctx;
    const kc_tensor *x = in[0];
    int64_t dims[4] = {x->dims[0], c->h.n_out, c->w.n_out, x->dims[3]};
    kc_tensor *y = kc_tensor_empty(KC_FLOAT32, 4, dims, err);
    int64_t mid_dims[4] = {x->dims[0], c->h.n_out, x->dims[2], x->dims[3]};
    kc_tensor *mid = y ? kc_tensor_empty(KC_FLOAT32, 4, mid_dims, err) : NULL;
    if (!mid) {
        kc_tensor_unref(y);
        return kc__error_code(err, KC_ENOMEM);
    }
    sep_run r = {c, x->dims[0], x->dims[2], x->dims[3], x->data, mid->data, y->data};
    int64_t rows = x->dims[0] * c->h.n_out;
    int64_t per_row = (x->dims[2] + c->w.n_out) * x->dims[3] * (c->h.k + c->w.k);
    kc__parallel_for(rows, KC__GRAIN / (per_row > 0 ? per_row : 1) + 1, sep_forward_rows, &r);
    kc_tensor_unref(mid);
    out[0] = y;
    return KC_OK;
}

static kc_status sep_backward(void *ctx, kc_tensor *const *in, int n_in, kc_tensor *const *out,
                              int n_out, kc_tensor *const *gout, const bool *needs,
                              kc_tensor **gin, kc_error *err)
{
    (void)n_in, (void)out, (void)n_out;
    if (!needs[0]) return KC_OK;
    const sep_ctx *c = ctx;
    const kc_tensor *x = in[0];
    kc_tensor *dx = kc__tensor_zeros_like(x, err);
    int64_t mid_dims[4] = {x->dims[0], c->h.n_out, x->dims[2], x->dims[3]};
    kc_tensor *mid = dx ? kc_tensor_empty(KC_FLOAT32, 4, mid_dims, err) : NULL;
    if (!mid) {
        kc_tensor_unref(dx);
        return kc__error_code(err, KC_ENOMEM);
    }
    sep_run r = {c, x->dims[0], x->dims[2], x->dims[3], gout[0]->data, mid->data, dx->data};
    kc__parallel_for(x->dims[0], 1, sep_backward_images, &r);
    kc_tensor_unref(mid);
    gin[0] = dx;
    return KC_OK;
}

static const kc_custom_op separable_resize_op = {
    .name = "resize",
    .forward = sep_forward,
    .backward = sep_backward,
    .ctx_free = sep_ctx_free,
};

/* The tables of one axis for a method. */
static bool method_taps(taps *t, int64_t in, int64_t out, kc__resize_method m, bool antialias,
                        float *area_scale)
{
    switch (m) {
    case KC__RESIZE_NEAREST: return nearest_taps(t, in, out);
    case KC__RESIZE_AREA: return area_taps(t, in, out, area_scale);
    case KC__RESIZE_BICUBIC:
        return antialias ? span_taps(t, in, out, K_KEYS, true) : bicubic_taps(t, in, out);
    case KC__RESIZE_BILINEAR: return span_taps(t, in, out, K_TRIANGLE, antialias);
    case KC__RESIZE_LANCZOS3: return span_taps(t, in, out, K_LANCZOS3, antialias);
    case KC__RESIZE_LANCZOS5: return span_taps(t, in, out, K_LANCZOS5, antialias);
    case KC__RESIZE_GAUSSIAN: return span_taps(t, in, out, K_GAUSSIAN, antialias);
    case KC__RESIZE_MITCHELLCUBIC: return span_taps(t, in, out, K_MITCHELL, antialias);
    case KC__RESIZE_COUNT: break;
    }
    return false;
}

kc_tensor *kc__resize_image(kc_tensor *x, int64_t out_h, int64_t out_w, kc__resize_method method,
                            bool antialias, kc_error *err)
{
    if (kc__check_f32("resize", &x, 1, err) != KC_OK) return NULL;
    if (x->ndim != 4 || out_h < 1 || out_w < 1 || x->dims[1] < 1 || x->dims[2] < 1 ||
        (unsigned)method >= KC__RESIZE_COUNT) {
        char s[160];
        kc__errf(err, KC_ESHAPE, "resize: cannot resize %s to %lld x %lld",
                 kc__dims_format(x->ndim, x->dims, s, sizeof(s)), (long long)out_h, (long long)out_w);
        return NULL;
    }
    if (method == KC__RESIZE_BILINEAR && !antialias) return kc__resize_bilinear(x, out_h, out_w, err);
    sep_ctx *c = kc__calloc(1, sizeof(*c));
    float sh = 1.0f, sw = 1.0f;
    if (!c || !method_taps(&c->h, x->dims[1], out_h, method, antialias, &sh) ||
        !method_taps(&c->w, x->dims[2], out_w, method, antialias, &sw)) {
        sep_ctx_free(c);
        kc__errf(err, KC_ENOMEM, "out of memory (resize)");
        return NULL;
    }
    c->post_scale = method == KC__RESIZE_AREA ? (float)(1.0 / (double)(sh * sw)) : 1.0f;
    return kc_custom_call1(&separable_resize_op, c, &x, 1, err);
}
