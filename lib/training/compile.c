/* compile: the optimizer, losses, loss weights and metrics a model trains
 * with, from Keras' training_config JSON (the same text a saved file holds)
 * or from objects. The user's specs are kept as given, because Keras writes
 * them back into training_config as given ("mse" stays "mse"); the objects
 * they name are resolved once the number of outputs is known. */
#include "training_int.h"

#include <string.h>

static void compiled_free(void *p)
{
    kc__compiled *c = p;
    if (!c) return;
    kc_object_unref(c->optimizer);
    json_decref(c->loss_spec);
    json_decref(c->metrics_spec);
    json_decref(c->weighted_spec);
    json_decref(c->loss_weights_spec);
    for (int i = 0; i < c->n_outputs; i++) {
        if (c->losses) kc_object_unref(c->losses[i]);
        if (c->metrics) {
            for (int k = 0; k < c->n_metrics[i]; k++) {
                kc_object_unref(c->metrics[i][k].metric);
                kc__free(c->metrics[i][k].special);
                kc__free(c->metrics[i][k].log_name);
            }
            kc__free(c->metrics[i]);
        }
        if (c->output_loss_trackers) kc_object_unref(c->output_loss_trackers[i]);
    }
    kc__free(c->output_loss_trackers);
    kc_object_unref(c->loss_tracker);
    for (int i = 0; i < c->n_added; i++) {
        kc_object_unref(c->added_metrics[i]);
        kc__free(c->added_names[i]);
    }
    kc__free(c->added_metrics);
    kc__free(c->added_names);
    kc_custom_objects_free(c->owned_custom);
    kc__free(c->losses);
    kc__free(c->loss_weights);
    kc__free(c->metrics);
    kc__free(c->n_metrics);
    kc__free(c);
}

kc__compiled *kc__model_compiled(const kc_object *model)
{
    if (!kc_is_model(model)) return NULL;
    const kc__model_state *s = kc__mstate(model);
    return s->trainer_free == compiled_free ? s->trainer : NULL;
}

bool kc_model_is_compiled(const kc_object *model) { return kc__model_compiled(model) != NULL; }

kc_object *kc_model_optimizer(const kc_object *model)
{
    kc__compiled *c = kc__model_compiled(model);
    return c ? c->optimizer : NULL;
}

static kc_status resolved_output(kc_object *model, int output, kc__compiled **out, kc_error *err)
{
    kc__compiled *c = kc_is_model(model) ? kc__model_compiled(model) : NULL;
    if (!c) return kc__errf(err, KC_ESTATE, "the model is not compiled");
    if (c->n_outputs < 0) {
        if (!kc__mstate(model)->io_known)
            return kc__errf(err, KC_ESTATE, "model '%s' is not built: its outputs are unknown", kc_layer_name(model));
        kc_status rc = kc__compiled_resolve(model, kc__mstate(model)->n_outputs, err);
        if (rc != KC_OK) return rc;
    }
    if (output < 0 || output >= c->n_outputs)
        return kc__errf(err, KC_EINVAL, "output %d out of range (the model has %d)", output, c->n_outputs);
    *out = c;
    return KC_OK;
}

kc_status kc_model_compiled_loss(kc_object *model, int output, kc_object **loss, kc_error *err)
{
    *loss = NULL;
    kc__compiled *c = NULL;
    kc_status rc = resolved_output(model, output, &c, err);
    if (rc == KC_OK) *loss = c->losses[output];
    return rc;
}

kc_status kc_model_compiled_metrics(kc_object *model, int output, kc_object **metrics, int max, int *n,
                                    kc_error *err)
{
    *n = 0;
    kc__compiled *c = NULL;
    kc_status rc = resolved_output(model, output, &c, err);
    for (int i = 0; rc == KC_OK && i < c->n_metrics[output] && i < max; i++) metrics[(*n)++] = c->metrics[output][i].metric;
    return rc;
}

static bool is_special_metric(const char *s)
{
    return !strcmp(s, "accuracy") || !strcmp(s, "acc") || !strcmp(s, "crossentropy") || !strcmp(s, "ce");
}

/* The spec entry that applies to output i: a list item, a dict value by
 * output name, or the spec itself when it applies to every output.
 * *per_output tells whether the spec was per output. */
static const json_t *for_output(const kc_object *model, const json_t *spec, int i, int n, bool list_means_per_output,
                                const kc_config_ctx *ctx, kc_error *err, kc_status *rc)
{
    *rc = KC_OK;
    if (!spec || json_is_null(spec)) return NULL;
    if (json_is_object(spec) && !json_object_get(spec, "class_name")) { /* by output name */
        const char *name = kc_model_output_name(model, i);
        const json_t *v = name ? json_object_get(spec, name) : NULL;
        if (i == 0) { /* every key must name an output */
            const char *key;
            json_t *val;
            json_object_foreach((json_t *)spec, key, val)
            {
                bool found = false;
                for (int k = 0; k < n && !found; k++) {
                    const char *o = kc_model_output_name(model, k);
                    found = o && !strcmp(o, key);
                }
                if (!found) {
                    *rc = kc__errf(err, KC_EINVAL, "%s: '%s' is not an output of model '%s'", ctx->path, key,
                                   kc_layer_name(model));
                    return NULL;
                }
            }
        }
        return v;
    }
    if (json_is_array(spec) && list_means_per_output) {
        if ((int)json_array_size(spec) != n) {
            *rc = kc__errf(err, KC_EINVAL, "%s: %zu entries for a model with %d outputs", ctx->path,
                           json_array_size(spec), n);
            return NULL;
        }
        return json_array_get(spec, (size_t)i);
    }
    return spec;
}

/* metrics: a flat list applies to every output; a list of lists is per output */
static bool metrics_per_output(const json_t *spec)
{
    return json_is_array(spec) && json_array_size(spec) > 0 && json_is_array(json_array_get(spec, 0));
}

static kc_status add_metrics(kc__compiled *c, int i, const json_t *list, bool weighted, const kc_config_ctx *ctx,
                             kc_error *err)
{
    if (!list || json_is_null(list)) return KC_OK;
    const json_t *one[1] = {list};
    size_t n = json_is_array(list) ? json_array_size(list) : 1;
    for (size_t k = 0; k < n; k++) {
        const json_t *m = json_is_array(list) ? json_array_get(list, k) : one[0];
        kc_config_ctx mc = kc_config_ctx_child(ctx, NULL, k);
        size_t cap = (size_t)c->n_metrics[i];
        kc__metric_entry *arr = c->metrics[i];
        if (!kc__grow((void **)&arr, &cap, cap + 1, sizeof(*arr))) return kc__errf(err, KC_ENOMEM, "out of memory");
        c->metrics[i] = arr;
        kc__metric_entry *e = &arr[c->n_metrics[i]];
        memset(e, 0, sizeof(*e));
        e->weighted = weighted;
        if (json_is_string(m) && is_special_metric(json_string_value(m))) {
            if (!(e->special = kc__strdup(json_string_value(m)))) return kc__errf(err, KC_ENOMEM, "out of memory");
        } else if (json_is_string(m)) {
            /* names: custom objects, then keras.metrics.get (functions get a
             * MeanMetricWrapper, loss names too) */
            const kc_class *cls;
            kc_object *obj;
            if (kc__custom_lookup(ctx->custom, KC_KIND_METRIC, json_string_value(m), &cls, &obj) ||
                kc__custom_lookup(ctx->custom, KC_KIND_LOSS, json_string_value(m), &cls, &obj)) {
                kc_object *base = NULL;
                kc_status rc = kc_deserialize(kc__custom_lookup(ctx->custom, KC_KIND_METRIC, json_string_value(m), &cls, &obj)
                                                  ? KC_KIND_METRIC : KC_KIND_LOSS,
                                              m, &mc, &base, err);
                if (rc != KC_OK) return rc;
                if (kc_object_kind(base) == KC_KIND_METRIC && !kc_object_is_function(base)) {
                    e->metric = base;
                } else {
                    e->metric = kc_metric_mean_wrapper(base, json_string_value(m), err);
                    kc_object_unref(base);
                }
            } else {
                e->metric = kc_metric_get(json_string_value(m), err);
            }
            if (!e->metric) {
                kc__error_context(err, "%s", mc.path);
                return kc__error_code(err, KC_ENOTFOUND);
            }
        } else {
            kc_status rc = kc_deserialize(KC_KIND_METRIC, m, &mc, &e->metric, err);
            if (rc != KC_OK) return rc;
            if (!e->metric) return kc__errf(err, KC_EFORMAT, "%s: a metric is null", mc.path);
        }
        c->n_metrics[i]++;
    }
    return KC_OK;
}

kc_status kc__compiled_resolve(kc_object *model, int n, kc_error *err)
{
    kc__compiled *c = kc__model_compiled(model);
    if (!c) return kc__errf(err, KC_ESTATE, "model '%s' is not compiled", kc_layer_name(model));
    if (c->n_outputs >= 0) {
        if (c->n_outputs != n)
            return kc__errf(err, KC_ESHAPE, "model '%s' was compiled for %d outputs but produces %d",
                            kc_layer_name(model), c->n_outputs, n);
        return KC_OK;
    }
    if (n < 1) return kc__errf(err, KC_EINVAL, "a model needs outputs");
    c->losses = kc__calloc((size_t)n, sizeof(kc_object *));
    c->loss_weights = kc__calloc((size_t)n, sizeof(double));
    c->metrics = kc__calloc((size_t)n, sizeof(kc__metric_entry *));
    c->n_metrics = kc__calloc((size_t)n, sizeof(int));
    if (!c->losses || !c->loss_weights || !c->metrics || !c->n_metrics) return kc__errf(err, KC_ENOMEM, "out of memory");
    c->n_outputs = n;
    kc_config_ctx root;
    kc_config_ctx_init(&root, "compile", c->custom);
    kc_status rc = KC_OK;
    for (int i = 0; i < n && rc == KC_OK; i++) {
        kc_config_ctx lc = kc_config_ctx_child(&root, "loss", 0);
        const json_t *ls = for_output(model, c->loss_spec, i, n, true, &lc, err, &rc);
        if (rc == KC_OK && ls) rc = kc_deserialize(KC_KIND_LOSS, ls, &lc, &c->losses[i], err);
        kc_config_ctx wc = kc_config_ctx_child(&root, "loss_weights", 0);
        const json_t *w = rc == KC_OK ? for_output(model, c->loss_weights_spec, i, n, true, &wc, err, &rc) : NULL;
        c->loss_weights[i] = 1.0;
        if (rc == KC_OK && w) {
            if (json_is_number(w))
                c->loss_weights[i] = json_number_value(w);
            else
                rc = kc__errf(err, KC_EFORMAT, "%s: expected a number for output %d", wc.path, i);
        }
        for (int pass = 0; pass < 2 && rc == KC_OK; pass++) {
            const json_t *spec = pass ? c->weighted_spec : c->metrics_spec;
            kc_config_ctx mc = kc_config_ctx_child(&root, pass ? "weighted_metrics" : "metrics", 0);
            const json_t *ms = for_output(model, spec, i, n, metrics_per_output(spec), &mc, err, &rc);
            if (rc == KC_OK) rc = add_metrics(c, i, ms, pass == 1, &mc, err);
        }
    }
    return rc;
}

static kc_status attach(kc_object *model, kc__compiled *c, kc_error *err)
{
    kc__model_state *s = kc__mstate(model);
    if (s->trainer && s->trainer_free) s->trainer_free(s->trainer);
    s->trainer = c;
    s->trainer_free = compiled_free;
    if (s->io_known) {
        kc_status rc = kc__compiled_resolve(model, s->n_outputs, err);
        if (rc != KC_OK) {
            s->trainer = NULL;
            s->trainer_free = NULL;
            compiled_free(c);
            return rc;
        }
    }
    c->custom = c->owned_custom; /* a caller's custom_objects are borrowed for this call only */
    return KC_OK;
}

kc_status kc__compiled_attach(kc_object *model, kc__compiled *c, kc_error *err) { return attach(model, c, err); }
void kc__compiled_free(kc__compiled *c) { compiled_free(c); }

kc_status kc__need_model(const kc_object *model, kc_error *err)
{
    if (kc_is_model(model)) return KC_OK;
    if (!model) return kc__errf(err, KC_EINVAL, "not a model: the model is NULL");
    if (kc_is_layer(model))
        return kc__errf(err, KC_EINVAL, "not a model: '%s' is a %s layer (use a Sequential, Functional or model class)",
                        kc_layer_name(model), kc_object_name(model));
    return kc__errf(err, KC_EINVAL, "not a model: a %s ('%s')", kc_kind_name(kc_object_kind(model)),
                    kc_object_name(model));
}

kc_status kc_model_compile_json(kc_object *model, const json_t *spec, const kc_custom_objects *custom,
                                kc_error *err)
{
    kc_status need = kc__need_model(model, err);
    if (need != KC_OK) return need;
    if (!json_is_object(spec)) return kc__errf(err, KC_EINVAL, "compile: the spec must be a JSON object");
    kc__compiled *c = kc__calloc(1, sizeof(*c));
    if (!c) return kc__errf(err, KC_ENOMEM, "out of memory");
    c->n_outputs = -1;
    c->custom = custom;
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, "compile", custom);
    const json_t *opt = json_object_get(spec, "optimizer");
    if (!opt || json_is_null(opt)) opt = json_object_get(spec, "optimizer_config");
    kc_status rc;
    kc_config_ctx oc = kc_config_ctx_child(&ctx, "optimizer", 0);
    if (!opt || json_is_null(opt)) {
        c->optimizer = kc_optimizer_get("rmsprop", err); /* Keras' default */
        rc = c->optimizer ? KC_OK : kc__error_code(err, KC_ENOTFOUND);
    } else if (json_is_string(opt) && !kc__custom_lookup(custom, KC_KIND_OPTIMIZER, json_string_value(opt), &(const kc_class *){0}, &(kc_object *){0})) {
        c->optimizer = kc_optimizer_get(json_string_value(opt), err);
        rc = c->optimizer ? KC_OK : kc__error_code(err, KC_ENOTFOUND);
        if (rc != KC_OK) kc__error_context(err, "%s", oc.path);
    } else {
        rc = kc_deserialize(KC_KIND_OPTIMIZER, opt, &oc, &c->optimizer, err);
        if (rc == KC_OK && !c->optimizer) rc = kc__errf(err, KC_EFORMAT, "%s: null optimizer", oc.path);
    }
#define KEEP(field, key)                                                                           \
    do {                                                                                           \
        json_t *v_ = json_object_get(spec, key);                                                   \
        c->field = v_ && !json_is_null(v_) ? json_deep_copy(v_) : NULL;                            \
    } while (0)
    if (rc == KC_OK) {
        KEEP(loss_spec, "loss");
        KEEP(metrics_spec, "metrics");
        KEEP(weighted_spec, "weighted_metrics");
        KEEP(loss_weights_spec, "loss_weights");
    }
#undef KEEP
    if (rc != KC_OK) {
        compiled_free(c);
        return rc;
    }
    return attach(model, c, err);
}

kc_status kc_model_compile(kc_object *model, const char *spec, const kc_custom_objects *custom, kc_error *err)
{
    if (!spec) return kc__errf(err, KC_EINVAL, "kc_model_compile: spec is NULL");
    json_t *j = kc_json_parse(spec, strlen(spec), 0, err);
    if (!j) return kc__error_code(err, KC_EFORMAT);
    kc_status rc = kc_model_compile_json(model, j, custom, err);
    json_decref(j);
    return rc;
}

kc_status kc_model_compile_objects(kc_object *model, const kc_compile_args *a, kc_error *err)
{
    if (!kc_is_model(model) || !a || !a->optimizer)
        return kc__errf(err, KC_EINVAL, "kc_model_compile_objects: needs a model and an optimizer");
    if (kc_object_kind(a->optimizer) != KC_KIND_OPTIMIZER)
        return kc__errf(err, KC_ETYPE, "'%s' is not an optimizer", kc_object_name(a->optimizer));
    json_t *spec = json_object(), *losses = json_array(), *metrics = json_array(), *lw = NULL;
    kc_status rc = (spec && losses && metrics) ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; rc == KC_OK && i < a->n_losses; i++) {
        json_t *j = json_null();
        if (a->losses[i]) rc = kc_serialize(a->losses[i], &j, err);
        if (rc == KC_OK && json_array_append_new(losses, j)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    for (int i = 0; rc == KC_OK && i < a->n_metrics; i++) {
        json_t *j = NULL;
        if (!a->metrics[i] || kc_object_kind(a->metrics[i]) != KC_KIND_METRIC)
            rc = kc__errf(err, KC_ETYPE, "metric %d is not a metric", i);
        else
            rc = kc_serialize(a->metrics[i], &j, err);
        if (rc == KC_OK && json_array_append_new(metrics, j)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (rc == KC_OK && a->loss_weights && a->n_loss_weights > 0) {
        lw = json_array();
        for (int i = 0; lw && i < a->n_loss_weights; i++) json_array_append_new(lw, json_real(a->loss_weights[i]));
    }
    kc__compiled *c = rc == KC_OK ? kc__calloc(1, sizeof(*c)) : NULL;
    if (rc == KC_OK && !c) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    if (rc != KC_OK) {
        json_decref(spec);
        json_decref(losses);
        json_decref(metrics);
        json_decref(lw);
        return rc;
    }
    c->n_outputs = -1;
    c->optimizer = kc_object_ref(a->optimizer);
    c->loss_spec = a->n_losses == 1 ? json_incref(json_array_get(losses, 0)) : a->n_losses > 1 ? json_incref(losses) : NULL;
    c->metrics_spec = a->n_metrics ? json_incref(metrics) : NULL;
    c->loss_weights_spec = lw;
    json_decref(losses);
    json_decref(metrics);
    json_decref(spec);
    /* resolve through the objects themselves, not their names (they may
     * be unregistered classes or functions with bound parameters) */
    kc_custom_objects *co = kc_custom_objects_new(err);
    rc = co ? KC_OK : KC_ENOMEM;
    for (int i = 0; rc == KC_OK && i < a->n_losses; i++)
        if (a->losses[i]) rc = kc_object_is_function(a->losses[i]) ? kc_custom_objects_add_object(co, NULL, a->losses[i], err)
                                                                     : kc_custom_objects_add_class(co, NULL, a->losses[i]->cls, err);
    for (int i = 0; rc == KC_OK && i < a->n_metrics; i++)
        if (!kc_object_is_function(a->metrics[i])) rc = kc_custom_objects_add_class(co, NULL, a->metrics[i]->cls, err);
    /* kept until the outputs are known (an unbuilt subclassed model
     * resolves at its first batch) */
    c->custom = co;
    c->owned_custom = co;
    if (rc == KC_OK) rc = attach(model, c, err);
    else compiled_free(c);
    return rc;
}

kc_status kc_model_training_config(const kc_object *model, json_t **out, kc_error *err)
{
    *out = NULL;
    kc__compiled *c = kc__model_compiled(model);
    if (!c) return KC_OK;
    json_t *oc = NULL;
    kc_status rc = kc_serialize(c->optimizer, &oc, err);
    if (rc != KC_OK) return rc;
    json_t *t = json_object();
#define PUT(key, v) (json_object_set_new(t, key, (v) ? json_deep_copy(v) : json_null()))
    if (!t || PUT("loss", c->loss_spec) || PUT("metrics", c->metrics_spec) || PUT("weighted_metrics", c->weighted_spec) ||
        PUT("loss_weights", c->loss_weights_spec) || json_object_set_new(t, "optimizer_config", oc)) {
#undef PUT
        json_decref(t);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    *out = t;
    return KC_OK;
}
