/* SpatialDropout1D/2D/3D: dropout of whole feature maps.
 *
 * In training, each (sample, channel) pair is kept with probability
 * 1 - rate and scaled by 1 / (1 - rate), or zeroed across every spatial
 * position (Keras' noise shape (batch, 1, ..., channels)); in inference
 * the layer is the identity. Config keys: rate, seed, noise_shape (always
 * null: the noise shape is the one above) and data_format (2D/3D; Keras 3
 * writes it, tf.keras 2 reads it). Random numbers come from the layer's
 * own generator when a seed is given, else from kc_global_rng(): ckeras'
 * streams, not TensorFlow's (see random.h). Masks pass through, as with
 * Dropout. */
#include "conv_layers_int.h"

#include <ckeras/random.h>

typedef struct spatial_dropout {
    kc_layer base;
    int rank;             /* spatial axes, 1..3 */
    double rate;
    bool has_seed;
    uint64_t seed;
    kc_rng rng;           /* used when has_seed */
    bool channels_first;
} spatial_dropout;

static kc_status sd_init(kc_object *self, int rank)
{
    spatial_dropout *s = (spatial_dropout *)self;
    s->rank = rank;
    s->base.supports_masking = true;
    return KC_OK;
}

static kc_status sd1_init(kc_object *self, kc_error *err) { (void)err; return sd_init(self, 1); }
static kc_status sd2_init(kc_object *self, kc_error *err) { (void)err; return sd_init(self, 2); }
static kc_status sd3_init(kc_object *self, kc_error *err) { (void)err; return sd_init(self, 3); }

static kc_status sd_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                kc_error *err)
{
    spatial_dropout *s = (spatial_dropout *)self;
    kc_status rc = kc_cfg_float(ctx, cfg, "rate", KC_CFG_REQUIRED | KC_CFG_NONNEG, 0, &s->rate, err);
    if (rc == KC_OK && s->rate > 1.0)
        rc = kc__errf(err, KC_EFORMAT, "%s.rate: expected a number in [0, 1], got %g", ctx->path, s->rate);
    if (rc == KC_OK) rc = kc_cfg_seed(ctx, cfg, "seed", &s->has_seed, &s->seed, err);
    if (rc == KC_OK && s->has_seed) kc_rng_seed(&s->rng, s->seed);
    if (rc == KC_OK && s->rank > 1) rc = kc__cfg_data_format(ctx, cfg, &s->channels_first, err);
    return rc;
}

static kc_status sd_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const spatial_dropout *s = (const spatial_dropout *)self;
    kc_status rc = kc_cfg_set_float(cfg, "rate", s->rate, err);
    if (rc == KC_OK && (json_object_set_new(cfg, "noise_shape", json_null()) ||
                        json_object_set_new(cfg, "seed", s->has_seed ? json_integer((json_int_t)s->seed) : json_null())))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK && s->rank > 1) rc = kc__cfg_set_data_format(cfg, s->channels_first, err);
    return rc;
}

static kc_status sd_output_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                                 int *n_out, kc_error *err)
{
    (void)n_in;
    const spatial_dropout *s = (const spatial_dropout *)self;
    kc_status rc = kc__check_spatial_rank(&in[0], s->rank, s->channels_first, s->base.base.cls->name, err);
    out[0] = in[0];
    *n_out = 1;
    return rc;
}

static kc_status sd_call(kc_object *self, const kc_call_args *a, kc_tensor **out, int n_out,
                         kc_error *err)
{
    (void)n_out;
    spatial_dropout *s = (spatial_dropout *)self;
    kc_tensor *x = a->inputs[0];
    if (!a->training || s->rate <= 0.0) {
        out[0] = kc_tensor_ref(x);
        return KC_OK;
    }
    /* the noise: (batch, 1, ..., channels) or (batch, channels, 1, ...) */
    int nd = kc_tensor_ndim(x), ch = s->channels_first ? 1 : nd - 1;
    int64_t nd_dims[KC_MAX_DIMS];
    for (int i = 0; i < nd; i++) nd_dims[i] = i == 0 || i == ch ? kc_tensor_dim(x, i) : 1;
    kc_tensor *noise = kc_tensor_empty(KC_FLOAT32, nd, nd_dims, err);
    if (!noise) return kc__error_code(err, KC_ENOMEM);
    kc_rng *rng = s->has_seed ? &s->rng : kc_global_rng();
    float keep = s->rate >= 1.0 ? 0.0f : (float)(1.0 / (1.0 - s->rate));
    float *nv = kc_tensor_f32(noise);
    for (int64_t i = 0; i < kc_tensor_size(noise); i++) nv[i] = kc_rng_uniform(rng) >= s->rate ? keep : 0.0f;
    out[0] = kc_mul(x, noise, err);
    kc_tensor_unref(noise);
    return out[0] ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

static const kc_layer_methods sd_methods = {
    .call = sd_call,
    .compute_output_shape = sd_output_shape,
};

#define SD_CLASS(var, cname, initfn)                                                               \
    const kc_class var = {                                                                         \
        .abi = KC_CLASS_ABI,                                                                       \
        .kind = KC_KIND_LAYER,                                                                     \
        .name = cname,                                                                             \
        .size = sizeof(spatial_dropout),                                                           \
        .config_version = 1,                                                                       \
        .init = initfn,                                                                            \
        .get_config = sd_get_config,                                                               \
        .from_config = sd_from_config,                                                             \
        .methods = &sd_methods,                                                                    \
    };

SD_CLASS(kc__spatial_dropout1d_class, "SpatialDropout1D", sd1_init)
SD_CLASS(kc__spatial_dropout2d_class, "SpatialDropout2D", sd2_init)
SD_CLASS(kc__spatial_dropout3d_class, "SpatialDropout3D", sd3_init)
