/* Serialization of any object: the one entry point for every kind.
 *
 * Writing uses the Keras 2 legacy form, {"class_name", "config"}, which
 * tf.keras, Keras 3 and TensorFlow.js all read inside .h5 files; a function
 * is written as its name. Reading accepts that, the Keras 3 form
 * ({"module", "class_name", "config", "registered_name"}; functions as
 * {"class_name": "function", "config": "<name>"}), and plain name strings,
 * which Keras uses for functions ("relu") and as shorthands for classes
 * with default configs ("glorot_uniform"). Names are resolved through the
 * custom objects first, then the registry. */
#include "objects_int.h"

#include <string.h>

kc_status kc_serialize(const kc_object *obj, json_t **out, kc_error *err)
{
    *out = NULL;
    if (!obj) return kc__errf(err, KC_EINVAL, "kc_serialize: object is NULL");
    if (kc_object_is_function(obj)) {
        *out = json_string(kc_object_name(obj));
        return *out ? KC_OK : kc__errf(err, KC_ENOMEM, "out of memory serializing");
    }
    json_t *cfg;
    kc_status rc = kc_object_get_config(obj, &cfg, err);
    if (rc != KC_OK) return rc;
    json_t *j = json_object();
    if (!j || json_object_set_new(j, "class_name", json_string(obj->cls->name)) ||
        json_object_set_new(j, "config", cfg)) {
        json_decref(j);
        return kc__errf(err, KC_ENOMEM, "out of memory serializing '%s'", obj->cls->name);
    }
    *out = j;
    return KC_OK;
}

/* Find (kind, name): custom objects first, then the registry. */
static bool lookup(kc_kind kind, const char *name, const kc_config_ctx *ctx, const kc_class **cls,
                   kc_object **obj)
{
    if (kc__custom_lookup(ctx->custom, kind, name, cls, obj)) return true;
    return kc__registry_lookup(kind, name, cls, obj) == KC_OK;
}

static kc_status not_found(kc_kind kind, const char *name, bool as_class,
                           const kc_config_ctx *ctx, kc_error *err)
{
    const char *reason = kc__registry_unsupported(kind, name);
    if (reason)
        kc__errf(err, KC_ENOTFOUND, "%s class '%s' is not supported by ckeras: %s",
                 kind == KC_KIND_LAYER ? "Layer" : kc_kind_name(kind), name, reason);
    else if (as_class)
        kc__errf(err, KC_ENOTFOUND,
                 "Unknown %s class '%s'. Register it (kc_register_class) or pass it in "
                 "custom_objects.",
                 kc_kind_name(kind), name);
    else
        kc__errf(err, KC_ENOTFOUND,
                 "Unknown %s '%s'. Register it (kc_register_function or kc_register_class) or "
                 "pass it in custom_objects.",
                 kc_kind_name(kind), name);
    kc__error_context(err, "%s", ctx->path);
    return KC_ENOTFOUND;
}

static kc_status build(const kc_class *cls, kc_object *obj, const json_t *config,
                       const kc_config_ctx *cfg_ctx, kc_object **out, kc_error *err)
{
    if (obj) { /* a function or a shared instance: configs do not apply */
        *out = kc_object_ref(obj);
        return KC_OK;
    }
    *out = kc_object_from_config(cls, config, cfg_ctx, err);
    return *out ? KC_OK : kc__error_code(err, KC_ENOMEM);
}

kc_status kc_deserialize(kc_kind kind, const json_t *json, const kc_config_ctx *ctx,
                         kc_object **out, kc_error *err)
{
    *out = NULL;
    kc_config_ctx local;
    if (!ctx) {
        kc_config_ctx_init(&local, "config", NULL);
        ctx = &local;
    }
    if ((unsigned)kind >= KC_KIND_COUNT) return kc__errf(err, KC_EINVAL, "invalid kind %d", (int)kind);
    kc_status rc = kc_init(err);
    if (rc != KC_OK) return rc;
    if (!json || json_is_null(json)) return KC_OK;
    const kc_class *cls;
    kc_object *obj;
    if (json_is_string(json)) {
        const char *name = json_string_value(json);
        if (!lookup(kind, name, ctx, &cls, &obj)) return not_found(kind, name, false, ctx, err);
        return build(cls, obj, NULL, ctx, out, err);
    }
    if (!json_is_object(json)) {
        kc__errf(err, KC_EFORMAT, "expected a %s name or a {\"class_name\", \"config\"} object",
                 kc_kind_name(kind));
        kc__error_context(err, "%s", ctx->path);
        return KC_EFORMAT;
    }
    const json_t *jcls = json_object_get(json, "class_name");
    const json_t *jreg = json_object_get(json, "registered_name");
    const json_t *jmod = json_object_get(json, "module");
    const json_t *config = json_object_get(json, "config");
    if (!json_is_string(jcls)) {
        kc_config_ctx c = kc_config_ctx_child(ctx, "class_name", 0);
        kc__errf(err, KC_EFORMAT, "expected the %s's class name (a string)", kc_kind_name(kind));
        kc__error_context(err, "%s", c.path);
        return KC_EFORMAT;
    }
    const char *class_name = json_string_value(jcls);
    kc_config_ctx cfg_ctx = kc_config_ctx_child(ctx, "config", 0);
    /* Keras 3 function: {"module": "builtins", "class_name": "function", "config": "name"} */
    if (strcmp(class_name, "function") == 0 && json_is_string(config) &&
        ((json_is_string(jmod) && strcmp(json_string_value(jmod), "builtins") == 0) ||
         (json_is_string(jreg) && strcmp(json_string_value(jreg), "function") == 0))) {
        const char *name = json_string_value(config);
        if (!lookup(kind, name, ctx, &cls, &obj)) return not_found(kind, name, false, &cfg_ctx, err);
        return build(cls, obj, NULL, ctx, out, err);
    }
    /* Keras 3 registered classes carry "Package>Name" in registered_name */
    const char *name = class_name;
    if (json_is_string(jreg) && lookup(kind, json_string_value(jreg), ctx, &cls, &obj))
        return build(cls, obj, config, &cfg_ctx, out, err);
    if (!lookup(kind, name, ctx, &cls, &obj))
        return not_found(kind, json_is_string(jreg) ? json_string_value(jreg) : name, true, ctx, err);
    return build(cls, obj, config, &cfg_ctx, out, err);
}

kc_object *kc_object_create(kc_kind kind, const char *spec, kc_error *err)
{
    if (!spec) {
        kc__errf(err, KC_EINVAL, "kc_object_create: spec is NULL");
        return NULL;
    }
    const char *p = spec;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    json_t *j = *p == '{' ? kc_json_parse(spec, strlen(spec), 0, err) : json_string(spec);
    if (!j) {
        if (*p != '{') kc__errf(err, KC_EINVAL, "kc_object_create: invalid name");
        return NULL;
    }
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, kc_kind_name(kind), NULL);
    kc_object *obj = NULL;
    kc_status rc = kc_deserialize(kind, j, &ctx, &obj, err);
    json_decref(j);
    if (rc == KC_OK && !obj) kc__errf(err, KC_EINVAL, "kc_object_create: spec is JSON null");
    return rc == KC_OK ? obj : NULL;
}
