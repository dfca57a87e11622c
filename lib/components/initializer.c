/* Initializers: the dispatch that fills a tensor with any initializer
 * (function or class), Keras' fan computation, seeds, and the table of
 * built-in classes and aliases. */
#include "initializer_int.h"

static kc_status check_initializer_class(const kc_class *cls, kc_error *err)
{
    const kc_initializer_methods *m = cls->methods;
    if (!m || !m->fill)
        return kc__errf(err, KC_EINVAL, "initializer class '%s' needs methods with a fill slot",
                        cls->name);
    return KC_OK;
}

const kc__kind_info kc__initializer_kind = {
    .name = "initializer",
    .base_size = sizeof(kc_object),
    .check_class = check_initializer_class,
    .function_class = &kc__function_classes[KC_KIND_INITIALIZER],
};

kc_status kc_initializer_fill(kc_object *init, kc_tensor *out, kc_error *err)
{
    if (!init || !out) return kc__errf(err, KC_EINVAL, "kc_initializer_fill: NULL argument");
    if (kc_object_kind(init) != KC_KIND_INITIALIZER)
        return kc__errf(err, KC_ETYPE, "'%s' is a %s, not an initializer", kc_object_name(init),
                        kc_kind_name(kc_object_kind(init)));
    kc_status rc;
    if (kc_object_is_function(init)) {
        const kc__function *f = (const kc__function *)init;
        rc = ((kc_initializer_fn)f->fn)(out, f->params, err);
    } else {
        rc = ((const kc_initializer_methods *)init->cls->methods)->fill(init, out, err);
    }
    if (rc != KC_OK && err && err->code == KC_OK)
        kc__errf(err, rc, "initializer '%s' failed without saying why", kc_object_name(init));
    if (rc != KC_OK) kc__error_context(err, "initializer '%s'", kc_object_name(init));
    return rc;
}

kc_tensor *kc_initializer_make(kc_object *init, int ndim, const int64_t *dims, kc_error *err)
{
    kc_tensor *t = kc_tensor_empty(KC_FLOAT32, ndim, dims, err);
    if (!t) return NULL;
    if (kc_initializer_fill(init, t, err) != KC_OK) {
        kc_tensor_unref(t);
        return NULL;
    }
    return t;
}

/* Keras' _compute_fans: a convolution kernel (..., in, out) counts its
 * receptive field in both fans. */
void kc_compute_fans(int ndim, const int64_t *dims, double *fan_in, double *fan_out)
{
    if (ndim < 1) {
        *fan_in = *fan_out = 1.0;
    } else if (ndim == 1) {
        *fan_in = *fan_out = (double)dims[0];
    } else if (ndim == 2) {
        *fan_in = (double)dims[0];
        *fan_out = (double)dims[1];
    } else {
        double rf = 1.0;
        for (int i = 0; i < ndim - 2; i++) rf *= (double)dims[i];
        *fan_in = (double)dims[ndim - 2] * rf;
        *fan_out = (double)dims[ndim - 1] * rf;
    }
}

kc_status kc__seed_read(const kc_config_ctx *ctx, const json_t *cfg, kc__seed *s, kc_error *err)
{
    return kc_cfg_seed(ctx, cfg, "seed", &s->has, &s->value, err);
}

kc_status kc__seed_write(json_t *cfg, const kc__seed *s, kc_error *err)
{
    json_t *v = s->has ? json_integer((json_int_t)s->value) : json_null();
    if (json_object_set_new(cfg, "seed", v)) return kc__errf(err, KC_ENOMEM, "out of memory");
    return KC_OK;
}

kc_rng *kc__seed_rng(const kc__seed *s, kc_rng *local)
{
    if (!s->has) return kc_global_rng();
    kc_rng_seed(local, s->value);
    return local;
}

kc_status kc__check_init_out(const char *cls, const kc_tensor *out, kc_error *err)
{
    if (kc_tensor_dtype(out) != KC_FLOAT32)
        return kc__errf(err, KC_ETYPE, "%s fills float32 tensors, not %s", cls,
                        kc_dtype_name(kc_tensor_dtype(out)));
    return KC_OK;
}

static const kc_class *const classes[] = {
    &kc__zeros_class,         &kc__ones_class,          &kc__constant_class,
    &kc__identity_class,      &kc__random_normal_class, &kc__random_uniform_class,
    &kc__truncated_normal_class, &kc__variance_scaling_class, &kc__glorot_normal_class,
    &kc__glorot_uniform_class, &kc__he_normal_class,    &kc__he_uniform_class,
    &kc__lecun_normal_class,  &kc__lecun_uniform_class, &kc__orthogonal_class,
};

#define A(alias, target) {KC_KIND_INITIALIZER, alias, target}
static const kc__builtin_alias aliases[] = {
    A("zeros", "Zeros"),       A("zero", "Zeros"),
    A("ones", "Ones"),         A("one", "Ones"),
    A("constant", "Constant"), A("identity", "Identity"),
    A("random_normal", "RandomNormal"), A("normal", "RandomNormal"),
    A("random_uniform", "RandomUniform"), A("uniform", "RandomUniform"),
    A("truncated_normal", "TruncatedNormal"), A("variance_scaling", "VarianceScaling"),
    A("glorot_normal", "GlorotNormal"), A("glorot_uniform", "GlorotUniform"),
    A("he_normal", "HeNormal"), A("he_uniform", "HeUniform"),
    A("lecun_normal", "LecunNormal"), A("lecun_uniform", "LecunUniform"),
    A("LeCunNormal", "LecunNormal"), A("LeCunUniform", "LecunUniform"),
    A("orthogonal", "Orthogonal"),
    /* Keras 3.0-3.6 wrote the Orthogonal class under its Python name (the
     * only Keras 3 class name that differs from Keras 2's and later 3.x's;
     * IdentityInitializer is an export alias, never written) */
    A("OrthogonalInitializer", "Orthogonal"), A("IdentityInitializer", "Identity"),
    /* TensorFlow.js' camel-cased names */
    A("glorotNormal", "GlorotNormal"), A("glorotUniform", "GlorotUniform"),
    A("heNormal", "HeNormal"), A("heUniform", "HeUniform"),
    A("leCunNormal", "LecunNormal"), A("leCunUniform", "LecunUniform"),
    A("randomNormal", "RandomNormal"), A("randomUniform", "RandomUniform"),
    A("truncatedNormal", "TruncatedNormal"), A("varianceScaling", "VarianceScaling"),
};
#undef A

const kc__builtins kc__initializer_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
    .aliases = aliases,
    .n_aliases = sizeof(aliases) / sizeof(aliases[0]),
};
