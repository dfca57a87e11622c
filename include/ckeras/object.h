/* ckeras: objects, classes, the class registry and custom objects.
 *
 * Every component ckeras saves -- layer, loss, metric, activation,
 * initializer, regularizer, constraint, optimizer, schedule, model, callback
 * -- is a kc_object of some kc_class. A class describes itself to the
 * library the way Keras classes do: a name (Keras' class_name), get_config
 * (the class's own keys, added to those its kind's base fills in, like
 * `{**base_config, "units": ...}`) and from_config. At load time the
 * registry maps class names to classes; a per-load kc_custom_objects map is
 * consulted first (Keras' custom_objects).
 *
 * Plain functions (a custom activation, loss, ...) are objects too: a
 * function object holds a C function, optional bound parameters, and the
 * name under which it is saved (functions serialize as their name only, so
 * bound parameters are not saved: the seed's create_huber(2.0)).
 *
 * Serialized forms: a class instance is {"class_name": ..., "config": {...}}
 * (Keras 2, what ckeras writes); the Keras 3 form with "module" and
 * "registered_name" is read too; a function is its name string. */
#ifndef CKERAS_OBJECT_H
#define CKERAS_OBJECT_H

#include "defs.h"
#include "error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

KC_BEGIN_DECLS

/* Kinds of objects, with their names. Append only. */
#define KC_KIND_LIST(X)                                                        \
    X(LAYER, "layer")                                                          \
    X(LOSS, "loss")                                                            \
    X(METRIC, "metric")                                                        \
    X(ACTIVATION, "activation")                                                \
    X(INITIALIZER, "initializer")                                              \
    X(REGULARIZER, "regularizer")                                              \
    X(CONSTRAINT, "constraint")                                                \
    X(OPTIMIZER, "optimizer")                                                  \
    X(SCHEDULE, "learning rate schedule")                                      \
    X(MODEL, "model")                                                          \
    X(CALLBACK, "callback")                                                    \
    X(LAMBDA, "Lambda function")

typedef enum kc_kind {
#define KC_KIND_ENUM_(id, str) KC_KIND_##id,
    KC_KIND_LIST(KC_KIND_ENUM_)
#undef KC_KIND_ENUM_
    KC_KIND_COUNT
} kc_kind;

/* "layer", "loss", ... Returns: static string. */
KC_API const char *kc_kind_name(kc_kind kind);

typedef struct kc_class kc_class;
typedef struct kc_config_ctx kc_config_ctx; /* config.h */
typedef struct kc_keras3_tree kc_keras3_tree; /* layer.h */

/* The base of every instance. A class's instance struct embeds its kind's
 * base struct first (which embeds this one first). */
typedef struct kc_object {
    const kc_class *cls; /* read-only: the object's class */
    long refcount;       /* private: kc_object_ref / kc_object_unref */
} kc_object;

/* Bumped whenever slots are appended to kc_class. */
#define KC_CLASS_ABI 2

/* A class: static, constant data describing a kind of object. Only the
 * kc_object_* functions call the slots (they check the ABI and NULLs). */
struct kc_class {
    int abi;             /* KC_CLASS_ABI the class was compiled with */
    kc_kind kind;
    const char *name;    /* Keras class_name, e.g. "Dense" or "MyPkg>MyDense" */
    size_t size;         /* sizeof the instance struct, kind base first */
    int config_version;  /* newest config layout this class writes (>= 1) */
    /* ABI 1 */
    /* Optional: set defaults of a fresh, zeroed instance. */
    kc_status (*init)(kc_object *self, kc_error *err);
    /* Optional: release what the instance owns (not the instance). */
    void (*fini)(kc_object *self);
    /* Optional: add the class's own keys to `config`, which already holds
     * the keys of the kind's base (a layer's name, trainable, dtype). */
    kc_status (*get_config)(const kc_object *self, json_t *config, kc_error *err);
    /* Optional: read the class's own keys; ctx gives the JSON path for
     * messages, the custom objects for nested objects, and the stored
     * config version (refuse newer ones with KC_EVERSION). */
    kc_status (*from_config)(kc_object *self, const json_t *config, const kc_config_ctx *ctx,
                             kc_error *err);
    /* The kind's method table (kc_layer_methods, kc_activation_methods,
     * ...), or NULL where the kind's defaults apply. */
    const void *methods;
    /* ABI 2 */
    /* Optional, layers: where Keras 3 files (.keras, .weights.h5) keep the
     * layer's variables, for layers that own sub-objects (an RNN's cell, a
     * wrapper's layer, attention's projections); see kc_keras3_tree in
     * layer.h. NULL: all its weights as <layer>/vars/0, 1, ... */
    kc_status (*keras3_layout)(kc_object *self, kc_keras3_tree *tree, kc_error *err);
};

/* --- objects -------------------------------------------------------------- */

/* A new instance with its defaults (init); cls is borrowed (usually static,
 * it must outlive the instance). Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_object_new(const kc_class *cls, kc_error *err);
KC_API kc_object *kc_object_ref(kc_object *obj);
/* Drop a reference; the last one runs fini and frees. NULL-safe. */
KC_API void kc_object_unref(kc_object *obj);
KC_API const kc_class *kc_object_class(const kc_object *obj);
KC_API kc_kind kc_object_kind(const kc_object *obj);
/* The name the object is saved under: its class name, or a function
 * object's name. Borrowed. */
KC_API const char *kc_object_name(const kc_object *obj);
/* The full config (base keys + the class's own). Returns: new JSON object
 * in *out (NULL on failure). */
KC_API KC_NODISCARD kc_status kc_object_get_config(const kc_object *obj, json_t **out,
                                                   kc_error *err);
/* A new instance of cls configured from `config` (Keras' from_config).
 * ctx may be NULL (path "config", no custom objects). */
KC_API KC_NODISCARD kc_object *kc_object_from_config(const kc_class *cls, const json_t *config,
                                                     const kc_config_ctx *ctx, kc_error *err);

/* --- functions ------------------------------------------------------------ */

/* Generic function pointer; each kind calls it with its own signature:
 *   ACTIVATION:  kc_tensor *f(kc_tensor *x, void *params, kc_error *err)
 *   LOSS/METRIC: kc_tensor *f(kc_tensor *y_true, kc_tensor *y_pred,
 *                             void *params, kc_error *err)  -- per sample
 *   INITIALIZER: kc_status  f(kc_tensor *out, void *params, kc_error *err)
 *   REGULARIZER: kc_tensor *f(kc_tensor *w, void *params, kc_error *err)
 *   CONSTRAINT:  kc_tensor *f(kc_tensor *w, void *params, kc_error *err)
 *   LAMBDA:      kc_tensor *f(kc_tensor *const *inputs, int n_inputs,
 *                             void *params, kc_error *err)
 * Cast with KC_FN(f). */
typedef void (*kc_fn)(void);
#define KC_FN(f) ((kc_fn)(f))

/* A function object of `kind` saved as `name`. Takes params: params_free
 * (may be NULL) runs when the object is freed, and also on failure.
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_function_new(kc_kind kind, const char *name, kc_fn fn,
                                               void *params, void (*params_free)(void *),
                                               kc_error *err);
/* The same with a copy of params (size bytes; size 0: none) that the
 * object owns: create_huber(2.0) binds a threshold without a malloc of its
 * own:
 *     kc_function_new_copy(KC_KIND_LOSS, "huber_fn", KC_FN(huber_fn), &threshold,
 *                          sizeof threshold, err)
 * The function gets a pointer to the copy. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_function_new_copy(kc_kind kind, const char *name, kc_fn fn,
                                                    const void *params, size_t size, kc_error *err);
/* True when obj is a function object. */
KC_API bool kc_object_is_function(const kc_object *obj);
/* A function object's C function and bound parameters (outputs may be
 * NULL). Returns KC_EINVAL for class instances. */
KC_API KC_NODISCARD kc_status kc_function_get(const kc_object *obj, kc_fn *fn, void **params,
                                              kc_error *err);

/* --- the registry ------------------------------------------------------------
 * Built-in classes and functions are registered by kc_init(), which every
 * loader calls; it is idempotent. Register your own before starting threads.
 * Names may carry a package, "Package>Name", as Keras'
 * register_keras_serializable writes them. */

/* Register the built-ins (idempotent, cheap after the first call). */
KC_API KC_NODISCARD kc_status kc_init(kc_error *err);
/* Register a class under cls->name. The same descriptor twice is a no-op; a
 * different class under the same (kind, name) is KC_EEXIST. Checks the
 * name, the ABI, the size and the slots the kind requires (KC_EINVAL). */
KC_API KC_NODISCARD kc_status kc_register_class(const kc_class *cls, kc_error *err);
/* Register a plain function (no bound parameters) under (kind, name). The
 * same function twice is a no-op; another one under that name KC_EEXIST. */
KC_API KC_NODISCARD kc_status kc_register_function(kc_kind kind, const char *name, kc_fn fn,
                                                   kc_error *err);
/* The class registered under (kind, name), or NULL. Borrowed. */
KC_API const kc_class *kc_find_class(kc_kind kind, const char *name);

/* Walk the registry: entry i (0-based) of kc_registry_size(). Outputs may be
 * NULL; *cls is NULL for functions and aliases, *alias_of NULL unless the
 * entry is an alias. Returns false when i is out of range. Borrowed. */
KC_API size_t kc_registry_size(void);
KC_API bool kc_registry_entry(size_t i, kc_kind *kind, const char **name, const kc_class **cls,
                              const char **alias_of);

/* --- custom objects ------------------------------------------------------------
 * A per-load name -> class / function map consulted before the registry
 * (Keras' custom_objects). Entries are keyed by (kind, name). */
typedef struct kc_custom_objects kc_custom_objects;

/* Returns: an empty map (one owner), or NULL. */
KC_API KC_NODISCARD kc_custom_objects *kc_custom_objects_new(kc_error *err);
/* Map name (NULL: cls->name) to cls. Replaces an earlier entry. */
KC_API KC_NODISCARD kc_status kc_custom_objects_add_class(kc_custom_objects *co,
                                                          const char *name,
                                                          const kc_class *cls, kc_error *err);
/* Map (kind, name) to fn with bound parameters; takes params (params_free
 * runs when no loaded object uses it any more, and on failure). */
KC_API KC_NODISCARD kc_status kc_custom_objects_add_function(kc_custom_objects *co, kc_kind kind,
                                                             const char *name, kc_fn fn,
                                                             void *params,
                                                             void (*params_free)(void *),
                                                             kc_error *err);
/* Map name (NULL: the object's name) to an existing object (e.g. from
 * kc_function_new); the map adds a reference (the caller keeps its own).
 * Loaded models share that object. */
KC_API KC_NODISCARD kc_status kc_custom_objects_add_object(kc_custom_objects *co,
                                                           const char *name, kc_object *obj,
                                                           kc_error *err);
/* The same, taking the caller's reference to obj on every path:
 *     custom_objects={"huber_fn": create_huber(2.0)}
 *     kc_custom_objects_add_object_take(co, NULL, create_huber(2.0f, &err), &err)
 * A NULL obj (a failed constructor) fails with the error err holds. */
KC_API KC_NODISCARD kc_status kc_custom_objects_add_object_take(kc_custom_objects *co,
                                                                const char *name, kc_object *obj,
                                                                kc_error *err);
/* NULL-safe. Objects already loaded keep what they use. */
KC_API void kc_custom_objects_free(kc_custom_objects *co);

/* --- serialization ------------------------------------------------------------ */

/* Keras 2 form: {"class_name", "config"} for a class instance, the name
 * string for a function. Returns: new JSON value in *out. */
KC_API KC_NODISCARD kc_status kc_serialize(const kc_object *obj, json_t **out, kc_error *err);
/* Build an object of `kind` from a name string (a function, a class with
 * its defaults, or an alias such as "glorot_uniform"), a Keras 2
 * {"class_name", "config"} dict or a Keras 3 dict (module,
 * registered_name). JSON null gives *out = NULL and KC_OK. ctx may be NULL.
 * Unknown names are KC_ENOTFOUND naming the class and the JSON path. */
KC_API KC_NODISCARD kc_status kc_deserialize(kc_kind kind, const json_t *json,
                                             const kc_config_ctx *ctx, kc_object **out,
                                             kc_error *err);
/* Shorthand for C code: spec is a name ("he_normal", "relu", "l2") or
 * JSON text ("{\"class_name\": \"L2\", \"config\": {\"l2\": 0.1}}").
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_object_create(kc_kind kind, const char *spec, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_OBJECT_H */
