/* Resizing and CenterCrop: images to a fixed height and width.
 *
 * Resizing(height, width, interpolation = "bilinear", crop_to_aspect_ratio
 * = false) is tf.keras 2.15's layer; Keras 3 adds pad_to_aspect_ratio,
 * fill_mode (only "constant"), fill_value, antialias and data_format. Every
 * interpolation either version accepts works: bilinear, nearest, bicubic,
 * area, lanczos3, lanczos5, gaussian, mitchellcubic, computed as
 * tf.image.resize computes them (lib/autodiff/op_resize.c).
 * crop_to_aspect_ratio first crops the largest centred window with the
 * target's aspect ratio (smart_resize); pad_to_aspect_ratio instead pads
 * the short side evenly with fill_value (Keras 3's TensorFlow backend: the
 * same margin on both sides).
 *
 * CenterCrop(height, width) cuts the central height x width window, the
 * extra pixel of an odd difference going to the bottom / right; an image
 * smaller than the target on either axis is smart-resized (bilinear)
 * instead, as Keras does.
 *
 * Both are differentiable (slices, pads and resizes are recorded ops) and
 * take one image (rank 3) or a batch (rank 4). Configs keep their dialect:
 * the Keras 3 keys are written back when the config had them (or when a
 * value needs them), so a tf.keras 2.15 config comes back as tf.keras 2.15
 * wrote it, which is what tf.keras needs to load it. */
#include "preproc_int.h"

#include <string.h>

typedef struct resizing {
    kc_layer base;
    int64_t height, width;
    kc__resize_method method;
    bool crop_to_aspect_ratio, pad_to_aspect_ratio, antialias;
    double fill_value;
    bool channels_first;
    bool keras3_keys; /* the config had Keras 3's keys: write them back */
} resizing;

static kc_status read_size(const kc_config_ctx *ctx, const json_t *cfg, int64_t *h, int64_t *w,
                           kc_error *err)
{
    kc_status rc = kc_cfg_int(ctx, cfg, "height", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, h, err);
    return rc == KC_OK ? kc_cfg_int(ctx, cfg, "width", KC_CFG_REQUIRED | KC_CFG_POSITIVE, 0, w, err) : rc;
}

static kc_status write_size(json_t *cfg, int64_t h, int64_t w, kc_error *err)
{
    if (json_object_set_new(cfg, "height", json_integer(h)) ||
        json_object_set_new(cfg, "width", json_integer(w)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

static bool has_any(const json_t *cfg, const char *const *keys, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (json_object_get(cfg, keys[i])) return true;
    return false;
}

/* ---- Resizing ---------------------------------------------------------------------------- */

static kc_status resizing_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                      kc_error *err)
{
    static const char *const keras3[] = {"pad_to_aspect_ratio", "fill_mode", "fill_value",
                                         "antialias", "data_format"};
    static const char *const constant_only[] = {"constant"};
    resizing *r = (resizing *)self;
    int method = 0, fill = 0;
    kc_status rc = read_size(ctx, cfg, &r->height, &r->width, err);
    if (rc == KC_OK)
        rc = kc_cfg_choice(ctx, cfg, "interpolation", KC_CFG_NULLABLE, kc__resize_method_names,
                           KC__RESIZE_COUNT, 0, &method, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "crop_to_aspect_ratio", KC_CFG_NULLABLE, false, &r->crop_to_aspect_ratio, err);
    if (rc == KC_OK)
        rc = kc_cfg_bool(ctx, cfg, "pad_to_aspect_ratio", KC_CFG_NULLABLE, false, &r->pad_to_aspect_ratio, err);
    if (rc == KC_OK) rc = kc_cfg_choice(ctx, cfg, "fill_mode", KC_CFG_NULLABLE, constant_only, 1, 0, &fill, err);
    if (rc == KC_OK) rc = kc__cfg_finite(ctx, cfg, "fill_value", KC_CFG_NULLABLE, 0.0, &r->fill_value, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "antialias", KC_CFG_NULLABLE, false, &r->antialias, err);
    if (rc == KC_OK) rc = kc__cfg_image_format(ctx, cfg, &r->channels_first, err);
    if (rc == KC_OK && r->crop_to_aspect_ratio && r->pad_to_aspect_ratio)
        rc = kc__errf(err, KC_EFORMAT,
                      "%s: only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be true", ctx->path);
    r->method = (kc__resize_method)method;
    r->keras3_keys = has_any(cfg, keras3, sizeof(keras3) / sizeof(keras3[0]));
    return rc;
}

static kc_status resizing_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const resizing *r = (const resizing *)self;
    kc_status rc = write_size(cfg, r->height, r->width, err);
    if (rc != KC_OK) return rc;
    if (json_object_set_new(cfg, "interpolation", json_string(kc__resize_method_names[r->method])) ||
        json_object_set_new(cfg, "crop_to_aspect_ratio", json_boolean(r->crop_to_aspect_ratio)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    bool k3 = r->keras3_keys || r->pad_to_aspect_ratio || r->antialias || r->fill_value != 0.0 ||
              r->channels_first;
    if (!k3) return KC_OK;
    if (json_object_set_new(cfg, "pad_to_aspect_ratio", json_boolean(r->pad_to_aspect_ratio)) ||
        json_object_set_new(cfg, "fill_mode", json_string("constant")) ||
        kc_cfg_set_float(cfg, "fill_value", r->fill_value, err) != KC_OK ||
        json_object_set_new(cfg, "antialias", json_boolean(r->antialias)))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return kc__cfg_set_image_format(cfg, r->channels_first, true, err);
}

static kc_status resizing_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                       kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    const resizing *r = (const resizing *)self;
    return kc__image_output_shape(self, &in[0], r->channels_first, r->height, r->width, out, n_out, err);
}

/* Keras 3's pad_to_aspect_ratio: the same margin of fill_value on both
 * sides of the short axis, int((padded - size) / 2) each. */
static kc_tensor *pad_to_aspect(const resizing *r, kc_tensor *x, kc_error *err)
{
    int64_t h = kc_tensor_dim(x, 1), w = kc_tensor_dim(x, 2);
    int64_t ph = (int64_t)((float)(w * r->height) / (float)r->width);
    int64_t pw = (int64_t)((float)(h * r->width) / (float)r->height);
    ph = ph > h ? ph : h;
    pw = pw > w ? pw : w;
    int64_t top = (int64_t)((float)(ph - h) / 2), left = (int64_t)((float)(pw - w) / 2);
    if (top == 0 && left == 0) return kc_tensor_ref(x);
    int64_t pads[8] = {0, 0, top, top, left, left, 0, 0};
    return kc_pad(x, pads, (float)r->fill_value, err);
}

static kc_status resizing_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                               kc_error *err)
{
    (void)n_out;
    resizing *r = (resizing *)self;
    int rank = kc_tensor_ndim(a->inputs[0]);
    kc_tensor *x = kc__image_to_nhwc(a->inputs[0], r->channels_first, err), *y = NULL;
    if (x && r->crop_to_aspect_ratio) {
        y = kc__smart_resize(x, r->height, r->width, r->method, r->antialias, err);
    } else if (x) {
        kc_tensor *p = r->pad_to_aspect_ratio ? pad_to_aspect(r, x, err) : kc_tensor_ref(x);
        y = p ? kc__resize_image(p, r->height, r->width, r->method, r->antialias, err) : NULL;
        kc_tensor_unref(p);
    }
    kc_tensor_unref(x);
    out[0] = kc__image_from_nhwc(y, rank, r->channels_first, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods resizing_methods = {
    .call = resizing_call,
    .compute_output_shape = resizing_output_shape,
};

KC__LAYER_CLASS(kc__resizing_class, "Resizing", resizing, NULL, NULL, resizing_get_config,
                resizing_from_config, &resizing_methods);

/* ---- CenterCrop ------------------------------------------------------------------------- */

typedef struct center_crop {
    kc_layer base;
    int64_t height, width;
    bool channels_first;
    bool keras3_keys; /* the config had data_format */
} center_crop;

static kc_status center_crop_from_config(kc_object *self, const json_t *cfg,
                                         const kc_config_ctx *ctx, kc_error *err)
{
    center_crop *c = (center_crop *)self;
    kc_status rc = read_size(ctx, cfg, &c->height, &c->width, err);
    if (rc == KC_OK) rc = kc__cfg_image_format(ctx, cfg, &c->channels_first, err);
    c->keras3_keys = json_object_get(cfg, "data_format") != NULL;
    return rc;
}

static kc_status center_crop_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const center_crop *c = (const center_crop *)self;
    kc_status rc = write_size(cfg, c->height, c->width, err);
    return rc == KC_OK ? kc__cfg_set_image_format(cfg, c->channels_first, c->keras3_keys, err) : rc;
}

static kc_status center_crop_output_shape(const kc_object *self, const kc_shape *in, int n_in,
                                          kc_shape *out, int *n_out, kc_error *err)
{
    (void)n_in;
    const center_crop *c = (const center_crop *)self;
    return kc__image_output_shape(self, &in[0], c->channels_first, c->height, c->width, out, n_out, err);
}

static kc_status center_crop_call(kc_object *self, const kc_call_args *a, kc_tensor **out,
                                  int n_out, kc_error *err)
{
    (void)n_out;
    center_crop *c = (center_crop *)self;
    int rank = kc_tensor_ndim(a->inputs[0]);
    kc_tensor *x = kc__image_to_nhwc(a->inputs[0], c->channels_first, err), *y = NULL;
    if (x) {
        int64_t dh = kc_tensor_dim(x, 1) - c->height, dw = kc_tensor_dim(x, 2) - c->width;
        if (dh >= 0 && dw >= 0)
            y = kc_slice(x, (const int64_t[]){0, dh / 2, dw / 2, 0},
                         (const int64_t[]){-1, c->height, c->width, -1}, err);
        else
            y = kc__smart_resize(x, c->height, c->width, KC__RESIZE_BILINEAR, false, err);
    }
    kc_tensor_unref(x);
    out[0] = kc__image_from_nhwc(y, rank, c->channels_first, err);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods center_crop_methods = {
    .call = center_crop_call,
    .compute_output_shape = center_crop_output_shape,
};

KC__LAYER_CLASS(kc__center_crop_class, "CenterCrop", center_crop, NULL, NULL,
                center_crop_get_config, center_crop_from_config, &center_crop_methods);
