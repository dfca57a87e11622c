/* Deterministic initializers: Zeros, Ones, Constant(value), Identity(gain). */
#include "initializer_int.h"

#include <string.h>

static kc_status zeros_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    (void)self;
    kc_status rc = kc__check_init_out("Zeros", out, err);
    if (rc == KC_OK) kc_tensor_fill(out, 0.0);
    return rc;
}

static kc_status ones_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    (void)self;
    kc_status rc = kc__check_init_out("Ones", out, err);
    if (rc == KC_OK) kc_tensor_fill(out, 1.0);
    return rc;
}

static const kc_initializer_methods zeros_methods = {zeros_fill};
static const kc_initializer_methods ones_methods = {ones_fill};

const kc_class kc__zeros_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER,
                                  .name = "Zeros", .size = sizeof(kc_object),
                                  .config_version = 1, .methods = &zeros_methods};
const kc_class kc__ones_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER,
                                 .name = "Ones", .size = sizeof(kc_object),
                                 .config_version = 1, .methods = &ones_methods};

/* ---- Constant(value) -------------------------------------------------------- */

typedef struct constant_init {
    kc_object base;
    double value;
} constant_init;

static kc_status constant_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    kc_status rc = kc__check_init_out("Constant", out, err);
    if (rc == KC_OK) kc_tensor_fill(out, ((constant_init *)self)->value);
    return rc;
}

static kc_status constant_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_float(cfg, "value", ((const constant_init *)self)->value, err);
}

static kc_status constant_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                      kc_error *err)
{
    return kc_cfg_float(ctx, cfg, "value", 0, 0.0, &((constant_init *)self)->value, err);
}

static const kc_initializer_methods constant_methods = {constant_fill};
const kc_class kc__constant_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER,
                                     .name = "Constant", .size = sizeof(constant_init),
                                     .config_version = 1, .get_config = constant_get_config,
                                     .from_config = constant_from_config,
                                     .methods = &constant_methods};

/* ---- Identity(gain): gain * eye for 2-D weights, as Keras ---------------------- */

typedef struct identity_init {
    kc_object base;
    double gain;
} identity_init;

static kc_status identity_init_defaults(kc_object *self, kc_error *err)
{
    (void)err;
    ((identity_init *)self)->gain = 1.0;
    return KC_OK;
}

static kc_status identity_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    kc_status rc = kc__check_init_out("Identity", out, err);
    if (rc != KC_OK) return rc;
    if (kc_tensor_ndim(out) != 2) {
        char buf[128];
        kc_shape s = kc_tensor_shape(out);
        return kc__errf(err, KC_ESHAPE, "Identity initializer needs a 2-D shape, got %s",
                        kc_shape_format(&s, buf, sizeof(buf)));
    }
    int64_t r = kc_tensor_dim(out, 0), c = kc_tensor_dim(out, 1);
    float *p = kc_tensor_f32(out);
    float g = (float)((identity_init *)self)->gain;
    memset(p, 0, sizeof(float) * (size_t)(r * c));
    for (int64_t i = 0; i < r && i < c; i++) p[i * c + i] = g;
    return KC_OK;
}

static kc_status identity_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc_cfg_set_float(cfg, "gain", ((const identity_init *)self)->gain, err);
}

static kc_status identity_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                      kc_error *err)
{
    return kc_cfg_float(ctx, cfg, "gain", 0, 1.0, &((identity_init *)self)->gain, err);
}

static const kc_initializer_methods identity_methods = {identity_fill};
const kc_class kc__identity_class = {.abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER,
                                     .name = "Identity", .size = sizeof(identity_init),
                                     .config_version = 1, .init = identity_init_defaults,
                                     .get_config = identity_get_config,
                                     .from_config = identity_from_config,
                                     .methods = &identity_methods};
