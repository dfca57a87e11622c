/* The built-in loss classes and functions, and the names Keras knows them by.
 *
 * Every Keras loss class is a LossFunctionWrapper: a loss function plus
 * its keyword arguments, which are also the class's config keys (Huber's
 * delta, the crossentropies' from_logits, label_smoothing, axis, ...). So
 * here too one instance struct and one `call` serve all fifteen classes;
 * each class descriptor carries its function, default name and the keys it
 * reads and writes. */
#include "loss_int.h"

#include <string.h>

const kc__loss_params kc__loss_defaults = {
    .delta = 1.0,
    .from_logits = false,
    .label_smoothing = 0.0,
    .axis = -1,
    .has_ignore_class = false,
    .ignore_class = 0,
};

/* Config keys a class has besides reduction and name. */
enum {
    KEY_DELTA = 1u << 0,
    KEY_FROM_LOGITS = 1u << 1,
    KEY_LABEL_SMOOTHING = 1u << 2,
    KEY_AXIS = 1u << 3,
    KEY_IGNORE_CLASS = 1u << 4,
};

/* A built-in class: the kc_class first, so an instance's cls points at it. */
typedef struct builtin_class {
    kc_class cls;
    kc_loss_fn fn;
    const char *default_name; /* Keras' default `name` argument */
    unsigned keys;            /* KEY_* */
} builtin_class;

typedef struct builtin_loss {
    kc_loss base; /* must stay first */
    kc__loss_params p;
} builtin_loss;

static const builtin_class *spec_of(const kc_object *self)
{
    return (const builtin_class *)self->cls;
}

static kc_status builtin_init(kc_object *self, kc_error *err)
{
    builtin_loss *l = (builtin_loss *)self;
    l->p = kc__loss_defaults;
    char *name = kc__strdup(spec_of(self)->default_name);
    if (!name) return kc__errf(err, KC_ENOMEM, "out of memory naming a '%s'", self->cls->name);
    kc__free(l->base.name);
    l->base.name = name;
    return KC_OK;
}

static kc_status builtin_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc__loss_params *p = &((const builtin_loss *)self)->p;
    unsigned keys = spec_of(self)->keys;
    kc_status rc = KC_OK;
    if (keys & KEY_DELTA) rc = kc_cfg_set_float(cfg, "delta", p->delta, err);
    if (rc == KC_OK && (keys & KEY_FROM_LOGITS) &&
        json_object_set_new(cfg, "from_logits", json_boolean(p->from_logits)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory writing a loss config");
    if (rc == KC_OK && (keys & KEY_LABEL_SMOOTHING))
        rc = kc_cfg_set_float(cfg, "label_smoothing", p->label_smoothing, err);
    if (rc == KC_OK && (keys & KEY_AXIS) && json_object_set_new(cfg, "axis", json_integer(p->axis)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory writing a loss config");
    if (rc == KC_OK && (keys & KEY_IGNORE_CLASS) &&
        json_object_set_new(cfg, "ignore_class",
                            p->has_ignore_class ? json_integer((json_int_t)p->ignore_class)
                                                : json_null()))
        rc = kc__errf(err, KC_ENOMEM, "out of memory writing a loss config");
    return rc;
}

static kc_status out_of_range(const kc_config_ctx *ctx, const char *key, const char *expected,
                              double got, kc_error *err)
{
    kc__errf(err, KC_EFORMAT, "%s.%s: expected %s, got %g", ctx->path, key, expected, got);
    kc_config_ctx c = kc_config_ctx_child(ctx, key, 0);
    kc__error_context(err, "%s", c.path);
    return KC_EFORMAT;
}

static kc_status builtin_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                     kc_error *err)
{
    kc__loss_params *p = &((builtin_loss *)self)->p;
    unsigned keys = spec_of(self)->keys;
    kc_status rc = KC_OK;
    if (keys & KEY_DELTA)
        rc = kc_cfg_float(ctx, cfg, "delta", KC_CFG_NONNEG, p->delta, &p->delta, err);
    if (rc == KC_OK && (keys & KEY_FROM_LOGITS))
        rc = kc_cfg_bool(ctx, cfg, "from_logits", 0, p->from_logits, &p->from_logits, err);
    if (rc == KC_OK && (keys & KEY_LABEL_SMOOTHING)) {
        rc = kc_cfg_float(ctx, cfg, "label_smoothing", KC_CFG_NONNEG, p->label_smoothing,
                          &p->label_smoothing, err);
        if (rc == KC_OK && p->label_smoothing > 1.0)
            rc =
                out_of_range(ctx, "label_smoothing", "a number in [0, 1]", p->label_smoothing, err);
    }
    if (rc == KC_OK && (keys & KEY_AXIS)) {
        int64_t axis = p->axis;
        rc = kc_cfg_int(ctx, cfg, "axis", 0, axis, &axis, err);
        if (rc == KC_OK && (axis < -KC_MAX_DIMS || axis >= KC_MAX_DIMS))
            rc = out_of_range(ctx, "axis", "an axis of a tensor", (double)axis, err);
        p->axis = (int)axis;
    }
    if (rc == KC_OK && (keys & KEY_IGNORE_CLASS)) {
        const json_t *v = json_object_get(cfg, "ignore_class");
        p->has_ignore_class = v && !json_is_null(v);
        if (p->has_ignore_class)
            rc = kc_cfg_int(ctx, cfg, "ignore_class", 0, 0, &p->ignore_class, err);
    }
    return rc;
}

/* LossFunctionWrapper.call: align the ranks, then the function. */
static kc_tensor *builtin_call(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred, kc_error *err)
{
    kc_tensor *yt, *yp;
    if (kc__loss_align(y_true, y_pred, &yt, &yp, err) != KC_OK) return NULL;
    kc_tensor *r = spec_of(self)->fn(yt, yp, &((builtin_loss *)self)->p, err);
    kc_tensor_unref(yt);
    kc_tensor_unref(yp);
    return r;
}

static const kc_loss_methods builtin_methods = {builtin_call};

#define LOSS_CLASS(var, kname, f, dname, k)                                                        \
    static const builtin_class var = {.cls = {.abi = KC_CLASS_ABI,                                 \
                                              .kind = KC_KIND_LOSS,                                \
                                              .name = kname,                                       \
                                              .size = sizeof(builtin_loss),                        \
                                              .config_version = 1,                                 \
                                              .init = builtin_init,                                \
                                              .get_config = builtin_get_config,                    \
                                              .from_config = builtin_from_config,                  \
                                              .methods = &builtin_methods},                        \
                                      .fn = f,                                                     \
                                      .default_name = dname,                                       \
                                      .keys = k};
LOSS_CLASS(mse_class, "MeanSquaredError", kc__loss_mse, "mean_squared_error", 0)
LOSS_CLASS(mae_class, "MeanAbsoluteError", kc__loss_mae, "mean_absolute_error", 0)
LOSS_CLASS(mape_class, "MeanAbsolutePercentageError", kc__loss_mape,
           "mean_absolute_percentage_error", 0)
LOSS_CLASS(msle_class, "MeanSquaredLogarithmicError", kc__loss_msle,
           "mean_squared_logarithmic_error", 0)
LOSS_CLASS(huber_class, "Huber", kc__loss_huber, "huber_loss", KEY_DELTA)
LOSS_CLASS(log_cosh_class, "LogCosh", kc__loss_log_cosh, "log_cosh", 0)
LOSS_CLASS(bce_class, "BinaryCrossentropy", kc__loss_binary_crossentropy, "binary_crossentropy",
           KEY_FROM_LOGITS | KEY_LABEL_SMOOTHING | KEY_AXIS)
LOSS_CLASS(cce_class, "CategoricalCrossentropy", kc__loss_categorical_crossentropy,
           "categorical_crossentropy", KEY_FROM_LOGITS | KEY_LABEL_SMOOTHING | KEY_AXIS)
LOSS_CLASS(scce_class, "SparseCategoricalCrossentropy", kc__loss_sparse_categorical_crossentropy,
           "sparse_categorical_crossentropy", KEY_FROM_LOGITS | KEY_IGNORE_CLASS)
LOSS_CLASS(hinge_class, "Hinge", kc__loss_hinge, "hinge", 0)
LOSS_CLASS(squared_hinge_class, "SquaredHinge", kc__loss_squared_hinge, "squared_hinge", 0)
LOSS_CLASS(categorical_hinge_class, "CategoricalHinge", kc__loss_categorical_hinge,
           "categorical_hinge", 0)
LOSS_CLASS(kld_class, "KLDivergence", kc__loss_kl_divergence, "kl_divergence", 0)
LOSS_CLASS(poisson_class, "Poisson", kc__loss_poisson, "poisson", 0)
LOSS_CLASS(cosine_class, "CosineSimilarity", kc__loss_cosine_similarity, "cosine_similarity",
           KEY_AXIS)
#undef LOSS_CLASS

bool kc__loss_ignore_class(const kc_object *loss, int64_t *ignore_class)
{
    if (!loss || loss->cls != &scce_class.cls) return false;
    const builtin_loss *l = (const builtin_loss *)loss;
    *ignore_class = l->p.ignore_class;
    return l->p.has_ignore_class;
}

static const kc_class *const classes[] = {
    &mse_class.cls,   &mae_class.cls,      &mape_class.cls,          &msle_class.cls,
    &huber_class.cls, &log_cosh_class.cls, &bce_class.cls,           &cce_class.cls,
    &scce_class.cls,  &hinge_class.cls,    &squared_hinge_class.cls, &categorical_hinge_class.cls,
    &kld_class.cls,   &poisson_class.cls,  &cosine_class.cls,
};

/* Every name Keras' losses module defines is its own function object, not
 * an alias, because a function is saved under the name it was given:
 * compile(loss="mse") saves "mse", and so must we. */
#define FN(name, f)                                                                                \
    {                                                                                              \
        KC_KIND_LOSS, name, KC_FN(f)                                                               \
    }
static const kc__builtin_fn functions[] = {
    FN("mean_squared_error", kc__loss_mse),
    FN("mse", kc__loss_mse),
    FN("MSE", kc__loss_mse),
    FN("mean_absolute_error", kc__loss_mae),
    FN("mae", kc__loss_mae),
    FN("MAE", kc__loss_mae),
    FN("mean_absolute_percentage_error", kc__loss_mape),
    FN("mape", kc__loss_mape),
    FN("MAPE", kc__loss_mape),
    FN("mean_squared_logarithmic_error", kc__loss_msle),
    FN("msle", kc__loss_msle),
    FN("MSLE", kc__loss_msle),
    FN("huber", kc__loss_huber),
    FN("huber_loss", kc__loss_huber),
    FN("log_cosh", kc__loss_log_cosh),
    FN("logcosh", kc__loss_log_cosh),
    FN("binary_crossentropy", kc__loss_binary_crossentropy),
    FN("bce", kc__loss_binary_crossentropy),
    FN("BCE", kc__loss_binary_crossentropy),
    FN("categorical_crossentropy", kc__loss_categorical_crossentropy),
    FN("sparse_categorical_crossentropy", kc__loss_sparse_categorical_crossentropy),
    FN("hinge", kc__loss_hinge),
    FN("squared_hinge", kc__loss_squared_hinge),
    FN("categorical_hinge", kc__loss_categorical_hinge),
    FN("kl_divergence", kc__loss_kl_divergence),
    FN("kld", kc__loss_kl_divergence),
    FN("KLD", kc__loss_kl_divergence),
    FN("kullback_leibler_divergence", kc__loss_kl_divergence),
    FN("poisson", kc__loss_poisson),
    FN("cosine_similarity", kc__loss_cosine_similarity),
};
#undef FN

/* TensorFlow.js' camel-cased loss names (its losses map), for files it
 * wrote: they resolve to the Keras function and are saved under Keras'
 * name, which every reader knows. */
#define A(alias, target)                                                                           \
    {                                                                                              \
        KC_KIND_LOSS, alias, target                                                                \
    }
static const kc__builtin_alias aliases[] = {
    A("meanSquaredError", "mean_squared_error"),
    A("meanAbsoluteError", "mean_absolute_error"),
    A("meanAbsolutePercentageError", "mean_absolute_percentage_error"),
    A("meanSquaredLogarithmicError", "mean_squared_logarithmic_error"),
    A("binaryCrossentropy", "binary_crossentropy"),
    A("categoricalCrossentropy", "categorical_crossentropy"),
    A("sparseCategoricalCrossentropy", "sparse_categorical_crossentropy"),
    A("squaredHinge", "squared_hinge"),
    A("categoricalHinge", "categorical_hinge"),
    A("kullbackLeiblerDivergence", "kullback_leibler_divergence"),
    A("cosineProximity", "cosine_similarity"),
};
#undef A

const kc__builtins kc__loss_builtins = {
    .classes = classes,
    .n_classes = sizeof(classes) / sizeof(classes[0]),
    .functions = functions,
    .n_functions = sizeof(functions) / sizeof(functions[0]),
    .aliases = aliases,
    .n_aliases = sizeof(aliases) / sizeof(aliases[0]),
};
