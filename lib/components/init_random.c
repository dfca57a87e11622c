/* Random initializers: RandomNormal, RandomUniform, TruncatedNormal and
 * VarianceScaling with its named presets (Glorot, He, LeCun).
 *
 * VarianceScaling follows Keras: scale is divided by fan_in, fan_out or
 * their mean (kc_compute_fans), then "truncated_normal" draws from a normal
 * truncated at 2 stddev with stddev sqrt(scale) / 0.87962566103423978 (the
 * stddev of a unit normal truncated at 2), "untruncated_normal" with stddev
 * sqrt(scale), and "uniform" from [-sqrt(3 scale), sqrt(3 scale)). Keras 2's
 * legacy "normal" means truncated_normal and is written back as "normal". */
#include "initializer_int.h"

#include <math.h>

/* ---- RandomNormal / TruncatedNormal (mean, stddev, seed) ------------------------ */

typedef struct normal_init {
    kc_object base;
    double mean, stddev;
    kc__seed seed;
} normal_init;

static kc_status normal_defaults(kc_object *self, kc_error *err)
{
    (void)err;
    ((normal_init *)self)->stddev = 0.05;
    return KC_OK;
}

static kc_status normal_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    normal_init *n = (normal_init *)self;
    kc_status rc = kc__check_init_out(self->cls->name, out, err);
    if (rc != KC_OK) return rc;
    kc_rng local;
    kc_rng *rng = kc__seed_rng(&n->seed, &local);
    size_t count = (size_t)kc_tensor_size(out);
    if (self->cls == &kc__truncated_normal_class)
        kc_rng_fill_truncated_normal(rng, kc_tensor_f32(out), count, (float)n->mean, (float)n->stddev);
    else
        kc_rng_fill_normal(rng, kc_tensor_f32(out), count, (float)n->mean, (float)n->stddev);
    return KC_OK;
}

static kc_status normal_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const normal_init *n = (const normal_init *)self;
    kc_status rc = kc_cfg_set_float(cfg, "mean", n->mean, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "stddev", n->stddev, err);
    if (rc == KC_OK) rc = kc__seed_write(cfg, &n->seed, err);
    return rc;
}

static kc_status normal_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                    kc_error *err)
{
    normal_init *n = (normal_init *)self;
    kc_status rc = kc_cfg_float(ctx, cfg, "mean", 0, 0.0, &n->mean, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "stddev", KC_CFG_NONNEG, 0.05, &n->stddev, err);
    if (rc == KC_OK) rc = kc__seed_read(ctx, cfg, &n->seed, err);
    return rc;
}

static const kc_initializer_methods normal_methods = {normal_fill};
const kc_class kc__random_normal_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER, .name = "RandomNormal",
    .size = sizeof(normal_init), .config_version = 1, .init = normal_defaults,
    .get_config = normal_get_config, .from_config = normal_from_config, .methods = &normal_methods};
const kc_class kc__truncated_normal_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER, .name = "TruncatedNormal",
    .size = sizeof(normal_init), .config_version = 1, .init = normal_defaults,
    .get_config = normal_get_config, .from_config = normal_from_config, .methods = &normal_methods};

/* ---- RandomUniform (minval, maxval, seed) ------------------------------------------ */

typedef struct uniform_init {
    kc_object base;
    double minval, maxval;
    kc__seed seed;
} uniform_init;

static kc_status uniform_defaults(kc_object *self, kc_error *err)
{
    (void)err;
    ((uniform_init *)self)->minval = -0.05;
    ((uniform_init *)self)->maxval = 0.05;
    return KC_OK;
}

static kc_status uniform_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    uniform_init *u = (uniform_init *)self;
    kc_status rc = kc__check_init_out("RandomUniform", out, err);
    if (rc != KC_OK) return rc;
    kc_rng local;
    kc_rng_fill_uniform(kc__seed_rng(&u->seed, &local), kc_tensor_f32(out),
                        (size_t)kc_tensor_size(out), (float)u->minval, (float)u->maxval);
    return KC_OK;
}

static kc_status uniform_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const uniform_init *u = (const uniform_init *)self;
    kc_status rc = kc_cfg_set_float(cfg, "minval", u->minval, err);
    if (rc == KC_OK) rc = kc_cfg_set_float(cfg, "maxval", u->maxval, err);
    if (rc == KC_OK) rc = kc__seed_write(cfg, &u->seed, err);
    return rc;
}

static kc_status uniform_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    uniform_init *u = (uniform_init *)self;
    kc_status rc = kc_cfg_float(ctx, cfg, "minval", 0, -0.05, &u->minval, err);
    if (rc == KC_OK) rc = kc_cfg_float(ctx, cfg, "maxval", 0, 0.05, &u->maxval, err);
    if (rc == KC_OK) rc = kc__seed_read(ctx, cfg, &u->seed, err);
    if (rc == KC_OK && !(u->minval <= u->maxval))
        rc = kc__errf(err, KC_EFORMAT, "%s: minval %g is above maxval %g", ctx->path, u->minval,
                      u->maxval);
    return rc;
}

static const kc_initializer_methods uniform_methods = {uniform_fill};
const kc_class kc__random_uniform_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER, .name = "RandomUniform",
    .size = sizeof(uniform_init), .config_version = 1, .init = uniform_defaults,
    .get_config = uniform_get_config, .from_config = uniform_from_config,
    .methods = &uniform_methods};

/* ---- VarianceScaling and presets ----------------------------------------------------- */

enum { FAN_IN, FAN_OUT, FAN_AVG };
enum { D_TRUNCATED, D_UNTRUNCATED, D_UNIFORM, D_NORMAL_LEGACY };
static const char *const mode_names[] = {"fan_in", "fan_out", "fan_avg"};
static const char *const dist_names[] = {"truncated_normal", "untruncated_normal", "uniform",
                                         "normal"};

typedef struct vs_init {
    kc_object base;
    double scale;
    int mode, distribution;
    kc__seed seed;
} vs_init;

static kc_status vs_fill(kc_object *self, kc_tensor *out, kc_error *err)
{
    vs_init *v = (vs_init *)self;
    kc_status rc = kc__check_init_out(self->cls->name, out, err);
    if (rc != KC_OK) return rc;
    double fan_in, fan_out, scale = v->scale;
    kc_compute_fans(kc_tensor_ndim(out), kc_tensor_dims(out), &fan_in, &fan_out);
    double fan = v->mode == FAN_IN ? fan_in : v->mode == FAN_OUT ? fan_out : (fan_in + fan_out) / 2;
    scale /= fan > 1.0 ? fan : 1.0;
    kc_rng local;
    kc_rng *rng = kc__seed_rng(&v->seed, &local);
    float *p = kc_tensor_f32(out);
    size_t n = (size_t)kc_tensor_size(out);
    switch (v->distribution) {
    case D_TRUNCATED:
    case D_NORMAL_LEGACY:
        kc_rng_fill_truncated_normal(rng, p, n, 0.0f, (float)(sqrt(scale) / 0.87962566103423978));
        break;
    case D_UNTRUNCATED: kc_rng_fill_normal(rng, p, n, 0.0f, (float)sqrt(scale)); break;
    default: {
        float limit = (float)sqrt(3.0 * scale);
        kc_rng_fill_uniform(rng, p, n, -limit, limit);
    }
    }
    return KC_OK;
}

static kc_status vs_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const vs_init *v = (const vs_init *)self;
    kc_status rc = kc_cfg_set_float(cfg, "scale", v->scale, err);
    if (rc == KC_OK && (json_object_set_new(cfg, "mode", json_string(mode_names[v->mode])) ||
                        json_object_set_new(cfg, "distribution",
                                            json_string(dist_names[v->distribution]))))
        rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc == KC_OK) rc = kc__seed_write(cfg, &v->seed, err);
    return rc;
}

static kc_status vs_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                kc_error *err)
{
    vs_init *v = (vs_init *)self;
    kc_status rc = kc_cfg_float(ctx, cfg, "scale", KC_CFG_POSITIVE, 1.0, &v->scale, err);
    if (rc == KC_OK) rc = kc_cfg_choice(ctx, cfg, "mode", 0, mode_names, 3, FAN_IN, &v->mode, err);
    if (rc == KC_OK)
        rc = kc_cfg_choice(ctx, cfg, "distribution", 0, dist_names, 4, D_TRUNCATED,
                           &v->distribution, err);
    if (rc == KC_OK) rc = kc__seed_read(ctx, cfg, &v->seed, err);
    return rc;
}

static kc_status vs_defaults(kc_object *self, kc_error *err)
{
    (void)err;
    vs_init *v = (vs_init *)self;
    v->scale = 1.0;
    v->mode = FAN_IN;
    v->distribution = D_TRUNCATED;
    return KC_OK;
}

static const kc_initializer_methods vs_methods = {vs_fill};
const kc_class kc__variance_scaling_class = {
    .abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER, .name = "VarianceScaling",
    .size = sizeof(vs_init), .config_version = 1, .init = vs_defaults,
    .get_config = vs_get_config, .from_config = vs_from_config, .methods = &vs_methods};

/* Presets: fixed scale, mode and distribution; their config is the seed. */
static kc_status preset_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    return kc__seed_write(cfg, &((const vs_init *)self)->seed, err);
}

static kc_status preset_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                    kc_error *err)
{
    return kc__seed_read(ctx, cfg, &((vs_init *)self)->seed, err);
}

#define PRESET(cname, kname, sc, md, ds)                                                           \
    static kc_status cname##_defaults(kc_object *self, kc_error *err)                              \
    {                                                                                              \
        (void)err;                                                                                 \
        vs_init *v = (vs_init *)self;                                                              \
        v->scale = sc;                                                                             \
        v->mode = md;                                                                              \
        v->distribution = ds;                                                                      \
        return KC_OK;                                                                              \
    }                                                                                              \
    const kc_class kc__##cname##_class = {                                                         \
        .abi = KC_CLASS_ABI, .kind = KC_KIND_INITIALIZER, .name = kname,                           \
        .size = sizeof(vs_init), .config_version = 1, .init = cname##_defaults,                    \
        .get_config = preset_get_config, .from_config = preset_from_config,                        \
        .methods = &vs_methods};

PRESET(glorot_normal, "GlorotNormal", 1.0, FAN_AVG, D_TRUNCATED)
PRESET(glorot_uniform, "GlorotUniform", 1.0, FAN_AVG, D_UNIFORM)
PRESET(he_normal, "HeNormal", 2.0, FAN_IN, D_TRUNCATED)
PRESET(he_uniform, "HeUniform", 2.0, FAN_IN, D_UNIFORM)
PRESET(lecun_normal, "LecunNormal", 1.0, FAN_IN, D_TRUNCATED)
PRESET(lecun_uniform, "LecunUniform", 1.0, FAN_IN, D_UNIFORM)
#undef PRESET
