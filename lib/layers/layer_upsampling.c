/* UpSampling1D/2D/3D: repeat every step / row / column `size` times.
 *
 * Config keys: size (1D: an integer, default 2; 2D/3D: one per axis),
 * data_format (2D/3D), interpolation (2D: "nearest" or "bilinear").
 * Nearest repetition is a reshape to (.., n, 1, ..), a broadcast to
 * (.., n, size, ..) and a reshape back, so the tape differentiates it
 * (the gradient sums each block) with no op of its own. Bilinear is
 * tf.image.resize's (half-pixel centers), which tf.keras 2.x and Keras 3
 * use; TensorFlow.js and the Keras 2.0-2.3 multi-backend resize without
 * half-pixel centers, so their bilinear outputs differ at the borders. */
#include "conv_layers_int.h"

#include <string.h>

typedef struct upsampling {
    kc_layer base;
    int rank;            /* spatial axes, 1..3 */
    int64_t size[3];
    bool channels_first;
    bool bilinear;       /* 2D only */
} upsampling;

static kc_status up_init(kc_object *self, int rank)
{
    upsampling *u = (upsampling *)self;
    u->rank = rank;
    for (int i = 0; i < 3; i++) u->size[i] = 2;
    return KC_OK;
}

static kc_status up1_init(kc_object *self, kc_error *err) { (void)err; return up_init(self, 1); }
static kc_status up2_init(kc_object *self, kc_error *err) { (void)err; return up_init(self, 2); }
static kc_status up3_init(kc_object *self, kc_error *err) { (void)err; return up_init(self, 3); }

static const char *const interpolations[] = {"nearest", "bilinear"};

static kc_status up_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                kc_error *err)
{
    upsampling *u = (upsampling *)self;
    kc_status rc;
    if (u->rank == 1)
        rc = kc_cfg_int(ctx, cfg, "size", KC_CFG_POSITIVE | KC_CFG_NULLABLE, 2, &u->size[0], err);
    else
        rc = kc_cfg_int_tuple(ctx, cfg, "size", KC_CFG_POSITIVE | KC_CFG_NULLABLE, u->rank, 2, u->size, err);
    if (rc == KC_OK && u->rank > 1) rc = kc__cfg_data_format(ctx, cfg, &u->channels_first, err);
    if (rc == KC_OK && u->rank == 2) {
        const char *s = NULL;
        int i = 0;
        rc = kc_cfg_string(ctx, cfg, "interpolation", KC_CFG_NULLABLE, "nearest", &s, err);
        if (rc == KC_OK && strcmp(s, "nearest") != 0 && strcmp(s, "bilinear") != 0) {
            static const char *const keras[] = {"bicubic", "area", "lanczos3", "lanczos5", "gaussian", "mitchellcubic"};
            bool known = false;
            for (size_t k = 0; k < sizeof(keras) / sizeof(keras[0]); k++) known |= !strcmp(s, keras[k]);
            if (known)
                return kc__errf(err, KC_EUNSUPPORTED, "%s.interpolation: '%s' is not supported (only 'nearest' and 'bilinear')",
                                ctx->path, s);
        }
        if (rc == KC_OK) rc = kc_cfg_choice(ctx, cfg, "interpolation", KC_CFG_NULLABLE, interpolations, 2, 0, &i, err);
        u->bilinear = i == 1;
    }
    return rc;
}

static kc_status up_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const upsampling *u = (const upsampling *)self;
    kc_status rc;
    if (u->rank == 1)
        rc = json_object_set_new(cfg, "size", json_integer(u->size[0])) ? kc__errf(err, KC_ENOMEM, "out of memory") : KC_OK;
    else
        rc = kc__cfg_set_tuple(cfg, "size", u->size, u->rank, err);
    if (rc == KC_OK && u->rank > 1) rc = kc__cfg_set_data_format(cfg, u->channels_first, err);
    if (rc == KC_OK && u->rank == 2 &&
        json_object_set_new(cfg, "interpolation", json_string(interpolations[u->bilinear ? 1 : 0])))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    return rc;
}

static kc_status up_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                 int *n_out, kc_error *err)
{
    (void)n_in;
    const upsampling *u = (const upsampling *)self;
    kc_status rc = kc__check_spatial_rank(&in[0], u->rank, u->channels_first, u->base.base.cls->name, err);
    if (rc != KC_OK) return rc;
    int64_t sp[3], c;
    kc__spatial_dims(&in[0], u->rank, u->channels_first, sp, &c);
    for (int i = 0; i < u->rank; i++)
        if (sp[i] >= 0) sp[i] *= u->size[i];
    out[0] = kc__spatial_shape(in[0].dims[0], sp, u->rank, c, u->channels_first);
    *n_out = 1;
    return KC_OK;
}

/* Nearest: (.., n_i, ..) -> (.., n_i, 1, ..) -> (.., n_i, size_i, ..) -> (.., n_i * size_i, ..). */
static kc_tensor *repeat(const upsampling *u, kc_tensor *x, kc_error *err)
{
    int nd = kc_tensor_ndim(x), first = u->channels_first ? 2 : 1, k = 0;
    const int64_t *d = kc_tensor_dims(x);
    int64_t split[KC_MAX_DIMS], wide[KC_MAX_DIMS], outd[KC_MAX_DIMS];
    for (int i = 0; i < nd; i++) {
        bool sp = i >= first && i < first + u->rank;
        split[k] = wide[k] = d[i];
        k++;
        outd[i] = d[i];
        if (sp) {
            split[k] = 1;
            wide[k] = u->size[i - first];
            k++;
            outd[i] = d[i] * u->size[i - first];
        }
    }
    kc_scope *s = kc_scope_new(err);
    kc_tensor *t = kc_scope_take(s, kc_reshape(x, k, split, err));
    t = kc_scope_take(s, kc_broadcast_to(t, k, wide, err));
    kc_tensor *y = kc_reshape(t, nd, outd, err);
    kc_scope_free(s);
    return y;
}

static kc_status up_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                         kc_error *err)
{
    (void)n_out;
    upsampling *u = (upsampling *)self;
    kc_tensor *x = a->inputs[0];
    if (!u->bilinear) {
        out[0] = repeat(u, x, err);
    } else {
        kc_tensor *xl = kc__to_channels_last(x, 2, u->channels_first, err);
        kc_tensor *y = xl ? kc__resize_bilinear(xl, kc_tensor_dim(xl, 1) * u->size[0], kc_tensor_dim(xl, 2) * u->size[1], err) : NULL;
        kc_tensor_unref(xl);
        out[0] = kc__from_channels_last(y, 2, u->channels_first, err);
    }
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods up_methods = {
    .call = up_call,
    .compute_output_shape = up_output_shape,
};

#define UP_CLASS(var, cname, initfn)                                                               \
    const kc_class var = {                                                                         \
        .abi = KC_CLASS_ABI,                                                                       \
        .kind = KC_KIND_LAYER,                                                                     \
        .name = cname,                                                                             \
        .size = sizeof(upsampling),                                                                \
        .config_version = 1,                                                                       \
        .init = initfn,                                                                            \
        .get_config = up_get_config,                                                               \
        .from_config = up_from_config,                                                             \
        .methods = &up_methods,                                                                    \
    };

UP_CLASS(kc__upsampling1d_class, "UpSampling1D", up1_init)
UP_CLASS(kc__upsampling2d_class, "UpSampling2D", up2_init)
UP_CLASS(kc__upsampling3d_class, "UpSampling3D", up3_init)
