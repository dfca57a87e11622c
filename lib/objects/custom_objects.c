/* Custom objects: a per-load map consulted before the registry (Keras'
 * custom_objects argument of load_model). Each entry maps (kind, name) to a
 * class or to an object -- typically a function object with bound
 * parameters, shared by every model loaded with the map. */
#include "objects_int.h"

#include <string.h>

typedef struct co_entry {
    kc_kind kind;
    char *name;
    const kc_class *cls; /* or */
    kc_object *obj;      /* owned reference */
} co_entry;

struct kc_custom_objects {
    co_entry *items;
    size_t n, cap;
};

kc_custom_objects *kc_custom_objects_new(kc_error *err)
{
    kc_custom_objects *co = kc__calloc(1, sizeof(*co));
    if (!co) kc__errf(err, KC_ENOMEM, "out of memory creating custom objects");
    return co;
}

void kc_custom_objects_free(kc_custom_objects *co)
{
    if (!co) return;
    for (size_t i = 0; i < co->n; i++) {
        kc__free(co->items[i].name);
        kc_object_unref(co->items[i].obj);
    }
    kc__free(co->items);
    kc__free(co);
}

/* Insert or replace; takes obj's reference (also on failure). */
static kc_status put(kc_custom_objects *co, kc_kind kind, const char *name, const kc_class *cls,
                     kc_object *obj, kc_error *err)
{
    for (size_t i = 0; i < co->n; i++) {
        co_entry *e = &co->items[i];
        if (e->kind == kind && strcmp(e->name, name) == 0) {
            kc_object_unref(e->obj);
            e->cls = cls;
            e->obj = obj;
            return KC_OK;
        }
    }
    char *nm = kc__strdup(name);
    if (!nm || !kc__grow((void **)&co->items, &co->cap, co->n + 1, sizeof(co_entry))) {
        kc__free(nm);
        kc_object_unref(obj);
        return kc__errf(err, KC_ENOMEM, "out of memory adding custom object '%s'", name);
    }
    co->items[co->n++] = (co_entry){kind, nm, cls, obj};
    return KC_OK;
}

kc_status kc_custom_objects_add_class(kc_custom_objects *co, const char *name,
                                      const kc_class *cls, kc_error *err)
{
    if (!co) return kc__errf(err, KC_EINVAL, "custom objects map is NULL");
    kc_status rc = kc__check_class_full(cls, err);
    if (rc != KC_OK) return rc;
    if (!name) name = cls->name;
    if (!kc__valid_name(name)) return kc__errf(err, KC_EINVAL, "invalid custom object name '%s'", name);
    return put(co, cls->kind, name, cls, NULL, err);
}

kc_status kc_custom_objects_add_function(kc_custom_objects *co, kc_kind kind, const char *name,
                                         kc_fn fn, void *params, void (*params_free)(void *),
                                         kc_error *err)
{
    if (!co) {
        if (params_free) params_free(params);
        return kc__errf(err, KC_EINVAL, "custom objects map is NULL");
    }
    kc_object *f = kc_function_new(kind, name, fn, params, params_free, err);
    if (!f) return kc__error_code(err, KC_EINVAL);
    return put(co, kind, name, NULL, f, err);
}

kc_status kc_custom_objects_add_object(kc_custom_objects *co, const char *name, kc_object *obj,
                                       kc_error *err)
{
    if (!co || !obj) return kc__errf(err, KC_EINVAL, "custom objects map or object is NULL");
    if (!name) name = kc_object_name(obj);
    if (!kc__valid_name(name)) return kc__errf(err, KC_EINVAL, "invalid custom object name '%s'", name);
    return put(co, kc_object_kind(obj), name, NULL, kc_object_ref(obj), err);
}

kc_status kc__custom_objects_put(kc_custom_objects *co, kc_kind kind, const char *name, kc_object *obj,
                                 kc_error *err)
{
    if (!kc__valid_name(name)) {
        kc_object_unref(obj);
        return kc__errf(err, KC_EINVAL, "invalid custom object name '%s'", name ? name : "(null)");
    }
    return put(co, kind, name, NULL, obj, err);
}

kc_status kc_custom_objects_add_object_take(kc_custom_objects *co, const char *name, kc_object *obj,
                                            kc_error *err)
{
    if (!obj) {
        if (err && err->code != KC_OK) return err->code; /* the constructor's failure */
        return kc__errf(err, KC_EINVAL, "kc_custom_objects_add_object_take: object is NULL");
    }
    kc_status rc = kc_custom_objects_add_object(co, name, obj, err);
    kc_object_unref(obj);
    return rc;
}

bool kc__custom_lookup(const kc_custom_objects *co, kc_kind kind, const char *name,
                       const kc_class **cls, kc_object **obj)
{
    *cls = NULL;
    *obj = NULL;
    if (!co) return false;
    const co_entry *hit = NULL;
    for (size_t i = 0; i < co->n && !hit; i++)
        if (co->items[i].kind == kind && strcmp(co->items[i].name, name) == 0) hit = &co->items[i];
    if (!hit && !strchr(name, '>')) {
        /* "name" also matches a unique "Package>name" (as Keras 3 does) */
        size_t n = strlen(name);
        for (size_t i = 0; i < co->n; i++) {
            const char *gt = strrchr(co->items[i].name, '>');
            if (co->items[i].kind != kind || !gt || strlen(gt + 1) != n || strcmp(gt + 1, name))
                continue;
            if (hit) return false;
            hit = &co->items[i];
        }
    }
    if (!hit) return false;
    *cls = hit->cls;
    *obj = hit->obj;
    return true;
}
