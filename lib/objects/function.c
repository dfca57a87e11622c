/* Function objects: a C function, optional bound parameters, and the name
 * it is saved under. Keras saves plain functions (custom activations,
 * losses, ...) by name only; the seed's create_huber(2.0) shows why bound
 * parameters matter: the threshold is not in the file, so the loader maps
 * the name to a function bound with it (kc_custom_objects_add_function). */
#include "objects_int.h"

#include <string.h>

static void function_fini(kc_object *self)
{
    kc__function *f = (kc__function *)self;
    if (f->params_free) f->params_free(f->params);
    kc__free(f->name);
}

#define FUNCTION_CLASS(id, str)                                                                    \
    [KC_KIND_##id] = {.abi = KC_CLASS_ABI,                                                         \
                      .kind = KC_KIND_##id,                                                        \
                      .name = "function",                                                          \
                      .size = sizeof(kc__function),                                                \
                      .config_version = 1,                                                         \
                      .fini = function_fini},
const kc_class kc__function_classes[KC_KIND_COUNT] = {KC_KIND_LIST(FUNCTION_CLASS)};
#undef FUNCTION_CLASS

bool kc_object_is_function(const kc_object *obj)
{
    return obj && (unsigned)obj->cls->kind < KC_KIND_COUNT &&
           obj->cls == &kc__function_classes[obj->cls->kind];
}

kc_object *kc_function_new(kc_kind kind, const char *name, kc_fn fn, void *params,
                           void (*params_free)(void *), kc_error *err)
{
    if ((unsigned)kind >= KC_KIND_COUNT || !fn || !kc__valid_name(name)) {
        if (params_free) params_free(params);
        kc__errf(err, KC_EINVAL, "kc_function_new: bad kind, NULL function or invalid name '%s'",
                 name ? name : "(null)");
        return NULL;
    }
    /* Function classes have no base struct beyond kc_object: allocate
     * directly rather than through kind base hooks. */
    kc__function *f = kc__calloc(1, sizeof(*f));
    char *nm = kc__strdup(name);
    if (!f || !nm) {
        kc__free(f);
        kc__free(nm);
        if (params_free) params_free(params);
        kc__errf(err, KC_ENOMEM, "out of memory creating function '%s'", name);
        return NULL;
    }
    f->base.cls = &kc__function_classes[kind];
    f->base.refcount = 1;
    f->name = nm;
    f->fn = fn;
    f->params = params;
    f->params_free = params_free;
    return &f->base;
}

kc_status kc_function_get(const kc_object *obj, kc_fn *fn, void **params, kc_error *err)
{
    if (!kc_object_is_function(obj))
        return kc__errf(err, KC_EINVAL, "'%s' is a class instance, not a function",
                        obj ? obj->cls->name : "(null)");
    const kc__function *f = (const kc__function *)obj;
    if (fn) *fn = f->fn;
    if (params) *params = f->params;
    return KC_OK;
}

kc_object *kc_function_new_copy(kc_kind kind, const char *name, kc_fn fn, const void *params, size_t size,
                                kc_error *err)
{
    void *copy = NULL;
    if (size > 0) {
        if (!params) {
            kc__errf(err, KC_EINVAL, "kc_function_new_copy: %zu bytes of parameters at NULL", size);
            return NULL;
        }
        if (!(copy = kc__malloc(size))) {
            kc__errf(err, KC_ENOMEM, "out of memory copying the parameters of function '%s'", name ? name : "?");
            return NULL;
        }
        memcpy(copy, params, size);
    }
    return kc_function_new(kind, name, fn, copy, copy ? kc__free : NULL, err);
}
