/* ckeras: argument structs for typed constructors, and how any class gets one.
 *
 * Every built-in class users make by hand has a typed constructor named
 * after its Keras module and class, taking a struct of Keras' constructor
 * arguments written with designated initializers:
 *
 *     keras.layers.Dense(30, activation="relu")
 *     kc_layers_dense(&(kc_layers_dense_args){.units = 30, .activation = KC_NAME("relu")}, &err)
 *
 *     keras.optimizers.Adam(learning_rate=0.01)     kc_optimizers_adam(&(kc_optimizers_adam_args){.learning_rate = 0.01}, &err)
 *     keras.metrics.Precision()                     kc_metrics_precision(NULL, &err)
 *
 * (layers.h, losses.h, metrics.h, optimizers.h, initializers.h,
 * regularizers.h, constraints.h, callbacks.h). The rule is mechanical:
 * keras.<module>.<Class> is kc_<module>_<class in snake_case>, and its
 * arguments are kc_<module>_<class>_args.
 *
 * Zero means Keras' default. Every field left out (zero, NULL) is the
 * default Keras gives that argument, so only what differs is written:
 *   - numbers: 0 is the default. Where 0 is a meaningful value that is not
 *     the default (a seed, an axis, alpha = 0 where Keras says 0.3), write
 *     KC_ZERO;
 *   - booleans are kc_bool, never C's bool: zero is the default (even where
 *     Keras' default is True, e.g. use_bias), KC_TRUE and KC_FALSE say so
 *     explicitly. A plain `false` does not compile, so `.use_bias = false`
 *     cannot silently mean "default";
 *   - strings (padding, data_format, monitor, ...): NULL is the default;
 *   - objects (activations, initializers, regularizers, constraints,
 *     layers, ...) are kc_spec: nothing is the default; KC_NAME("relu")
 *     names a built-in or registered one, KC_OBJECT(obj) passes an object
 *     (referenced, not stolen: the caller keeps its reference), and
 *     KC_FUNCTION(my_fn) passes a plain C function of the slot's kind,
 *     saved under its C name ("my_fn");
 *   - shapes and integer lists are kc_shape (KC_SHAPE(28, 28, 1)): ndim 0
 *     is the default; -1 is an unknown dimension (None);
 *   - tuples (kernel_size, strides, pool_size, ...) are small int64_t
 *     arrays: {3} means 3 on every axis, {3, 5} one value per axis.
 * A NULL args pointer means all defaults.
 *
 * One path validates: a typed constructor turns its arguments into the
 * class's Keras config and builds the object with the class's from_config,
 * exactly as a file is loaded, so `kc_layers_dense(&args)` and the JSON
 * config with the same keys make identical objects (same get_config), and
 * bad values fail with the same messages ("kc_layers_dense.units: expected
 * a positive integer, got -3"). Objects given as KC_OBJECT reach the class
 * through a private custom-objects map, so the new object shares them, as
 * a Keras layer shares the activation object it was given.
 *
 * Your own classes get the same: declare an args struct and a table of
 * kc_arg_field (KC_ARG and friends below), and write the constructor as
 *
 *     kc_object *my_dense_new(const my_dense_args *a, kc_error *err)
 *     {
 *         return kc_object_from_args(&my_dense_class, my_dense_fields, KC_ARRAY_SIZE(my_dense_fields), a, err);
 *     }
 *
 * from_config is then the only code that reads arguments: the constructor
 * and a loaded file cannot disagree (the pattern `samples/custom_layers.c`
 * shows). */
#ifndef CKERAS_ARGS_H
#define CKERAS_ARGS_H

#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

#include <stddef.h>
#include <stdint.h>

KC_BEGIN_DECLS

/* A boolean argument whose zero value is "Keras' default". */
typedef struct kc_bool {
    int value_; /* private: 0 default, 1 true, 2 false */
} kc_bool;

#ifndef __cplusplus
#define KC_TRUE ((kc_bool){1})
#define KC_FALSE ((kc_bool){2})
/* From a C condition: KC_BOOL(x > 0). */
#define KC_BOOL(b) ((kc_bool){(b) ? 1 : 2})
#endif

/* An explicit zero in a numeric argument where 0 would mean "default".
 * Works for int, int64_t and double fields (and tuple entries). */
#define KC_ZERO (-2147483647 - 1)

/* An object argument: give one of name, object, or fn (with name). */
typedef struct kc_spec {
    const char *name;  /* a built-in or registered name ("relu", "he_normal", "l2"), or
                          config JSON text ("{\"class_name\": \"L2\", ...}"); with fn:
                          the name fn is saved under */
    kc_object *object; /* an object of the slot's kind; referenced, not stolen */
    kc_fn fn;          /* a plain C function of the slot's kind, saved as `name` */
} kc_spec;

#ifndef __cplusplus
#define KC_NAME(n) ((kc_spec){.name = (n)})
#define KC_OBJECT(o) ((kc_spec){.object = (o)})
#define KC_FUNCTION(f) ((kc_spec){.name = #f, .fn = KC_FN(f)})
/* A shape or integer list: KC_SHAPE(28, 28, 1) (1 to KC_MAX_DIMS values). */
#define KC_SHAPE(...)                                                                              \
    ((kc_shape){.ndim = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                 \
                .dims = {__VA_ARGS__}})
/* A list of numbers: KC_FLOATS(0.3, 0.5, 0.7). */
#define KC_FLOATS(...)                                                                             \
    ((kc_floats){.values = (const double[]){__VA_ARGS__},                                          \
                 .n = (int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double))})
#endif

/* A list of numbers (thresholds, boundaries); n 0 is the default. The
 * values are copied by the constructor. */
typedef struct kc_floats {
    const double *values;
    int n;
} kc_floats;

/* The arguments of classes that take none (Zeros, NonNeg, TerminateOnNaN):
 * pass NULL. */
typedef struct kc_no_args {
    int unused_; /* private */
} kc_no_args;

/* The arguments every layer takes (Keras' base Layer keyword arguments),
 * first in every layer's args struct, so that `.name = "out"` and
 * `.input_shape = KC_SHAPE(10)` work on all of them. */
#define KC_LAYER_ARGS                                                                              \
    const char *name;    /* NULL: automatic ("dense", "dense_1", ...) */                           \
    kc_bool trainable;   /* default true */                                                        \
    const char *dtype;   /* NULL: "float32" */                                                     \
    kc_shape input_shape /* ndim 0: none; else the input shape without the batch axis */

/* The arguments of layers that take nothing else (Flatten's data_format
 * aside): Add, Subtract, Multiply, Average, Maximum, Minimum, ... */
typedef struct kc_layers_args {
    KC_LAYER_ARGS;
} kc_layers_args;

/* --- field tables: how an args struct maps to a config ----------------------- */

/* What a field holds; KC_ARG picks it from the field's C type. */
typedef enum kc_arg_type {
    KC_ARG_INT,         /* int: omitted when 0 */
    KC_ARG_INT64,       /* int64_t: omitted when 0 */
    KC_ARG_DOUBLE,      /* double: omitted when 0 */
    KC_ARG_BOOL,        /* kc_bool: omitted when default */
    KC_ARG_STRING,      /* const char *: omitted when NULL */
    KC_ARG_SPEC,        /* kc_spec of kind `kind`: omitted when empty */
    KC_ARG_LIST,        /* kc_shape as a list of integers: omitted when ndim is 0 */
    KC_ARG_INPUT_SHAPE, /* kc_shape written as batch_input_shape [null, dims...] */
    KC_ARG_TUPLE,       /* int64_t[n]: the leading non-zero entries; one is written as a number */
    KC_ARG_PAIRS,       /* int64_t[n][2]: written as [[a, b], ...] unless all zero */
    KC_ARG_FLOATS       /* kc_floats: omitted when n is 0 */
} kc_arg_type;

/* Field flags. */
#define KC_ARG_EMBED 0x1u     /* SPEC: write the object's config (a copy) instead of sharing it */
#define KC_ARG_NULL_DIMS 0x2u /* LIST: -1 is written as null (None) */
#define KC_ARG_EMPTY_NULL 0x4u /* STRING: "" is written as null */
#define KC_ARG_REFUSED 0x8u    /* a field of the struct this class does not take: setting it is an error */

/* One config key of an args struct. Build tables with the macros below. */
typedef struct kc_arg_field {
    const char *key;  /* the config key */
    kc_arg_type type;
    size_t offset;    /* offsetof(args struct, field) */
    size_t size;      /* sizeof the field */
    kc_kind kind;     /* SPEC: the kind of object the key holds */
    unsigned flags;   /* KC_ARG_EMBED, ... */
    int count;        /* TUPLE / PAIRS: entries written (0: all the array holds) */
} kc_arg_field;

#ifndef __cplusplus
#define KC__ARG_TYPE(T, f)                                                                         \
    _Generic(((T *)0)->f, int: KC_ARG_INT, int64_t: KC_ARG_INT64, double: KC_ARG_DOUBLE,          \
             kc_bool: KC_ARG_BOOL, const char *: KC_ARG_STRING, kc_spec: KC_ARG_SPEC,              \
             kc_shape: KC_ARG_LIST, int64_t *: KC_ARG_TUPLE, int64_t(*)[2]: KC_ARG_PAIRS,           \
             kc_floats: KC_ARG_FLOATS)
/* Field f of args struct T, under the config key "f" (its type picks how). */
#define KC_ARG(T, f) {#f, KC__ARG_TYPE(T, f), offsetof(T, f), sizeof(((T *)0)->f), KC_KIND_COUNT, 0u, 0}
/* The same under another key, with flags. */
#define KC_ARG_KEY(T, f, key, flags)                                                               \
    {key, KC__ARG_TYPE(T, f), offsetof(T, f), sizeof(((T *)0)->f), KC_KIND_COUNT, flags, 0}
/* A kc_spec field holding an object of `kind`. */
#define KC_ARG_OBJECT(T, f, kind) {#f, KC_ARG_SPEC, offsetof(T, f), sizeof(kc_spec), kind, 0u, 0}
/* The KC_LAYER_ARGS fields of T (first in a layer's table). */
#define KC_ARG_LAYER(T)                                                                            \
    KC_ARG(T, name), KC_ARG(T, trainable), KC_ARG(T, dtype),                                       \
        {"batch_input_shape", KC_ARG_INPUT_SHAPE, offsetof(T, input_shape), sizeof(kc_shape),     \
         KC_KIND_COUNT, 0u, 0}
#endif
#define KC_ARRAY_SIZE(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* The config an args struct stands for: every field that is not zero, by
 * its table entry. Objects given by KC_OBJECT / KC_FUNCTION are entered in
 * *objects (created when needed; free it with kc_custom_objects_free) under
 * private names the config refers to; read the config with those custom
 * objects (kc_config_ctx) to get the very objects back. args may be NULL
 * (an empty config). `where` names the caller in messages ("my_dense_new").
 * Returns: a new JSON object in *config (NULL on failure). */
KC_API KC_NODISCARD kc_status kc_args_to_config(const kc_arg_field *fields, int n_fields,
                                                const void *args, const char *where,
                                                json_t **config, kc_custom_objects **objects,
                                                kc_error *err);
/* A new instance of cls configured from args (kc_args_to_config, then
 * kc_object_from_config with the objects), so that from_config is the one
 * place the class reads its arguments. Errors name cls in their path.
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_object_from_args(const kc_class *cls, const kc_arg_field *fields,
                                                   int n_fields, const void *args, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_ARGS_H */
