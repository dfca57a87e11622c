/* The value augmentation layers: RandomContrast and RandomBrightness.
 *
 * Inference calls return the input. Training calls draw one factor per
 * image from the layer's stream (`seed`, as the geometric layers) and clip
 * the result to value_range ([0, 255] by default, the range of RGB values
 * Keras assumes):
 *   RandomContrast(factor, value_range): per image c uniform in [1 - lower,
 *     1 + upper] (factor f: lower = upper = f; a pair [lower, upper] as
 *     written; 0 <= lower <= 1, upper >= 0), then per channel
 *     y = (x - mean) * c + mean with the mean over height and width
 *     (tf.image.adjust_contrast). tf.keras 2.15 has no value_range and
 *     clips to [0, 255]; Keras 3 clips to its value_range. (Keras 3.8+
 *     turns a number f into [1, 1 + f]; its documentation, tf.keras and
 *     Keras 3.0 say [1 - f, 1 + f], which is what ckeras does. tf.keras
 *     2.15 draws one factor per batch, Keras 3 one per image, as here.)
 *   RandomBrightness(factor, value_range): per image delta uniform in
 *     [lo, hi] * (value_range[1] - value_range[0]) (factor f: [-|f|, |f|],
 *     a pair sorted; within [-1, 1]), y = clip(x + delta).
 * Both are differentiable with respect to the images. */
#include "preproc_int.h"

#include <math.h>

typedef struct random_color {
    kc_layer base;
    bool brightness;          /* RandomBrightness, else RandomContrast */
    kc__factor factor;
    double lo, hi;            /* contrast: factor range; brightness: delta fraction range */
    json_t *value_range_raw;  /* as written (NULL: absent) */
    double vmin, vmax;        /* the clip range */
    bool channels_first, had_format;
    kc__layer_rng rng;
} random_color;

static kc_status color_init(kc_object *self, bool brightness)
{
    random_color *c = (random_color *)self;
    c->brightness = brightness;
    c->vmin = 0.0;
    c->vmax = 255.0;
    return KC_OK;
}
static kc_status contrast_init(kc_object *self, kc_error *err) { (void)err; return color_init(self, false); }
static kc_status brightness_init(kc_object *self, kc_error *err) { (void)err; return color_init(self, true); }

static void color_fini(kc_object *self)
{
    random_color *c = (random_color *)self;
    json_decref(c->factor.raw);
    json_decref(c->value_range_raw);
}

static kc_status read_value_range(random_color *c, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    kc__factor vr = {0};
    kc_status rc = kc__cfg_factor(ctx, cfg, "value_range", false, &vr, err);
    if (rc == KC_OK && vr.raw && vr.scalar)
        rc = kc__factor_error(ctx, "value_range", "expected a list of two numbers", &vr, err);
    if (rc == KC_OK && vr.raw) {
        c->vmin = vr.a < vr.b ? vr.a : vr.b; /* Keras sorts it */
        c->vmax = vr.a < vr.b ? vr.b : vr.a;
        c->value_range_raw = vr.raw;
        vr.raw = NULL;
    }
    json_decref(vr.raw);
    return rc;
}

static kc_status color_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                   kc_error *err)
{
    random_color *c = (random_color *)self;
    kc_status rc = kc__cfg_factor(ctx, cfg, "factor", true, &c->factor, err);
    if (rc != KC_OK) return rc;
    const kc__factor *f = &c->factor;
    if (c->brightness) {
        if (fabs(f->a) > 1 || fabs(f->b) > 1)
            return kc__factor_error(ctx, "factor", "expected values in [-1, 1]", f, err);
        c->lo = f->scalar ? -fabs(f->a) : fmin(f->a, f->b);
        c->hi = f->scalar ? fabs(f->a) : fmax(f->a, f->b);
    } else {
        if (f->a < 0 || f->b < 0 || f->a > 1)
            return kc__factor_error(ctx, "factor",
                                    "expected non-negative values, the first at most 1", f, err);
        c->lo = 1.0 - f->a;
        c->hi = 1.0 + f->b;
    }
    rc = read_value_range(c, cfg, ctx, err);
    if (rc == KC_OK) rc = kc__layer_rng_read(&c->rng, ctx, cfg, err);
    if (rc == KC_OK) rc = kc__cfg_image_format(ctx, cfg, &c->channels_first, err);
    c->had_format = json_object_get(cfg, "data_format") != NULL;
    return rc;
}

static kc_status color_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const random_color *c = (const random_color *)self;
    kc_status rc = kc__cfg_set_raw(cfg, "factor", c->factor.raw, err);
    /* RandomBrightness always had value_range; RandomContrast only in Keras 3 */
    if (rc == KC_OK && (c->value_range_raw || c->brightness)) {
        json_t *vr = c->value_range_raw ? json_deep_copy(c->value_range_raw) : json_pack("[f, f]", c->vmin, c->vmax);
        if (!vr || json_object_set_new(cfg, "value_range", vr)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (rc == KC_OK) rc = kc__layer_rng_write(&c->rng, cfg, err);
    return rc == KC_OK ? kc__cfg_set_image_format(cfg, c->channels_first, c->had_format, err) : rc;
}

static kc_status color_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                    kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    return kc__image_output_shape(self, &in[0], ((const random_color *)self)->channels_first, -1, -1,
                                  out, n_out, err);
}

/* (x - mean_hw(x)) * c + mean_hw(x), or x + delta, per image; then the clip. */
static kc_tensor *adjust(random_color *c, kc_tensor *x, kc_tensor *per_image, kc_error *err)
{
    kc_scope *s = kc_scope_new(err);
    kc_tensor *y;
    if (c->brightness) {
        y = kc_scope_take(s, kc_add(x, per_image, err));
    } else {
        kc_tensor *mean = kc_scope_take(s, kc_reduce_mean(x, (const int[]){1, 2}, 2, true, err));
        kc_tensor *d = kc_scope_take(s, kc_sub(x, mean, err));
        y = kc_scope_take(s, kc_add(kc_scope_take(s, kc_mul(d, per_image, err)), mean, err));
    }
    kc_tensor *out = y ? kc_clip(y, (float)c->vmin, (float)c->vmax, err) : NULL;
    kc_scope_free(s);
    return out;
}

static kc_status color_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                            kc_error *err)
{
    (void)n_out;
    random_color *c = (random_color *)self;
    if (!a->training) return kc__augment_identity(a->inputs[0], out, err);
    int rank = kc_tensor_ndim(a->inputs[0]);
    kc_tensor *x = kc__image_to_nhwc(a->inputs[0], c->channels_first, err), *y = NULL;
    int64_t n = x ? kc_tensor_dim(x, 0) : 0;
    kc_tensor *per_image = x ? kc_tensor_empty(KC_FLOAT32, 4, (const int64_t[]){n, 1, 1, 1}, err) : NULL;
    if (per_image) {
        float *p = kc_tensor_f32(per_image);
        for (int64_t b = 0; b < n; b++) {
            double u = kc__uniform(&c->rng, c->lo, c->hi);
            p[b] = c->brightness ? (float)u * (float)(c->vmax - c->vmin) : (float)u;
        }
        y = adjust(c, x, per_image, err);
    }
    kc_tensor_unref(per_image);
    kc_tensor_unref(x);
    out[0] = kc__image_from_nhwc(y, rank, c->channels_first, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods color_methods = {
    .call = color_call,
    .compute_output_shape = color_output_shape,
};

KC__LAYER_CLASS(kc__random_contrast_class, "RandomContrast", random_color, contrast_init,
                color_fini, color_get_config, color_from_config, &color_methods);
KC__LAYER_CLASS(kc__random_brightness_class, "RandomBrightness", random_color, brightness_init,
                color_fini, color_get_config, color_from_config, &color_methods);
