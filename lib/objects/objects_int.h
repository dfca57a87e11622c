/* ckeras private: the object model's internals shared by lib/objects and
 * the component and layer modules. */
#ifndef CKERAS_OBJECTS_INT_H
#define CKERAS_OBJECTS_INT_H

#include "../core/internal.h"
#include <ckeras/config.h>
#include <ckeras/object.h>

/* What a kind adds to every class of that kind: the base struct size, the
 * keys its base config holds (a layer's name/trainable/dtype, a loss's
 * reduction/name), and which class slots it requires. */
typedef struct kc__kind_info {
    const char *name;
    size_t base_size; /* minimal instance size for classes of the kind */
    kc_status (*base_init)(kc_object *self, kc_error *err);
    void (*base_fini)(kc_object *self);
    kc_status (*base_get_config)(const kc_object *self, json_t *config, kc_error *err);
    kc_status (*base_from_config)(kc_object *self, const json_t *config,
                                  const kc_config_ctx *ctx, kc_error *err);
    /* KC_OK when cls has what the kind needs (methods table, slots). */
    kc_status (*check_class)(const kc_class *cls, kc_error *err);
    /* the "function" class of the kind: how plain functions become objects */
    const kc_class *function_class;
} kc__kind_info;

/* Indexed by kc_kind; entries of kinds not built yet are minimal. */
const kc__kind_info *kc__kind(kc_kind kind);

/* Instance struct of function objects (all kinds share it). */
typedef struct kc__function {
    kc_object base;
    char *name;
    kc_fn fn;
    void *params;
    void (*params_free)(void *);
} kc__function;

/* Built-in tables a component family contributes to kc_init(). */
typedef struct kc__builtin_fn {
    kc_kind kind;
    const char *name;
    kc_fn fn;
} kc__builtin_fn;

typedef struct kc__builtin_alias {
    kc_kind kind;
    const char *alias;  /* e.g. "glorot_uniform" */
    const char *target; /* e.g. "GlorotUniform" (a class or a function) */
} kc__builtin_alias;

/* A Keras class ckeras deliberately lacks: loading it fails with this
 * reason rather than the generic "register it" advice. A class a user
 * registers (or passes in custom_objects) under the name still wins. */
typedef struct kc__builtin_unsupported {
    kc_kind kind;
    const char *name;   /* e.g. "TextVectorization" */
    const char *reason; /* one sentence: why, and what to do instead */
} kc__builtin_unsupported;

typedef struct kc__builtins {
    const kc_class *const *classes;
    size_t n_classes;
    const kc__builtin_fn *functions;
    size_t n_functions;
    const kc__builtin_alias *aliases;
    size_t n_aliases;
    const kc__builtin_unsupported *unsupported;
    size_t n_unsupported;
} kc__builtins;

/* The reason (kind, name) is a known unsupported Keras class, or NULL. */
const char *kc__registry_unsupported(kc_kind kind, const char *name);

/* Registry lookups used by the deserializer. Each returns KC_OK and sets
 * exactly one of *cls / *fn_obj when (kind, name) is known (directly or by
 * alias), or KC_ENOTFOUND. *fn_obj is borrowed. */
kc_status kc__registry_lookup(kc_kind kind, const char *name, const kc_class **cls,
                              kc_object **fn_obj);
/* Is cls one of ckeras' own classes (not a user's)? */
bool kc__class_is_builtin(const kc_class *cls);
/* The same against a custom-objects map. */
bool kc__custom_lookup(const kc_custom_objects *co, kc_kind kind, const char *name,
                       const kc_class **cls, kc_object **obj);

/* Map (kind, name) to obj whatever obj's own kind is (a model in a layer
 * slot); takes obj's reference, on failure too. */
kc_status kc__custom_objects_put(kc_custom_objects *co, kc_kind kind, const char *name, kc_object *obj,
                                 kc_error *err);

/* Steps of kc_object_from_config, for kinds that build objects their own way. */
kc_status kc__object_configure(kc_object *obj, const json_t *config, const kc_config_ctx *ctx,
                               kc_error *err);

/* A "function" class for a kind (function.c). */
extern const kc_class kc__function_classes[KC_KIND_COUNT];

/* Float values that JSON cannot hold are kept as these marker strings. */
#define KC__FLOAT_MARK "__kc_float__:"
/* Make a JSON value for a double (a marker string for NaN / infinities). */
json_t *kc__json_float(double v);
/* Read a JSON number or float marker; false if neither. */
bool kc__json_to_double(const json_t *j, double *out);

/* Full class validation: ABI, name, size, and the kind's own checks. */
kc_status kc__check_class_full(const kc_class *cls, kc_error *err);

/* Name check shared by registrations: non-empty, printable, no spaces. */
bool kc__valid_name(const char *name);

#endif /* CKERAS_OBJECTS_INT_H */
