/* Layers from JSON text (kc_layer_create, kc_layer_create_ex): the class
 * and every name in the config resolve through custom objects first, then
 * the registry, as when a file is loaded. */
#include "api_int.h"

#include <string.h>

static const kc_class *find_layer_class(const char *name, const kc_custom_objects *custom)
{
    const kc_class *cls = NULL;
    kc_object *obj = NULL;
    if (kc__custom_lookup(custom, KC_KIND_LAYER, name, &cls, &obj) && cls) return cls;
    if (kc__custom_lookup(custom, KC_KIND_MODEL, name, &cls, &obj) && cls) return cls;
    cls = kc_find_class(KC_KIND_LAYER, name);
    return cls ? cls : kc_find_class(KC_KIND_MODEL, name);
}

kc_object *kc_layer_create_ex(const char *class_name, const char *config, const kc_custom_objects *custom,
                              kc_error *err)
{
    if (kc_init(err) != KC_OK) return NULL;
    if (!class_name) {
        kc__errf(err, KC_EINVAL, "kc_layer_create: class name is NULL");
        return NULL;
    }
    const kc_class *cls = find_layer_class(class_name, custom);
    if (!cls) {
        kc__errf(err, KC_ENOTFOUND,
                 "Unknown layer class '%s'. Register it (kc_register_class) or pass it in "
                 "custom_objects.",
                 class_name);
        return NULL;
    }
    json_t *cfg = config ? kc_json_parse(config, strlen(config), 0, err) : json_object();
    if (!cfg) {
        if (!config) kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    kc_config_ctx ctx;
    kc_config_ctx_init(&ctx, class_name, custom);
    kc_object *o = kc_object_from_config(cls, cfg, &ctx, err);
    json_decref(cfg);
    return o;
}
