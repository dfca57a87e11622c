/* Objects: allocation, reference counts, get_config / from_config.
 *
 * An object is `cls->size` zeroed bytes whose first member is the kind's
 * base struct (itself starting with kc_object). Creating one runs the kind's
 * base_init then the class's init; configuring runs the kind's
 * base_from_config (the keys every object of the kind has) then the class's
 * from_config (its own keys). get_config mirrors it, so a class only ever
 * deals with its own keys, as a Keras subclass does with
 * {**super().get_config(), ...}. Only this file calls class slots. */
#include "objects_int.h"

#include <string.h>

static const char *const kind_names[] = {
#define X(id, str) str,
    KC_KIND_LIST(X)
#undef X
};
_Static_assert(sizeof(kind_names) / sizeof(kind_names[0]) == KC_KIND_COUNT, "kind names");

const char *kc_kind_name(kc_kind kind)
{
    return (unsigned)kind < KC_KIND_COUNT ? kind_names[kind] : "unknown kind";
}

/* Checks every class must pass before its slots are called. */
static kc_status check_class(const kc_class *cls, kc_error *err)
{
    if (!cls) return kc__errf(err, KC_EINVAL, "class is NULL");
    if (cls->abi < 1 || cls->abi > KC_CLASS_ABI)
        return kc__errf(err, KC_EINVAL, "class '%s' has ABI %d; this ckeras supports 1..%d",
                        cls->name ? cls->name : "?", cls->abi, KC_CLASS_ABI);
    if ((unsigned)cls->kind >= KC_KIND_COUNT)
        return kc__errf(err, KC_EINVAL, "class '%s' has an invalid kind %d",
                        cls->name ? cls->name : "?", (int)cls->kind);
    if (!kc__valid_name(cls->name))
        return kc__errf(err, KC_EINVAL, "class name '%s' is empty or has spaces or control characters",
                        cls->name ? cls->name : "(null)");
    const kc__kind_info *k = kc__kind(cls->kind);
    if (cls->size < k->base_size)
        return kc__errf(err, KC_EINVAL,
                        "class '%s': instance size %zu is smaller than the %s base (%zu bytes)",
                        cls->name, cls->size, k->name, k->base_size);
    if (cls->config_version < 1)
        return kc__errf(err, KC_EINVAL, "class '%s': config_version must be >= 1", cls->name);
    return KC_OK;
}

kc_status kc__check_class_full(const kc_class *cls, kc_error *err)
{
    kc_status rc = check_class(cls, err);
    if (rc != KC_OK) return rc;
    const kc__kind_info *k = kc__kind(cls->kind);
    if (k->check_class && cls != k->function_class) return k->check_class(cls, err);
    return KC_OK;
}

kc_object *kc_object_new(const kc_class *cls, kc_error *err)
{
    if (kc__check_class_full(cls, err) != KC_OK) return NULL;
    kc_object *obj = kc__calloc(1, cls->size);
    if (!obj) {
        kc__errf(err, KC_ENOMEM, "out of memory creating a '%s'", cls->name);
        return NULL;
    }
    obj->cls = cls;
    obj->refcount = 1;
    const kc__kind_info *k = kc__kind(cls->kind);
    kc_status rc = KC_OK;
    if (k->base_init) rc = k->base_init(obj, err);
    if (rc == KC_OK && cls->init) rc = cls->init(obj, err);
    if (rc != KC_OK) {
        kc__error_context(err, "creating a '%s'", cls->name);
        kc_object_unref(obj);
        return NULL;
    }
    return obj;
}

kc_object *kc_object_ref(kc_object *obj)
{
    if (obj) __atomic_add_fetch(&obj->refcount, 1, __ATOMIC_RELAXED);
    return obj;
}

void kc_object_unref(kc_object *obj)
{
    if (!obj) return;
    if (__atomic_sub_fetch(&obj->refcount, 1, __ATOMIC_ACQ_REL) != 0) return;
    const kc_class *cls = obj->cls;
    if (cls->fini) cls->fini(obj);
    /* function objects have no kind base */
    const kc__kind_info *k = kc__kind(cls->kind);
    if (k->base_fini && !kc_object_is_function(obj)) k->base_fini(obj);
    kc__free(obj);
}

const kc_class *kc_object_class(const kc_object *obj) { return obj->cls; }
kc_kind kc_object_kind(const kc_object *obj) { return obj->cls->kind; }

const char *kc_object_name(const kc_object *obj)
{
    if (kc_object_is_function(obj)) return ((const kc__function *)obj)->name;
    return obj->cls->name;
}

kc_status kc_object_get_config(const kc_object *obj, json_t **out, kc_error *err)
{
    *out = NULL;
    if (!obj) return kc__errf(err, KC_EINVAL, "kc_object_get_config: object is NULL");
    if (kc_object_is_function(obj))
        return kc__errf(err, KC_EINVAL, "function '%s' has no config (it is saved by name)",
                        kc_object_name(obj));
    json_t *cfg = json_object();
    if (!cfg) return kc__errf(err, KC_ENOMEM, "out of memory building a config");
    const kc__kind_info *k = kc__kind(obj->cls->kind);
    kc_status rc = KC_OK;
    if (k->base_get_config) rc = k->base_get_config(obj, cfg, err);
    if (rc == KC_OK && obj->cls->get_config) rc = obj->cls->get_config(obj, cfg, err);
    if (rc == KC_OK && obj->cls->config_version > 1 &&
        json_object_set_new(cfg, "_config_version", json_integer(obj->cls->config_version)))
        rc = kc__errf(err, KC_ENOMEM, "out of memory building a config");
    if (rc != KC_OK) {
        kc__error_context(err, "get_config of '%s'", obj->cls->name);
        json_decref(cfg);
        return rc;
    }
    *out = cfg;
    return KC_OK;
}

kc_status kc__object_configure(kc_object *obj, const json_t *config, const kc_config_ctx *ctx,
                               kc_error *err)
{
    kc_config_ctx local;
    if (!ctx) {
        kc_config_ctx_init(&local, "config", NULL);
        ctx = &local;
    }
    json_t *empty = NULL;
    if (!config || json_is_null(config)) config = empty = json_object();
    if (!config) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = KC_OK;
    if (!json_is_object(config)) {
        rc = kc__errf(err, KC_EFORMAT, "the config of '%s' must be a JSON object", obj->cls->name);
        kc__error_context(err, "%s", ctx->path);
        goto out;
    }
    kc_config_ctx vctx = *ctx;
    int64_t ver = 1;
    rc = kc_cfg_int(ctx, config, "_config_version", KC_CFG_POSITIVE, 1, &ver, err);
    if (rc != KC_OK) goto out;
    if (ver > obj->cls->config_version) {
        rc = kc__errf(err, KC_EVERSION,
                      "'%s' config version %lld is newer than this program's (%d); update the "
                      "class to read it",
                      obj->cls->name, (long long)ver, obj->cls->config_version);
        kc__error_context(err, "%s", ctx->path);
        goto out;
    }
    vctx.version = (int)ver;
    const kc__kind_info *k = kc__kind(obj->cls->kind);
    if (k->base_from_config) rc = k->base_from_config(obj, config, &vctx, err);
    if (rc == KC_OK && obj->cls->from_config) rc = obj->cls->from_config(obj, config, &vctx, err);
out:
    json_decref(empty);
    return rc;
}

kc_object *kc_object_from_config(const kc_class *cls, const json_t *config,
                                 const kc_config_ctx *ctx, kc_error *err)
{
    kc_object *obj = kc_object_new(cls, err);
    if (!obj) return NULL;
    if (kc__object_configure(obj, config, ctx, err) != KC_OK) {
        kc_object_unref(obj);
        return NULL;
    }
    return obj;
}

bool kc__valid_name(const char *name)
{
    if (!name || !*name) return false;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p <= ' ' || *p == 0x7f) return false;
    return true;
}
