/* The metric kind: the kc_metric base, its config keys, and the calls that
 * drive any metric (update, result, reset, variables) plus keras.metrics.get.
 *
 * A metric is a Keras Metric: state lives in non-trainable float32
 * variables that the metric owns (Keras' add_weight), update_state adds one
 * batch, result() reads the value so far. Metric work is bookkeeping, never
 * part of a loss: kc_metric_update and kc_metric_result pause every
 * gradient tape of the thread, so a metric updated inside a training step
 * adds nothing to the tape and keeps no tensor alive through it.
 *
 * Names: a metric's default name is Keras' default, the snake_case of its
 * class name ("Precision" -> "precision", "AUC" -> "auc", "MeanIoU" ->
 * "mean_io_u"), which is also what a custom class gets unless its config
 * says otherwise. */
#include "metric_int.h"

#include <math.h>
#include "../autodiff/autodiff_int.h"

#include <ctype.h>
#include <string.h>

static kc_status check_metric_class(const kc_class *cls, kc_error *err)
{
    const kc_metric_methods *m = cls->methods;
    if (!m || !m->update_state || !m->result)
        return kc__errf(err, KC_EINVAL,
                        "metric class '%s' needs methods with update_state and result slots",
                        cls->name);
    return KC_OK;
}

/* Keras' generic_utils.to_snake_case: re.sub("(.)([A-Z][a-z]+)", r"\1_\2"),
 * then re.sub("([a-z])([A-Z])", r"\1_\2"), lower-cased; a leading "_" gets
 * "private" in front. The package of "Package>Name" is left out. */
static char *snake_case(const char *name, kc_error *err)
{
    const char *gt = strrchr(name, '>');
    if (gt) name = gt + 1;
    size_t n = strlen(name);
    /* each pass at most doubles the length */
    char *a = kc__malloc(2 * n + 1), *b = kc__malloc(4 * n + 9);
    if (!a || !b) {
        kc__free(a);
        kc__free(b);
        kc__errf(err, KC_ENOMEM, "out of memory naming a metric");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 2 < n && isupper((unsigned char)name[i + 1]) &&
            islower((unsigned char)name[i + 2])) {
            a[o++] = name[i];
            a[o++] = '_';
            size_t j = i + 1;
            a[o++] = name[j++];
            while (j < n && islower((unsigned char)name[j]))
                a[o++] = name[j++];
            i = j;
        } else {
            a[o++] = name[i++];
        }
    }
    a[o] = 0;
    size_t m = o, p = 0;
    if (m && a[0] == '_') {
        memcpy(b, "private", 7);
        p = 7;
    }
    for (size_t i = 0; i < m;) {
        if (i + 1 < m && islower((unsigned char)a[i]) && isupper((unsigned char)a[i + 1])) {
            b[p++] = a[i];
            b[p++] = '_';
            b[p++] = (char)tolower((unsigned char)a[i + 1]);
            i += 2;
        } else {
            b[p++] = (char)tolower((unsigned char)a[i]);
            i++;
        }
    }
    b[p] = 0;
    kc__free(a);
    return b;
}

static kc_status metric_base_init(kc_object *self, kc_error *err)
{
    kc_metric *m = (kc_metric *)self;
    m->name = snake_case(self->cls->name, err);
    return m->name ? KC_OK : KC_ENOMEM;
}

void kc__metric_drop_variables(kc_object *self)
{
    kc_metric *m = (kc_metric *)self;
    for (int i = 0; i < m->n_vars; i++)
        kc_variable_unref(m->vars[i]);
    m->n_vars = 0;
}

static void metric_base_fini(kc_object *self)
{
    kc_metric *m = (kc_metric *)self;
    kc__metric_drop_variables(self);
    kc__free(m->vars);
    kc__free(m->name);
}

static kc_status metric_base_get_config(const kc_object *self, json_t *cfg, kc_error *err)
{
    const kc_metric *m = (const kc_metric *)self;
    if (json_object_set_new(cfg, "name", json_string(m->name ? m->name : "")) ||
        json_object_set_new(cfg, "dtype", json_string("float32")))
        return kc__errf(err, KC_ENOMEM, "out of memory writing a metric config");
    return KC_OK;
}

static kc_status metric_base_from_config(kc_object *self, const json_t *cfg,
                                         const kc_config_ctx *ctx, kc_error *err)
{
    kc_metric *m = (kc_metric *)self;
    const char *name, *dtype;
    kc_status rc = kc_cfg_string(ctx, cfg, "name", KC_CFG_NULLABLE, m->name, &name, err);
    if (rc == KC_OK) rc = kc_cfg_string(ctx, cfg, "dtype", KC_CFG_NULLABLE, "float32", &dtype, err);
    if (rc != KC_OK) return rc;
    /* Keras metrics accumulate in their dtype; ckeras' state is float32 */
    if (strcmp(dtype, "float32") != 0) {
        kc__errf(err, KC_EUNSUPPORTED,
                 "%s.dtype: metric dtype '%s' is not supported (only float32)", ctx->path, dtype);
        kc_config_ctx c = kc_config_ctx_child(ctx, "dtype", 0);
        kc__error_context(err, "%s", c.path);
        return KC_EUNSUPPORTED;
    }
    if (name != m->name) {
        char *copy = kc__strdup(name);
        if (!copy) return kc__errf(err, KC_ENOMEM, "out of memory reading a metric name");
        kc__free(m->name);
        m->name = copy;
    }
    return KC_OK;
}

const kc__kind_info kc__metric_kind = {
    .name = "metric",
    .base_size = sizeof(kc_metric),
    .base_init = metric_base_init,
    .base_fini = metric_base_fini,
    .base_get_config = metric_base_get_config,
    .base_from_config = metric_base_from_config,
    .check_class = check_metric_class,
    .function_class = &kc__function_classes[KC_KIND_METRIC],
};

/* ---- driving a metric -------------------------------------------------------- */

/* A stateful metric (a class instance of kind metric), or an error. */
static kc_status check_metric(const kc_object *metric, const char *what, kc_error *err)
{
    if (!metric) return kc__errf(err, KC_EINVAL, "%s: metric is NULL", what);
    if (kc_object_kind(metric) != KC_KIND_METRIC)
        return kc__errf(err, KC_ETYPE, "%s: '%s' is a %s, not a metric", what,
                        kc_object_name(metric), kc_kind_name(kc_object_kind(metric)));
    if (kc_object_is_function(metric))
        return kc__errf(err, KC_EINVAL,
                        "%s: '%s' is a metric function, which keeps no state; wrap it with "
                        "kc_metric_mean_wrapper",
                        what, kc_object_name(metric));
    return KC_OK;
}

kc_status kc_metric_update(kc_object *metric, kc_tensor *y_true, kc_tensor *y_pred,
                           kc_tensor *sample_weight, kc_error *err)
{
    kc_status rc = check_metric(metric, "kc_metric_update", err);
    if (rc != KC_OK) return rc;
    if (!y_true) /* y_pred is checked by the metrics that use it */
        return kc__errf(err, KC_EINVAL, "kc_metric_update: y_true is NULL (metric '%s')",
                        kc_metric_name(metric));
    const kc_metric_methods *m = metric->cls->methods;
    kc__recording_pause();
    rc = m->update_state(metric, y_true, y_pred, sample_weight, err);
    kc__recording_resume();
    if (rc != KC_OK) {
        if (err && err->code == KC_OK)
            kc__errf(err, rc, "update_state of '%s' failed without saying why", metric->cls->name);
        kc__error_context(err, "metric '%s'", kc_metric_name(metric));
    }
    return rc;
}

kc_tensor *kc_metric_result(kc_object *metric, kc_error *err)
{
    if (check_metric(metric, "kc_metric_result", err) != KC_OK) return NULL;
    const kc_metric_methods *m = metric->cls->methods;
    kc__recording_pause();
    kc_tensor *r = m->result(metric, err);
    kc__recording_resume();
    if (!r) {
        if (err && err->code == KC_OK)
            kc__errf(err, KC_EINTERNAL, "result of '%s' failed without saying why",
                     metric->cls->name);
        kc__error_context(err, "metric '%s'", kc_metric_name(metric));
    }
    return r;
}

double kc_metric_result_value(kc_object *metric, kc_error *err)
{
    kc_tensor *r = kc_metric_result(metric, err);
    if (!r) return NAN;
    double v = NAN;
    if (kc_tensor_size(r) == 1) {
        v = kc_tensor_get(r, 0);
    } else {
        char buf[160];
        kc_shape s = kc_tensor_shape(r);
        kc__errf(err, KC_ESHAPE, "metric '%s' has a result of shape %s, not one number: use kc_metric_result",
                 kc_metric_name(metric), kc_shape_format(&s, buf, sizeof buf));
    }
    kc_tensor_unref(r);
    return v;
}

kc_status kc_metric_reset(kc_object *metric, kc_error *err)
{
    kc_status rc = check_metric(metric, "kc_metric_reset", err);
    if (rc != KC_OK) return rc;
    const kc_metric_methods *m = metric->cls->methods;
    if (m->reset_state) {
        rc = m->reset_state(metric, err);
        if (rc != KC_OK) kc__error_context(err, "metric '%s'", kc_metric_name(metric));
        return rc;
    }
    /* Keras' default: every state variable back to 0 */
    const kc_metric *b = (const kc_metric *)metric;
    for (int i = 0; i < b->n_vars; i++)
        kc_tensor_fill(kc_variable_value(b->vars[i]), 0.0);
    return KC_OK;
}

const char *kc_metric_name(const kc_object *metric)
{
    if (!metric) return NULL;
    if (kc_object_kind(metric) != KC_KIND_METRIC || kc_object_is_function(metric))
        return kc_object_name(metric);
    const kc_metric *m = (const kc_metric *)metric;
    return m->name ? m->name : metric->cls->name;
}

static const kc_metric *as_stateful(const kc_object *metric)
{
    if (!metric || kc_object_kind(metric) != KC_KIND_METRIC || kc_object_is_function(metric))
        return NULL;
    return (const kc_metric *)metric;
}

int kc_metric_num_variables(const kc_object *metric)
{
    const kc_metric *m = as_stateful(metric);
    return m ? m->n_vars : 0;
}

kc_variable *kc_metric_variable(const kc_object *metric, int i)
{
    const kc_metric *m = as_stateful(metric);
    return m && i >= 0 && i < m->n_vars ? m->vars[i] : NULL;
}

kc_variable *kc_metric_add_variable(kc_object *metric, const char *name, int ndim,
                                    const int64_t *dims, kc_error *err)
{
    if (check_metric(metric, "kc_metric_add_variable", err) != KC_OK) return NULL;
    if (!kc__valid_name(name)) {
        kc__errf(err, KC_EINVAL, "kc_metric_add_variable: invalid variable name '%s'",
                 name ? name : "(null)");
        return NULL;
    }
    kc_metric *m = (kc_metric *)metric;
    size_t cap = (size_t)m->cap_vars;
    if (!kc__grow((void **)&m->vars, &cap, (size_t)m->n_vars + 1, sizeof(*m->vars))) {
        kc__errf(err, KC_ENOMEM, "out of memory adding variable '%s'", name);
        return NULL;
    }
    m->cap_vars = (int)cap;
    kc_tensor *value = kc_tensor_zeros(KC_FLOAT32, ndim, dims, err);
    kc_variable *v = value ? kc_variable_new_take(name, value, false, err) : NULL;
    if (!v) {
        kc__error_context(err, "metric '%s', variable '%s'", kc_metric_name(metric), name);
        return NULL;
    }
    m->vars[m->n_vars++] = v;
    return v;
}

/* ---- keras.metrics.get ---------------------------------------------------------- */

/* Keras' metric aliases of loss functions (tf.keras metrics/__init__.py),
 * looked up as losses under their long names. */
static const char *const loss_aliases[][2] = {
    {"MSE", "mean_squared_error"},
    {"MAE", "mean_absolute_error"},
    {"MAPE", "mean_absolute_percentage_error"},
    {"MSLE", "mean_squared_logarithmic_error"},
    {"bce", "binary_crossentropy"},
    {"BCE", "binary_crossentropy"},
    {"cosine_proximity", "cosine_similarity"},
};

kc_object *kc_metric_get(const char *name, kc_error *err)
{
    if (!name || !*name) {
        kc__errf(err, KC_EINVAL, "kc_metric_get: empty metric name");
        return NULL;
    }
    kc_error local = {0};
    kc_object *obj = kc_object_create(KC_KIND_METRIC, name, &local);
    if (obj) {
        if (!kc_object_is_function(obj)) return obj;
        /* a metric function: Keras wraps it in a MeanMetricWrapper named
         * after what the user wrote ("acc" stays "acc") */
        kc_object *w = kc_metric_mean_wrapper(obj, name[0] == '{' ? NULL : name, err);
        kc_object_unref(obj);
        return w;
    }
    if (local.code != KC_ENOTFOUND) {
        if (err && err->code == KC_OK) *err = local;
        return NULL;
    }
    /* not a metric: every loss is usable as a metric (mse, huber, ...) */
    const char *loss_name = name;
    for (size_t i = 0; i < sizeof(loss_aliases) / sizeof(loss_aliases[0]); i++)
        if (strcmp(name, loss_aliases[i][0]) == 0) loss_name = loss_aliases[i][1];
    kc_error lerr = {0};
    kc_object *loss = kc_object_create(KC_KIND_LOSS, loss_name, &lerr);
    if (!loss) {
        if (lerr.code != KC_ENOTFOUND) {
            if (err && err->code == KC_OK) *err = lerr;
        } else {
            kc__errf(err, KC_ENOTFOUND,
                     "Unknown metric '%s': not a metric class, metric function or loss. Register "
                     "it (kc_register_class / kc_register_function) or pass it in custom_objects.",
                     name);
        }
        return NULL;
    }
    kc_object *w = kc_metric_mean_wrapper(loss, name[0] == '{' ? NULL : name, err);
    kc_object_unref(loss);
    return w;
}
