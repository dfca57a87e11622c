/* The geometric augmentation layers: RandomFlip, RandomRotation,
 * RandomZoom, RandomTranslation and RandomCrop.
 *
 * In inference calls the first four return their input; in training calls
 * each image of the batch gets its own random transform, drawn from the
 * layer's stream (the `seed` key: a seeded layer repeats its sequence of
 * transforms from construction, an unseeded one draws from the global
 * generator, as Keras' seed=None; ckeras' random numbers are its own, so
 * the same seed does not give Keras' transforms, only the same
 * distribution).
 *
 *   RandomFlip(mode): "horizontal", "vertical" or "horizontal_and_vertical"
 *     (default); each image is flipped left-right and/or up-down with
 *     probability 1/2 per axis, independently (tf.keras 2.15; Keras 3 ties
 *     both axes of one image to one draw).
 *   RandomRotation(factor): angle uniform in [lo, hi] * 2 pi, counter-
 *     clockwise for positive angles, about the image centre; factor f is
 *     [-|f|, |f|], a pair [a, b] is sorted.
 *   RandomZoom(height_factor, width_factor = None): zoom = 1 + uniform in
 *     the factor's range per axis (positive zooms out, negative in);
 *     without width_factor both axes use the height draw (keeps the aspect).
 *   RandomTranslation(height_factor, width_factor): shift = uniform in the
 *     range times the image size, down / right for positive values.
 * The last three share fill_mode (reflect default, wrap, constant with
 * fill_value, nearest) and interpolation (bilinear default, nearest) and
 * build Keras' projective matrices (keras 2.15 image_preprocessing.py
 * get_rotation_matrix / get_zoom_matrix / get_translation_matrix) for
 * ImageProjectiveTransformV3 (lib/autodiff/op_image.c).
 *
 *   RandomCrop(height, width): in training, one random height x width
 *     window for the whole batch (offsets uniform over the valid
 *     positions); in inference, or when an image is smaller than the
 *     target, the image is smart-resized (centre crop to the target's
 *     aspect ratio, then bilinear resize), as tf.keras 2.15 and Keras 3's
 *     documentation say, so the output always has the declared size.
 *
 * All are differentiable with respect to the images (each transform is a
 * linear map of its input). data_format is Keras 3's; configs keep their
 * dialect (see preproc_int.h). */
#include "preproc_int.h"

#include <math.h>
#include <string.h>

#define TWO_PI 6.283185307179586 /* 2 * numpy.pi: angles are factor * 2 pi */

/* The classes that keep the input's shape. */
static kc_status same_image_shape(const kc_object *self, bool channels_first, const kc_shape *in,
                                  int n_in, kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    return kc__image_output_shape(self, &in[0], channels_first, -1, -1, out, n_out, err);
}

static kc_status write_seed_and_format(json_t *cfg, const kc__layer_rng *rng, bool channels_first,
                                       bool had_format, kc_error *err)
{
    kc_status rc = kc__layer_rng_write(rng, cfg, err);
    return rc == KC_OK ? kc__cfg_set_image_format(cfg, channels_first, had_format, err) : rc;
}

/* ---- RandomFlip --------------------------------------------------------------------------- */

static const char *const flip_modes[] = {"horizontal", "vertical", "horizontal_and_vertical"};

typedef struct random_flip {
    kc_layer base;
    int mode; /* index into flip_modes */
    bool channels_first, had_format;
    kc__layer_rng rng;
} random_flip;

static kc_status flip_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    random_flip *f = (random_flip *)self;
    kc_status rc = kc_cfg_choice(ctx, cfg, "mode", KC_CFG_NULLABLE, flip_modes, 3, 2, &f->mode, err);
    if (rc == KC_OK) rc = kc__layer_rng_read(&f->rng, ctx, cfg, err);
    if (rc == KC_OK) rc = kc__cfg_image_format(ctx, cfg, &f->channels_first, err);
    f->had_format = json_object_get(cfg, "data_format") != NULL;
    return rc;
}

static kc_status flip_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const random_flip *f = (const random_flip *)self;
    if (json_object_set_new(cfg, "mode", json_string(flip_modes[f->mode])))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return write_seed_and_format(cfg, &f->rng, f->channels_first, f->had_format, err);
}

static kc_status flip_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                   kc_shape *out, int *n_out, kc_error *err)
{
    return same_image_shape(self, ((const random_flip *)self)->channels_first, in, n_in, out, n_out, err);
}

static kc_status flip_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                           kc_error *err)
{
    (void)n_out;
    random_flip *f = (random_flip *)self;
    if (!a->training) return kc__augment_identity(a->inputs[0], out, err);
    int rank = kc_tensor_ndim(a->inputs[0]);
    kc_tensor *x = kc__image_to_nhwc(a->inputs[0], f->channels_first, err);
    int64_t n = x ? kc_tensor_dim(x, 0) : 0;
    bool *lr = kc__calloc((size_t)(n ? n : 1), sizeof(bool));
    bool *ud = kc__calloc((size_t)(n ? n : 1), sizeof(bool));
    kc_tensor *y = NULL;
    if (x && lr && ud) {
        kc_rng *rng = kc__layer_rng_get(&f->rng);
        for (int64_t b = 0; b < n; b++) {
            if (f->mode != 1) lr[b] = kc_rng_uniform(rng) < 0.5;
            if (f->mode != 0) ud[b] = kc_rng_uniform(rng) < 0.5;
        }
        y = kc__image_flip(x, lr, ud, err);
    } else if (x) {
        kc__errf(err, KC_ENOMEM, "out of memory");
    }
    kc__free(lr);
    kc__free(ud);
    kc_tensor_unref(x);
    out[0] = kc__image_from_nhwc(y, rank, f->channels_first, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods flip_methods = {
    .call = flip_call,
    .compute_output_shape = flip_output_shape,
};

KC__LAYER_CLASS(kc__random_flip_class, "RandomFlip", random_flip, NULL, NULL, flip_get_config,
                flip_from_config, &flip_methods);

/* ---- RandomRotation, RandomZoom, RandomTranslation ------------------------------------------------ */

typedef enum { AFFINE_ROTATION, AFFINE_ZOOM, AFFINE_TRANSLATION } affine_kind;

typedef struct random_affine {
    kc_layer base;
    affine_kind kind;
    kc__factor f1, f2;      /* rotation: factor; zoom, translation: height, width */
    double lo1, hi1, lo2, hi2; /* the ranges drawn from */
    kc__fill_mode fill;
    kc__interpolation interp;
    double fill_value;
    json_t *value_range;    /* Keras 3.5's RandomRotation wrote one (unused): kept */
    bool channels_first, had_format;
    kc__layer_rng rng;
} random_affine;

static void affine_fini(kc_object *self)
{
    random_affine *r = (random_affine *)self;
    json_decref(r->f1.raw);
    json_decref(r->f2.raw);
    json_decref(r->value_range);
}

/* [-|f|, |f|] for a number, the sorted pair otherwise. */
static void factor_range(const kc__factor *f, double *lo, double *hi)
{
    if (f->scalar) {
        *lo = -fabs(f->a);
        *hi = fabs(f->a);
    } else {
        *lo = f->a < f->b ? f->a : f->b;
        *hi = f->a < f->b ? f->b : f->a;
    }
}

static kc_status affine_factors(random_affine *r, const json_t *cfg, const kc_config_ctx *ctx,
                                kc_error *err)
{
    const char *k1 = r->kind == AFFINE_ROTATION ? "factor" : "height_factor";
    kc_status rc = kc__cfg_factor(ctx, cfg, k1, true, &r->f1, err);
    if (rc == KC_OK && r->kind != AFFINE_ROTATION)
        rc = kc__cfg_factor(ctx, cfg, "width_factor", r->kind == AFFINE_TRANSLATION, &r->f2, err);
    if (rc != KC_OK) return rc;
    factor_range(&r->f1, &r->lo1, &r->hi1);
    if (r->f2.raw) factor_range(&r->f2, &r->lo2, &r->hi2);
    if (r->kind == AFFINE_ZOOM) {
        if (r->lo1 < -1 || r->hi1 > 1)
            return kc__factor_error(ctx, k1, "expected values in [-1, 1]", &r->f1, err);
        if (r->f2.raw && r->lo2 < -1)
            return kc__factor_error(ctx, "width_factor", "expected values of at least -1", &r->f2, err);
    } else if (r->kind == AFFINE_TRANSLATION) {
        if (r->lo1 < -1 || r->hi1 > 1)
            return kc__factor_error(ctx, k1, "expected values in [-1, 1]", &r->f1, err);
        if (r->lo2 < -1 || r->hi2 > 1)
            return kc__factor_error(ctx, "width_factor", "expected values in [-1, 1]", &r->f2, err);
    }
    return KC_OK;
}

static kc_status affine_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                    kc_error *err)
{
    random_affine *r = (random_affine *)self;
    kc_status rc = affine_factors(r, cfg, ctx, err);
    if (rc == KC_OK) rc = kc__cfg_fill_mode(ctx, cfg, &r->fill, err);
    if (rc == KC_OK) rc = kc__cfg_interpolation(ctx, cfg, &r->interp, err);
    if (rc == KC_OK) rc = kc__cfg_finite(ctx, cfg, "fill_value", KC_CFG_NULLABLE, 0.0, &r->fill_value, err);
    if (rc == KC_OK) rc = kc__layer_rng_read(&r->rng, ctx, cfg, err);
    if (rc == KC_OK) rc = kc__cfg_image_format(ctx, cfg, &r->channels_first, err);
    r->had_format = json_object_get(cfg, "data_format") != NULL;
    const json_t *vr = json_object_get(cfg, "value_range");
    if (rc == KC_OK && r->kind == AFFINE_ROTATION && vr && !(r->value_range = json_deep_copy(vr)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status affine_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const random_affine *r = (const random_affine *)self;
    kc_status rc;
    if (r->kind == AFFINE_ROTATION) {
        rc = kc__cfg_set_raw(cfg, "factor", r->f1.raw, err);
    } else {
        rc = kc__cfg_set_raw(cfg, "height_factor", r->f1.raw, err);
        if (rc == KC_OK) rc = kc__cfg_set_raw(cfg, "width_factor", r->f2.raw, err);
    }
    if (rc == KC_OK && json_object_set_new(cfg, "fill_mode", json_string(kc__fill_mode_names[r->fill])))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "fill_value", r->fill_value, err);
    if (rc == KC_OK &&
        json_object_set_new(cfg, "interpolation", json_string(kc__interpolation_names[r->interp])))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK && r->value_range) rc = kc__cfg_set_raw(cfg, "value_range", r->value_range, err);
    return rc == KC_OK ? write_seed_and_format(cfg, &r->rng, r->channels_first, r->had_format, err) : rc;
}

static kc_status affine_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                     kc_shape *out, int *n_out, kc_error *err)
{
    return same_image_shape(self, ((const random_affine *)self)->channels_first, in, n_in, out, n_out, err);
}

/* Keras' matrices (tf.keras 2.15 get_rotation_matrix, get_zoom_matrix,
 * get_translation_matrix) for each image of an n-image batch of h x w
 * images, in float32 as TensorFlow computes them; t holds 8 per image,
 * zeroed. Draws come in Keras' order: all heights, then all widths. */
static void rotation_matrices(random_affine *r, int64_t n, float fh, float fw, float *t)
{
    for (int64_t b = 0; b < n; b++) {
        float *m = t + 8 * b;
        float angle = (float)kc__uniform(&r->rng, r->lo1 * TWO_PI, r->hi1 * TWO_PI);
        float c = cosf(angle), s = sinf(angle);
        m[0] = c;
        m[1] = -s;
        m[2] = ((fw - 1) - (c * (fw - 1) - s * (fh - 1))) / 2.0f;
        m[3] = s;
        m[4] = c;
        m[5] = ((fh - 1) - (s * (fw - 1) + c * (fh - 1))) / 2.0f;
    }
}

static void zoom_matrices(random_affine *r, int64_t n, float fh, float fw, float *t)
{
    for (int64_t b = 0; b < n; b++) t[8 * b + 4] = (float)(1.0 + kc__uniform(&r->rng, r->lo1, r->hi1));
    for (int64_t b = 0; b < n; b++) {
        float *m = t + 8 * b;
        /* without width_factor both axes take the height's zoom */
        m[0] = r->f2.raw ? (float)(1.0 + kc__uniform(&r->rng, r->lo2, r->hi2)) : m[4];
        m[2] = ((fw - 1.0f) / 2.0f) * (1.0f - m[0]);
        m[5] = ((fh - 1.0f) / 2.0f) * (1.0f - m[4]);
    }
}

static void translation_matrices(random_affine *r, int64_t n, float fh, float fw, float *t)
{
    for (int64_t b = 0; b < n; b++) t[8 * b + 5] = -((float)kc__uniform(&r->rng, r->lo1, r->hi1) * fh);
    for (int64_t b = 0; b < n; b++) {
        float *m = t + 8 * b;
        m[0] = m[4] = 1.0f;
        m[2] = -((float)kc__uniform(&r->rng, r->lo2, r->hi2) * fw);
    }
}

static void affine_matrices(random_affine *r, int64_t n, int64_t h, int64_t w, float *t)
{
    memset(t, 0, sizeof(float) * 8 * (size_t)n);
    if (r->kind == AFFINE_ROTATION) rotation_matrices(r, n, (float)h, (float)w, t);
    else if (r->kind == AFFINE_ZOOM) zoom_matrices(r, n, (float)h, (float)w, t);
    else translation_matrices(r, n, (float)h, (float)w, t);
}

static kc_status affine_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                             kc_error *err)
{
    (void)n_out;
    random_affine *r = (random_affine *)self;
    if (!a->training) return kc__augment_identity(a->inputs[0], out, err);
    int rank = kc_tensor_ndim(a->inputs[0]);
    kc_tensor *x = kc__image_to_nhwc(a->inputs[0], r->channels_first, err), *y = NULL;
    int64_t n = x ? kc_tensor_dim(x, 0) : 0;
    float *t = kc__malloc_array((size_t)(n ? n : 1) * 8, sizeof(float));
    if (x && t) {
        affine_matrices(r, n, kc_tensor_dim(x, 1), kc_tensor_dim(x, 2), t);
        y = kc__image_transform(x, t, r->interp, r->fill, (float)r->fill_value, err);
    } else if (x) {
        kc__errf(err, KC_ENOMEM, "out of memory");
    }
    kc__free(t);
    kc_tensor_unref(x);
    out[0] = kc__image_from_nhwc(y, rank, r->channels_first, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods affine_methods = {
    .call = affine_call,
    .compute_output_shape = affine_output_shape,
};

static kc_status rotation_init(kc_object *self, kc_error *err)
{
    (void)err;
    ((random_affine *)self)->kind = AFFINE_ROTATION;
    return KC_OK;
}
static kc_status zoom_init(kc_object *self, kc_error *err)
{
    (void)err;
    ((random_affine *)self)->kind = AFFINE_ZOOM;
    return KC_OK;
}
static kc_status translation_init(kc_object *self, kc_error *err)
{
    (void)err;
    ((random_affine *)self)->kind = AFFINE_TRANSLATION;
    return KC_OK;
}

KC__LAYER_CLASS(kc__random_rotation_class, "RandomRotation", random_affine, rotation_init,
                affine_fini, affine_get_config, affine_from_config, &affine_methods);
KC__LAYER_CLASS(kc__random_zoom_class, "RandomZoom", random_affine, zoom_init, affine_fini,
                affine_get_config, affine_from_config, &affine_methods);
KC__LAYER_CLASS(kc__random_translation_class, "RandomTranslation", random_affine,
                translation_init, affine_fini, affine_get_config, affine_from_config,
                &affine_methods);

/* ---- RandomCrop ---------------------------------------------------------------------------- */

typedef struct random_crop {
    kc_layer base;
    int64_t height, width;
    bool channels_first, had_format;
    kc__layer_rng rng;
} random_crop;

static kc_status crop_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                  kc_error *err)
{
    random_crop *c = (random_crop *)self;
    kc_status rc = kc_cfg_int(ctx, cfg, "height", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &c->height, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "width", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, &c->width, err);
    if (rc == KC_OK) rc = kc__layer_rng_read(&c->rng, ctx, cfg, err);
    if (rc == KC_OK) rc = kc__cfg_image_format(ctx, cfg, &c->channels_first, err);
    c->had_format = json_object_get(cfg, "data_format") != NULL;
    return rc;
}

static kc_status crop_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const random_crop *c = (const random_crop *)self;
    if (json_object_set_new(cfg, "height", json_integer(c->height)) ||
        json_object_set_new(cfg, "width", json_integer(c->width)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return write_seed_and_format(cfg, &c->rng, c->channels_first, c->had_format, err);
}

static kc_status crop_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                   kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    const random_crop *c = (const random_crop *)self;
    return kc__image_output_shape(self, &in[0], c->channels_first, c->height, c->width, out, n_out, err);
}

static kc_status crop_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                           kc_error *err)
{
    (void)n_out;
    random_crop *c = (random_crop *)self;
    int rank = kc_tensor_ndim(a->inputs[0]);
    kc_tensor *x = kc__image_to_nhwc(a->inputs[0], c->channels_first, err), *y = NULL;
    if (x) {
        int64_t dh = kc_tensor_dim(x, 1) - c->height, dw = kc_tensor_dim(x, 2) - c->width;
        if (a->training && dh >= 0 && dw >= 0) {
            kc_rng *rng = kc__layer_rng_get(&c->rng);
            int64_t top = (int64_t)kc_rng_below(rng, (uint64_t)dh + 1);
            int64_t left = (int64_t)kc_rng_below(rng, (uint64_t)dw + 1);
            y = kc_slice(x, (const int64_t[]){0, top, left, 0},
                         (const int64_t[]){-1, c->height, c->width, -1}, err);
        } else {
            y = kc__smart_resize(x, c->height, c->width, KC__RESIZE_BILINEAR, false, err);
        }
    }
    kc_tensor_unref(x);
    out[0] = kc__image_from_nhwc(y, rank, c->channels_first, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods crop_methods = {
    .call = crop_call,
    .compute_output_shape = crop_output_shape,
};

KC__LAYER_CLASS(kc__random_crop_class, "RandomCrop", random_crop, NULL, NULL, crop_get_config,
                crop_from_config, &crop_methods);
