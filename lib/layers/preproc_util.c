/* Helpers shared by the preprocessing layers (see preproc_int.h).
 *
 * Keras' image layers take one image (rank 3) or a batch (rank 4) in
 * either data format; the kernels of lib/autodiff/op_image.c and
 * op_resize.c only know channels-last batches, so every layer converts
 * with kc__image_to_nhwc / kc__image_from_nhwc around them (reshapes and
 * transposes recorded on tapes, as the layers' gradients need).
 *
 * Config values: these layers store arrays (Rescaling's per-channel scale,
 * Normalization's mean) and factors (RandomZoom's [-0.2, 0.3]) in several
 * spellings depending on the Keras version that wrote them; the readers
 * here accept all of them and keep the JSON as written, so that get_config
 * gives back exactly what was read. */
#include "preproc_int.h"

#include <math.h>
#include <string.h>

/* ---- images ------------------------------------------------------------------------------ */

kc_status kc__image_dims(const kc_shape *s, bool channels_first, const char *class_name,
                         int64_t *h, int64_t *w, kc_error *err)
{
    if (s->ndim != 3 && s->ndim != 4) {
        char buf[160];
        return kc__errf(err, KC_ESHAPE,
                        "%s expects images of rank 3 (height, width, channels) or 4 (batch, "
                        "height, width, channels)%s, got %s",
                        class_name, channels_first ? " in channels_first order" : "",
                        kc_shape_format(s, buf, sizeof(buf)));
    }
    int first = s->ndim - 3 + (channels_first ? 1 : 0);
    *h = s->dims[first];
    *w = s->dims[first + 1];
    return KC_OK;
}

kc_shape kc__image_shape_with(const kc_shape *s, bool channels_first, int64_t h, int64_t w)
{
    kc_shape o = *s;
    int first = s->ndim - 3 + (channels_first ? 1 : 0);
    o.dims[first] = h;
    o.dims[first + 1] = w;
    return o;
}

kc_status kc__image_output_shape(const kc_object *self, const kc_shape *in, bool channels_first,
                                 int64_t th, int64_t tw, kc_shape *out, int *n_out, kc_error *err)
{
    int64_t h = -1, w = -1;
    kc_status rc = kc__image_dims(in, channels_first, self->cls->name, &h, &w, err);
    if (rc != KC_OK) return rc;
    if (th > 0 && (h == 0 || w == 0))
        return kc__errf(err, KC_ESHAPE, "%s cannot resize or crop an empty image", self->cls->name);
    out[0] = th > 0 ? kc__image_shape_with(in, channels_first, th, tw) : *in;
    *n_out = 1;
    return KC_OK;
}

kc_tensor *kc__image_to_nhwc(kc_tensor *x, bool channels_first, kc_error *err)
{
    kc_tensor *f = kc_tensor_dtype(x) == KC_FLOAT32 ? kc_tensor_ref(x) : kc_cast(x, KC_FLOAT32, err);
    kc_tensor *b = f && kc_tensor_ndim(f) == 3 ? kc_expand_dims(f, 0, err) : kc_tensor_ref(f);
    kc_tensor_unref(f);
    if (!b || !channels_first) return b;
    kc_tensor *t = kc_transpose(b, (const int[]){0, 2, 3, 1}, err);
    kc_tensor_unref(b);
    return t;
}

kc_tensor *kc__image_from_nhwc(kc_tensor *y, int rank, bool channels_first, kc_error *err)
{
    if (!y) return NULL;
    if (channels_first) {
        kc_tensor *t = kc_transpose(y, (const int[]){0, 3, 1, 2}, err);
        kc_tensor_unref(y);
        if (!t) return NULL;
        y = t;
    }
    if (rank == 3) {
        kc_tensor *t = kc_squeeze(y, 0, err);
        kc_tensor_unref(y);
        y = t;
    }
    return y;
}

void kc__aspect_crop_box(int64_t h, int64_t w, int64_t th, int64_t tw, int64_t *top,
                         int64_t *left, int64_t *ch, int64_t *cw)
{
    /* int(float(width * target_height) / target_width), as smart_resize */
    int64_t c_h = (int64_t)((double)(w * th) / (double)tw);
    int64_t c_w = (int64_t)((double)(h * tw) / (double)th);
    c_h = c_h < h ? c_h : h;
    c_w = c_w < w ? c_w : w;
    *ch = c_h > 1 ? c_h : 1;
    *cw = c_w > 1 ? c_w : 1;
    *top = (int64_t)((double)(h - *ch) / 2);
    *left = (int64_t)((double)(w - *cw) / 2);
}

kc_tensor *kc__smart_resize(kc_tensor *x, int64_t th, int64_t tw, kc__resize_method method,
                            bool antialias, kc_error *err)
{
    int64_t top, left, ch, cw;
    kc__aspect_crop_box(kc_tensor_dim(x, 1), kc_tensor_dim(x, 2), th, tw, &top, &left, &ch, &cw);
    kc_tensor *crop = kc_slice(x, (const int64_t[]){0, top, left, 0},
                               (const int64_t[]){-1, ch, cw, -1}, err);
    kc_tensor *y = crop ? kc__resize_image(crop, th, tw, method, antialias, err) : NULL;
    kc_tensor_unref(crop);
    return y;
}

/* ---- data_format ------------------------------------------------------------------------- */

static const char *const image_formats[] = {"channels_last", "channels_first"};

kc_status kc__cfg_image_format(const kc_config_ctx *ctx, const json_t *cfg, bool *channels_first,
                               kc_error *err)
{
    int i = 0;
    kc_status rc = kc_cfg_choice(ctx, cfg, "data_format", KC_CFG_NULLABLE, image_formats, 2, 0, &i, err);
    *channels_first = i == 1;
    return rc;
}

kc_status kc__cfg_set_image_format(json_t *cfg, bool channels_first, bool had_key, kc_error *err)
{
    if ((channels_first || had_key) &&
        json_object_set_new(cfg, "data_format", json_string(image_formats[channels_first ? 1 : 0])))
        return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

/* ---- numeric arrays ------------------------------------------------------------------------ */

/* Shape of a rectangular nested list (a number: rank 0); false if ragged,
 * too deep, or holding something other than numbers. */
static bool array_shape(const json_t *v, int depth, kc_shape *s)
{
    if (!json_is_array(v)) {
        double d;
        if (!kc__json_to_double(v, &d)) return false;
        if (s->ndim < 0) s->ndim = depth;
        return s->ndim == depth;
    }
    if (depth >= KC_MAX_DIMS) return false;
    int64_t n = (int64_t)json_array_size(v);
    if (s->ndim >= 0 && depth >= s->ndim) return false;
    if (s->dims[depth] < 0) s->dims[depth] = n;
    if (s->dims[depth] != n) return false;
    if (n == 0) {
        if (s->ndim < 0) s->ndim = depth + 1;
        return s->ndim == depth + 1;
    }
    for (size_t i = 0; i < (size_t)n; i++)
        if (!array_shape(json_array_get(v, i), depth + 1, s)) return false;
    return true;
}

static void array_fill(const json_t *v, float **p)
{
    if (!json_is_array(v)) {
        double d = 0;
        kc__json_to_double(v, &d);
        *(*p)++ = (float)d;
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++) array_fill(json_array_get(v, i), p);
}

static kc_status bad_array(const kc_config_ctx *ctx, const char *key, kc_error *err)
{
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    kc__errf(err, KC_EFORMAT,
             "%s: expected a number, a rectangular list of numbers or a numpy array "
             "({\"class_name\": \"__numpy__\", \"config\": {\"value\": ...}})",
             c.path);
    kc__error_context(err, "%s", c.path);
    return KC_EFORMAT;
}

kc_status kc__cfg_array(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                        bool required, json_t **raw, kc_tensor **value, kc_error *err)
{
    *raw = NULL;
    *value = NULL;
    const json_t *v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) {
        if (!required) return KC_OK;
        kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
        kc__errf(err, KC_EFORMAT, "%s: missing (expected a number or a list of numbers)", c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    const json_t *data = v;
    if (json_is_object(v)) { /* Keras 3: serialized numpy array or tensor */
        const char *cls = json_string_value(json_object_get(v, "class_name"));
        const json_t *inner = json_object_get(v, "config");
        if (!cls || (strcmp(cls, "__numpy__") != 0 && strcmp(cls, "__tensor__") != 0) ||
            !json_is_object(inner) || !(data = json_object_get(inner, "value")))
            return bad_array(ctx, key, err);
    }
    kc_shape s = {.ndim = -1};
    for (int i = 0; i < KC_MAX_DIMS; i++) s.dims[i] = -1;
    if (!array_shape(data, 0, &s)) return bad_array(ctx, key, err);
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, s.ndim, s.dims, err);
    if (!t) return kc__error_code(err, KC_ENOMEM);
    float *p = kc_tensor_f32(t);
    array_fill(data, &p);
    *raw = json_deep_copy(v);
    if (!*raw) {
        kc_tensor_unref(t);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    *value = t;
    return KC_OK;
}

kc_status kc__cfg_set_raw(json_t *cfg, const char *key, const json_t *raw, kc_error *err)
{
    json_t *j = raw ? json_deep_copy(raw) : json_null();
    if (!j || json_object_set_new(cfg, key, j))
        return kc__errf(err, KC_ENOMEM, "out of memory writing config key '%s'", key);
    return KC_OK;
}

/* ---- factors ------------------------------------------------------------------------------ */

kc_status kc__factor_error(const kc_config_ctx *ctx, const char *key, const char *what,
                           const kc__factor *f, kc_error *err)
{
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    if (f->scalar)
        kc__errf(err, KC_EFORMAT, "%s: %s, got %g", c.path, what, f->a);
    else
        kc__errf(err, KC_EFORMAT, "%s: %s, got [%g, %g]", c.path, what, f->a, f->b);
    kc__error_context(err, "%s", c.path);
    return KC_EFORMAT;
}

kc_status kc__cfg_factor(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                         bool required, kc__factor *f, kc_error *err)
{
    json_decref(f->raw);
    memset(f, 0, sizeof(*f));
    const json_t *v = json_object_get(cfg, key);
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    if (!v || json_is_null(v)) {
        if (!required) return KC_OK;
        kc__errf(err, KC_EFORMAT, "%s: missing (expected a number or a list of two numbers)", c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    bool ok;
    if (json_is_array(v)) {
        ok = json_array_size(v) == 2 && kc__json_to_double(json_array_get(v, 0), &f->a) &&
             kc__json_to_double(json_array_get(v, 1), &f->b);
    } else {
        f->scalar = true;
        ok = kc__json_to_double(v, &f->a);
        f->b = f->a;
    }
    if (!ok || !isfinite(f->a) || !isfinite(f->b)) {
        kc__errf(err, KC_EFORMAT, "%s: expected a finite number or a list of two finite numbers",
                 c.path);
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    f->raw = json_deep_copy(v);
    return f->raw ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
}

/* ---- fill modes, interpolations ------------------------------------------------------------ */

const char *const kc__fill_mode_names[4] = {"reflect", "wrap", "constant", "nearest"};
const char *const kc__interpolation_names[2] = {"nearest", "bilinear"};

kc_status kc__cfg_fill_mode(const kc_config_ctx *ctx, const json_t *cfg, kc__fill_mode *out,
                            kc_error *err)
{
    int i = KC__FILL_REFLECT;
    kc_status rc = kc_cfg_choice(ctx, cfg, "fill_mode", KC_CFG_NULLABLE, kc__fill_mode_names, 4,
                                 KC__FILL_REFLECT, &i, err);
    *out = (kc__fill_mode)i;
    return rc;
}

kc_status kc__cfg_interpolation(const kc_config_ctx *ctx, const json_t *cfg,
                                kc__interpolation *out, kc_error *err)
{
    int i = KC__INTERP_BILINEAR;
    kc_status rc = kc_cfg_choice(ctx, cfg, "interpolation", KC_CFG_NULLABLE,
                                 kc__interpolation_names, 2, KC__INTERP_BILINEAR, &i, err);
    *out = (kc__interpolation)i;
    return rc;
}

kc_status kc__augment_identity(kc_tensor *x, kc_tensor **out, kc_error *err)
{
    *out = kc_tensor_dtype(x) == KC_FLOAT32 ? kc_tensor_ref(x) : kc_cast(x, KC_FLOAT32, err);
    return *out ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

double kc__uniform(kc__layer_rng *r, double lo, double hi)
{
    double u = kc_rng_uniform(kc__layer_rng_get(r));
    return hi > lo ? lo + (hi - lo) * u : lo;
}
