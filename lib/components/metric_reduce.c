/* Mean, Sum and the mean of per-sample values: MeanMetricWrapper and the
 * classes Keras builds on it (the accuracies, MeanSquaredError,
 * MeanAbsoluteError) plus RootMeanSquaredError.
 *
 * All keep Keras' two scalar variables, `total` and `count` (Sum only
 * `total`). A batch adds sum(values * sample_weight) to total and the sum of
 * the weights, broadcast to the values, to count; the result is
 * total / count (0 while count is 0). So the result over several batches is
 * the weighted mean over every sample seen, not a mean of batch means.
 *
 * Mean and Sum take their values from y_true, Keras' first argument
 * (update_state(values, sample_weight)); y_pred is not used. The others
 * follow MeanMetricWrapper.update_state: cast both to float32, align
 * (N,) with (N, 1) (squeeze_or_expand_dimensions), compute per-sample
 * values, then accumulate them like Mean.
 *
 * The classes share one instance struct; what differs (how values are
 * computed, which config keys exist) sits in each class's methods table,
 * which starts with the kc_metric_methods every metric has. */
#include "metric_int.h"

#include <math.h>
#include <string.h>

typedef struct reduce_metric {
    kc_metric base;
    kc_variable *total; /* borrowed from base.vars */
    kc_variable *count; /* borrowed; NULL for Sum */
    kc_object *fn;      /* MeanMetricWrapper: a function or a loss instance (owned), or NULL */
    double threshold;   /* BinaryAccuracy */
    int64_t k;          /* TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy */
} reduce_metric;

typedef kc_tensor *(*values_fn)(const reduce_metric *r, kc_tensor *y_true, kc_tensor *y_pred,
                                kc_error *err);

enum {
    PLAIN = 1u,         /* Mean, Sum: values are y_true */
    IS_SUM = 2u,        /* no count, result = total */
    HAS_FN = 4u,        /* config key "fn" */
    HAS_THRESHOLD = 8u, /* config key "threshold" */
    HAS_K = 16u,        /* config key "k" */
    SQRT = 32u,         /* result = sqrt(total / count) */
};

typedef struct reduce_methods {
    kc_metric_methods m; /* must stay first: the class's methods */
    values_fn values;    /* per-sample values, or NULL for PLAIN */
    unsigned flags;
} reduce_methods;

static const reduce_methods *methods_of(const kc_object *self)
{
    return (const reduce_methods *)self->cls->methods;
}

/* ---- per-sample values ------------------------------------------------------------ */

static kc_tensor *v_accuracy(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    (void)r;
    return kc__accuracy_matches(t, p, err);
}

static kc_tensor *v_binary(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    return kc__binary_matches(t, p, (float)r->threshold, err);
}

static kc_tensor *v_categorical(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    (void)r;
    kc_tensor *labels = kc_argmax(t, -1, err);
    kc_tensor *m = kc__sparse_categorical_matches(labels, p, err);
    kc_tensor_unref(labels);
    return m;
}

static kc_tensor *v_sparse_categorical(const reduce_metric *r, kc_tensor *t, kc_tensor *p,
                                       kc_error *err)
{
    (void)r;
    return kc__sparse_categorical_matches(t, p, err);
}

static kc_tensor *v_top_k(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    kc_tensor *labels = kc_argmax(t, -1, err);
    kc_tensor *m = kc__sparse_top_k_matches(labels, p, r->k, err);
    kc_tensor_unref(labels);
    return m;
}

static kc_tensor *v_sparse_top_k(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    return kc__sparse_top_k_matches(t, p, r->k, err);
}

/* Keras' mean_squared_error / mean_absolute_error losses: the mean over the
 * last axis of (y_pred - y_true)^2 or |y_pred - y_true|. */
static kc_tensor *mean_error(kc_tensor *t, kc_tensor *p, bool squared, kc_error *err)
{
    kc_scope *s = kc_scope_new(err);
    kc_tensor *d = kc_scope_take(s, kc_sub(p, t, err));
    kc_tensor *e = kc_scope_take(s, squared ? kc_square(d, err) : kc_abs(d, err));
    kc_tensor *m = kc_reduce_mean(e, (int[]){-1}, 1, false, err);
    kc_scope_free(s);
    return m;
}

static kc_tensor *v_mse(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    (void)r;
    return mean_error(t, p, true, err);
}

static kc_tensor *v_mae(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    (void)r;
    return mean_error(t, p, false, err);
}

/* RootMeanSquaredError averages squared differences element by element. */
static kc_tensor *v_squared_error(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    (void)r;
    kc_tensor *d = kc_sub(p, t, err);
    kc_tensor *q = kc_square(d, err);
    kc_tensor_unref(d);
    return q;
}

/* The wrapped function: a plain function (metric or loss, per sample) or a
 * loss class instance (its call: per-sample losses). */
static kc_tensor *v_wrapped(const reduce_metric *r, kc_tensor *t, kc_tensor *p, kc_error *err)
{
    if (!r->fn) {
        kc__errf(err, KC_ESTATE,
                 "MeanMetricWrapper '%s' has no function to wrap (its \"fn\" is null)",
                 r->base.name);
        return NULL;
    }
    kc_tensor *v;
    if (kc_object_is_function(r->fn)) {
        const kc__function *f = (const kc__function *)r->fn;
        v = ((kc_loss_fn)f->fn)(t, p, f->params, err);
    } else {
        const kc_loss_methods *lm = r->fn->cls->methods;
        if (!lm || !lm->call) {
            kc__errf(err, KC_EINVAL, "loss class '%s' has no call method", r->fn->cls->name);
            return NULL;
        }
        v = lm->call(r->fn, t, p, err);
    }
    if (!v && err && err->code == KC_OK)
        kc__errf(err, KC_EINTERNAL, "'%s' failed without saying why", kc_object_name(r->fn));
    if (!v) kc__error_context(err, "function '%s'", kc_object_name(r->fn));
    return v;
}

/* ---- the metric methods ------------------------------------------------------------ */

static kc_status reduce_init(kc_object *self, kc_error *err)
{
    reduce_metric *r = (reduce_metric *)self;
    r->threshold = 0.5;
    r->k = 5;
    r->total = kc_metric_add_variable(self, "total", 0, NULL, err);
    if (!r->total) return kc__error_code(err, KC_ENOMEM);
    if (!(methods_of(self)->flags & IS_SUM)) {
        r->count = kc_metric_add_variable(self, "count", 0, NULL, err);
        if (!r->count) return kc__error_code(err, KC_ENOMEM);
    }
    return KC_OK;
}

static void reduce_fini(kc_object *self)
{
    kc_object_unref(((reduce_metric *)self)->fn);
}

static kc_status reduce_update(kc_object *self, kc_tensor *y_true, kc_tensor *y_pred,
                               kc_tensor *sample_weight, kc_error *err)
{
    reduce_metric *r = (reduce_metric *)self;
    const reduce_methods *rm = methods_of(self);
    const char *who = self->cls->name;
    if (rm->flags & PLAIN)
        return kc__metric_reduce_update(who, r->total, r->count, y_true, sample_weight, err);
    if (!y_pred) return kc__errf(err, KC_EINVAL, "%s needs y_pred", who);
    kc_tensor *t = kc__metric_f32(y_true, err);
    kc_tensor *p = kc__metric_f32(y_pred, err);
    kc_status rc =
        t && p ? kc__metric_squeeze_or_expand(&p, &t, NULL, err) : kc__error_code(err, KC_ENOMEM);
    kc_tensor *values = rc == KC_OK ? rm->values(r, t, p, err) : NULL;
    if (rc == KC_OK && !values) rc = kc__error_code(err, KC_EINTERNAL);
    if (rc == KC_OK)
        rc = kc__metric_reduce_update(who, r->total, r->count, values, sample_weight, err);
    kc_tensor_unref(values);
    kc_tensor_unref(t);
    kc_tensor_unref(p);
    return rc;
}

static kc_tensor *reduce_result(kc_object *self, kc_error *err)
{
    reduce_metric *r = (reduce_metric *)self;
    unsigned flags = methods_of(self)->flags;
    float total = kc__var_f32(r->total)[0];
    if (flags & IS_SUM) return kc_tensor_scalar(total, err);
    float v = kc__div_no_nan(total, kc__var_f32(r->count)[0]);
    return kc_tensor_scalar((flags & SQRT) ? sqrtf(v) : v, err);
}

static kc_status reduce_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const reduce_metric *r = (const reduce_metric *)self;
    unsigned flags = methods_of(self)->flags;
    kc_status rc = KC_OK;
    if (flags & HAS_THRESHOLD) rc = kc_cfg_set_float(cfg, "threshold", r->threshold, err);
    if (rc == KC_OK && (flags & HAS_K) && json_object_set_new(cfg, "k", json_integer(r->k)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory writing a metric config");
    if (rc == KC_OK && (flags & HAS_FN)) rc = kc_cfg_set_object(cfg, "fn", r->fn, err);
    return rc;
}

/* A function (metric first, then loss) or a loss instance; null: none. */
static kc_status read_fn(const kc_config_ctx *ctx, const json_t *cfg, kc_object **out,
                         kc_error *err)
{
    *out = NULL;
    const json_t *j = json_object_get(cfg, "fn");
    if (!j || json_is_null(j)) return KC_OK;
    kc_config_ctx c = kc_config_ctx_child(ctx, "fn", 0);
    kc_error local = {0};
    kc_object *o = NULL;
    kc_status rc = kc_deserialize(KC_KIND_METRIC, j, &c, &o, &local);
    if (rc == KC_OK && o && !kc_object_is_function(o)) { /* a metric class: not a function */
        kc_object_unref(o);
        o = NULL;
        rc = KC_ENOTFOUND;
    }
    if (rc == KC_ENOTFOUND || rc == KC_EFORMAT) {
        kc_error_clear(&local);
        rc = kc_deserialize(KC_KIND_LOSS, j, &c, &o, &local);
    }
    if (rc == KC_ENOTFOUND) {
        kc__errf(err, KC_ENOTFOUND,
                 "%s: unknown metric or loss function %s%s%s. Register it (kc_register_function) "
                 "or pass it in custom_objects.",
                 c.path, json_is_string(j) ? "'" : "",
                 json_is_string(j) ? json_string_value(j) : "", json_is_string(j) ? "'" : "");
        kc__error_context(err, "%s", c.path);
        return KC_ENOTFOUND;
    }
    if (rc != KC_OK) {
        if (err && err->code == KC_OK) *err = local;
        return rc;
    }
    *out = o;
    return KC_OK;
}

static kc_status reduce_from_config(kc_object *self, const json_t *cfg, const kc_config_ctx *ctx,
                                    kc_error *err)
{
    reduce_metric *r = (reduce_metric *)self;
    unsigned flags = methods_of(self)->flags;
    kc_status rc = KC_OK;
    if (flags & HAS_THRESHOLD) {
        rc = kc_cfg_float(ctx, cfg, "threshold", KC_CFG_NULLABLE, 0.5, &r->threshold, err);
        if (rc == KC_OK && !isfinite(r->threshold))
            rc = kc__metric_cfg_error(ctx, "threshold", err, "expected a finite number");
    }
    if (rc == KC_OK && (flags & HAS_K))
        rc = kc_cfg_int(ctx, cfg, "k", KC_CFG_POSITIVE | KC_CFG_NULLABLE, 5, &r->k, err);
    if (rc == KC_OK && (flags & HAS_FN)) {
        kc_object *fn;
        rc = read_fn(ctx, cfg, &fn, err);
        if (rc == KC_OK) {
            kc_object_unref(r->fn);
            r->fn = fn;
        }
    }
    return rc;
}

/* ---- classes -------------------------------------------------------------------------- */

#define REDUCE_METHODS(var, fn, fl)                                                                \
    static const reduce_methods var = {{reduce_update, reduce_result, NULL}, fn, fl};
REDUCE_METHODS(mean_methods, NULL, PLAIN)
REDUCE_METHODS(sum_methods, NULL, PLAIN | IS_SUM)
REDUCE_METHODS(wrapper_methods, v_wrapped, HAS_FN)
REDUCE_METHODS(accuracy_methods, v_accuracy, 0)
REDUCE_METHODS(binary_accuracy_methods, v_binary, HAS_THRESHOLD)
REDUCE_METHODS(categorical_accuracy_methods, v_categorical, 0)
REDUCE_METHODS(sparse_categorical_accuracy_methods, v_sparse_categorical, 0)
REDUCE_METHODS(top_k_methods, v_top_k, HAS_K)
REDUCE_METHODS(sparse_top_k_methods, v_sparse_top_k, HAS_K)
REDUCE_METHODS(mse_methods, v_mse, 0)
REDUCE_METHODS(mae_methods, v_mae, 0)
REDUCE_METHODS(rmse_methods, v_squared_error, SQRT)
#undef REDUCE_METHODS

#define REDUCE_CLASS(var, kname, meth)                                                             \
    const kc_class var = {.abi = KC_CLASS_ABI,                                                     \
                          .kind = KC_KIND_METRIC,                                                  \
                          .name = kname,                                                           \
                          .size = sizeof(reduce_metric),                                           \
                          .config_version = 1,                                                     \
                          .init = reduce_init,                                                     \
                          .fini = reduce_fini,                                                     \
                          .get_config = reduce_get_config,                                         \
                          .from_config = reduce_from_config,                                       \
                          .methods = &meth};
REDUCE_CLASS(kc__mean_metric_class, "Mean", mean_methods)
REDUCE_CLASS(kc__sum_metric_class, "Sum", sum_methods)
REDUCE_CLASS(kc__mean_metric_wrapper_class, "MeanMetricWrapper", wrapper_methods)
REDUCE_CLASS(kc__accuracy_class, "Accuracy", accuracy_methods)
REDUCE_CLASS(kc__binary_accuracy_class, "BinaryAccuracy", binary_accuracy_methods)
REDUCE_CLASS(kc__categorical_accuracy_class, "CategoricalAccuracy", categorical_accuracy_methods)
REDUCE_CLASS(kc__sparse_categorical_accuracy_class, "SparseCategoricalAccuracy",
             sparse_categorical_accuracy_methods)
REDUCE_CLASS(kc__top_k_categorical_accuracy_class, "TopKCategoricalAccuracy", top_k_methods)
REDUCE_CLASS(kc__sparse_top_k_categorical_accuracy_class, "SparseTopKCategoricalAccuracy",
             sparse_top_k_methods)
REDUCE_CLASS(kc__mean_squared_error_metric_class, "MeanSquaredError", mse_methods)
REDUCE_CLASS(kc__mean_absolute_error_metric_class, "MeanAbsoluteError", mae_methods)
REDUCE_CLASS(kc__root_mean_squared_error_class, "RootMeanSquaredError", rmse_methods)
#undef REDUCE_CLASS

kc_object *kc_metric_mean_wrapper(kc_object *fn, const char *name, kc_error *err)
{
    if (!fn) {
        kc__errf(err, KC_EINVAL, "kc_metric_mean_wrapper: fn is NULL");
        return NULL;
    }
    kc_kind kind = kc_object_kind(fn);
    bool ok = (kind == KC_KIND_METRIC && kc_object_is_function(fn)) || kind == KC_KIND_LOSS;
    if (!ok) {
        kc__errf(err, KC_ETYPE,
                 "kc_metric_mean_wrapper: '%s' is a %s%s; expected a metric or loss function or a "
                 "loss",
                 kc_object_name(fn), kc_kind_name(kind),
                 kind == KC_KIND_METRIC ? " class instance" : "");
        return NULL;
    }
    if (!name) {
        name = kc_object_is_function(fn) ? kc_object_name(fn) : ((const kc_loss *)fn)->name;
        if (!name) name = kc_object_name(fn);
    }
    char *copy = kc__strdup(name);
    kc_object *w = copy ? kc_object_new(&kc__mean_metric_wrapper_class, err) : NULL;
    if (!w) {
        if (!copy) kc__errf(err, KC_ENOMEM, "out of memory wrapping '%s'", name);
        kc__free(copy);
        return NULL;
    }
    reduce_metric *r = (reduce_metric *)w;
    kc__free(r->base.name);
    r->base.name = copy;
    r->fn = kc_object_ref(fn);
    return w;
}
