/* ckeras private: pieces shared by the preprocessing layers (Rescaling,
 * Resizing, CenterCrop, Normalization, the Random* augmentation layers;
 * lib/layers/preproc_util.c): images of rank 3 (one image) or 4 (a batch)
 * in either data format, config values that Keras writes as numbers,
 * lists or numpy arrays, augmentation factors, and the crop to a target
 * aspect ratio that smart_resize and crop_to_aspect_ratio share. */
#ifndef CKERAS_PREPROC_INT_H
#define CKERAS_PREPROC_INT_H

#include "../autodiff/image_int.h"
#include "layer_util.h"

/* ---- images ------------------------------------------------------------------------------ */

/* Height and width of an image shape of rank 3 (h, w, c) or 4 (batch, h,
 * w, c), channels first when channels_first; KC_ESHAPE naming the class
 * for any other rank. */
kc_status kc__image_dims(const kc_shape *s, bool channels_first, const char *class_name,
                         int64_t *h, int64_t *w, kc_error *err);
/* The same shape with height and width replaced. */
kc_shape kc__image_shape_with(const kc_shape *s, bool channels_first, int64_t h, int64_t w);
/* compute_output_shape of the image layers: the input's shape, with the
 * height and width set to th x tw when th > 0 (an empty input image is
 * then KC_ESHAPE, as there is nothing to resize or crop). */
kc_status kc__image_output_shape(const kc_object *self, const kc_shape *in, bool channels_first,
                                 int64_t th, int64_t tw, kc_shape *out, int *n_out, kc_error *err);
/* x as a float32 channels-last batch (n, h, w, c): x itself when it is
 * one (another reference), else cast (integer images: the layers output
 * floats, as tf.keras 2.15's), reshaped, transposed (recorded on tapes). */
kc_tensor *kc__image_to_nhwc(kc_tensor *x, bool channels_first, kc_error *err);
/* The inverse for an input of rank `rank`. Takes y (NULL passes through). */
kc_tensor *kc__image_from_nhwc(kc_tensor *y, int rank, bool channels_first, kc_error *err);

/* The largest window of an h x w image with the aspect ratio of th x tw,
 * centred (Keras' smart_resize: sizes truncated, at least 1). */
void kc__aspect_crop_box(int64_t h, int64_t w, int64_t th, int64_t tw, int64_t *top,
                         int64_t *left, int64_t *ch, int64_t *cw);
/* Crop x (n, h, w, c) to that window, then resize to th x tw with method
 * (keras.utils.smart_resize; Resizing with crop_to_aspect_ratio).
 * Returns: new reference or NULL. */
kc_tensor *kc__smart_resize(kc_tensor *x, int64_t th, int64_t tw, kc__resize_method method,
                            bool antialias, kc_error *err);

/* ---- config ------------------------------------------------------------------------------ */

/* "data_format": "channels_last" (also null or missing) or "channels_first". */
kc_status kc__cfg_image_format(const kc_config_ctx *ctx, const json_t *cfg, bool *channels_first,
                               kc_error *err);
/* Write "data_format" when the config read had it (Keras 3 writes it) or
 * for channels_first: tf.keras 2.15's image layers have no such argument
 * and refuse the key, so a channels-last layer read from a tf.keras
 * config goes back without it. */
kc_status kc__cfg_set_image_format(json_t *cfg, bool channels_first, bool had_key, kc_error *err);

/* A numeric config value as Keras writes scale, offset, mean or variance:
 * a number, a nested list of numbers, or Keras 3's {"class_name":
 * "__numpy__" or "__tensor__", "config": {"value": ...}}. *value receives
 * a float32 tensor (rank 0 for a number, NULL when absent or null) and
 * *raw a copy of the JSON to write back unchanged. */
kc_status kc__cfg_array(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                        bool required, json_t **raw, kc_tensor **value, kc_error *err);

/* An augmentation factor: a number f or a pair [a, b]. *scalar tells
 * which; lo/hi receive f (twice) or a and b as written. Non-finite numbers
 * are KC_EFORMAT. *raw receives a copy of the JSON for get_config. */
typedef struct kc__factor {
    json_t *raw;  /* owned: the value as written (NULL when absent) */
    bool scalar;  /* a single number */
    double a, b;  /* the number twice, or the pair in order */
} kc__factor;
kc_status kc__cfg_factor(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                         bool required, kc__factor *f, kc_error *err);
/* KC_EFORMAT "path.key: <what>, got <value>" for a factor out of range. */
kc_status kc__factor_error(const kc_config_ctx *ctx, const char *key, const char *what,
                           const kc__factor *f, kc_error *err);
/* Store a raw JSON value (a copy; null when raw is NULL). */
kc_status kc__cfg_set_raw(json_t *cfg, const char *key, const json_t *raw, kc_error *err);

/* "fill_mode" (reflect default) and "interpolation" (bilinear default) of
 * the geometric augmentation layers, with Keras' names. */
kc_status kc__cfg_fill_mode(const kc_config_ctx *ctx, const json_t *cfg, kc__fill_mode *out,
                            kc_error *err);
kc_status kc__cfg_interpolation(const kc_config_ctx *ctx, const json_t *cfg,
                                kc__interpolation *out, kc_error *err);
extern const char *const kc__fill_mode_names[4];
extern const char *const kc__interpolation_names[2];

/* An augmentation layer's output outside training: the input itself, as
 * float32 (Keras casts images to the layer's compute dtype first). */
kc_status kc__augment_identity(kc_tensor *x, kc_tensor **out, kc_error *err);

/* A uniform draw in [lo, hi) from a layer's stream (hi == lo gives lo). */
double kc__uniform(kc__layer_rng *r, double lo, double hi);

#endif /* CKERAS_PREPROC_INT_H */
