/* compile with named arguments (kc_model_compile_specs): Keras'
 *     model.compile(optimizer=Adam(0.01), loss="mse", metrics=["mae"])
 * as kc_spec fields. Names go into the compile spec as names (so
 * "accuracy" is resolved from the output shapes, as Keras does); objects
 * as their serialized form, resolved through a custom-objects map the
 * compile state owns (functions with bound parameters, unregistered
 * classes), exactly as kc_model_compile_objects does; the optimizer object
 * itself becomes the model's. */
#include "training_int.h"
#include "../api/api_int.h"

#include <string.h>

/* One loss or metric entry: a name, or an object's serialized form. */
static kc_status entry(const kc_spec *s, kc_kind kind, const char *key, kc_custom_objects *co, json_t **out,
                       kc_error *err)
{
    *out = NULL;
    const char *where = "kc_model_compile_specs";
    if (s->name && !s->fn && !s->object && s->name[0] != '{') {
        *out = json_string(s->name);
        return *out ? KC_OK : kc__errf(err, KC_EINVAL, "%s.%s: the name is not valid UTF-8", where, key);
    }
    kc_object *obj = NULL;
    kc_status rc = kc__spec_object(s, kind, where, key, &obj, err);
    if (rc == KC_OK && obj) {
        rc = kc_serialize(obj, out, err);
        if (rc == KC_OK)
            rc = kc_object_is_function(obj) ? kc_custom_objects_add_object(co, NULL, obj, err)
                                            : kc_custom_objects_add_class(co, NULL, kc_object_class(obj), err);
    }
    kc_object_unref(obj);
    return rc;
}

/* A list of entries, up to the first empty spec; a spec after it is refused. */
static kc_status entries(const kc_spec *specs, int cap, kc_kind kind, const char *key, kc_custom_objects *co,
                         json_t **out, kc_error *err)
{
    *out = NULL;
    int n = 0;
    while (n < cap && (specs[n].name || specs[n].object || specs[n].fn)) n++;
    for (int i = n; i < cap; i++)
        if (specs[i].name || specs[i].object || specs[i].fn)
            return kc__errf(err, KC_EINVAL, "kc_model_compile_specs.%s[%d]: set after the empty entry [%d]", key, i, n);
    if (n == 0) return KC_OK;
    json_t *list = json_array();
    kc_status rc = list ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory");
    for (int i = 0; rc == KC_OK && i < n; i++) {
        char k[64];
        snprintf(k, sizeof k, "%s[%d]", key, i);
        json_t *e = NULL;
        rc = entry(&specs[i], kind, k, co, &e, err);
        if (rc == KC_OK && json_array_append_new(list, e)) rc = kc__errf(err, KC_ENOMEM, "out of memory");
    }
    if (rc != KC_OK) {
        json_decref(list);
        return rc;
    }
    *out = list;
    return KC_OK;
}

static kc_status optimizer_of(const kc_spec *s, kc_object **out, kc_error *err)
{
    if (!s->name && !s->object && !s->fn) *out = kc_optimizer_get("rmsprop", err); /* Keras' default */
    else if (s->name && !s->object && !s->fn && s->name[0] != '{') *out = kc_optimizer_get(s->name, err);
    else return kc__spec_object(s, KC_KIND_OPTIMIZER, "kc_model_compile_specs", "optimizer", out, err);
    if (!*out) kc__error_context(err, "kc_model_compile_specs.optimizer");
    return *out ? KC_OK : kc__error_code(err, KC_ENOTFOUND);
}

kc_status kc_model_compile_specs(kc_object *model, const kc_compile_specs *args, kc_error *err)
{
    static const kc_compile_specs none = {0};
    kc_status rc = kc__need_model(model, err);
    if (rc != KC_OK) return rc;
    if (!args) args = &none;
    kc__compiled *c = kc__calloc(1, sizeof(*c));
    kc_custom_objects *co = c ? kc_custom_objects_new(err) : NULL;
    if (!c || !co) {
        kc__free(c);
        return kc__errf(err, KC_ENOMEM, "out of memory");
    }
    c->n_outputs = -1;
    c->custom = c->owned_custom = co; /* kept until the outputs are known */
    rc = optimizer_of(&args->optimizer, &c->optimizer, err);
    if (rc == KC_OK) rc = entries(&args->loss, 1, KC_KIND_LOSS, "loss", co, &c->loss_spec, err);
    if (rc == KC_OK && c->loss_spec) { /* one loss for every output: the entry itself, as Keras writes it */
        json_t *one = json_incref(json_array_get(c->loss_spec, 0));
        json_decref(c->loss_spec);
        c->loss_spec = one;
    }
    if (rc == KC_OK)
        rc = entries(args->metrics, KC_MAX_COMPILE_METRICS, KC_KIND_METRIC, "metrics", co, &c->metrics_spec, err);
    if (rc == KC_OK)
        rc = entries(args->weighted_metrics, KC_MAX_COMPILE_METRICS, KC_KIND_METRIC, "weighted_metrics", co,
                     &c->weighted_spec, err);
    if (rc != KC_OK) {
        kc__compiled_free(c);
        return rc;
    }
    return kc__compiled_attach(model, c, err);
}
