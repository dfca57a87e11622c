/* ckeras: activations.
 *
 * Keras activations are functions saved by name ("relu", "softmax", ...).
 * In ckeras an activation is a kc_object: a function object (built-ins and
 * kc_register_function'ed C functions, saved as their name) or an instance
 * of a class with kc_activation_methods (saved as {"class_name",
 * "config"}, for activations that carry parameters).
 *
 * Built-in names: linear, relu, sigmoid, hard_sigmoid, tanh, softmax,
 * log_softmax, softplus, softsign, elu, selu, exponential, swish (also
 * "silu", saved as "swish"), gelu, leaky_relu, relu6, mish, hard_silu
 * (Keras 3's; also "hard_swish", saved as "hard_silu"). Their
 * parameters are Keras' defaults (softmax over the last axis, gelu exact,
 * leaky_relu slope 0.2); the ops in ops.h take any parameters. */
#ifndef CKERAS_ACTIVATION_H
#define CKERAS_ACTIVATION_H

#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

/* Method table of activation classes. */
typedef struct kc_activation_methods {
    /* Returns: new reference, or NULL with err filled. */
    kc_tensor *(*call)(kc_object *self, kc_tensor *x, kc_error *err);
} kc_activation_methods;

/* Signature of plain activation functions (kc_register_function). */
typedef kc_tensor *(*kc_activation_fn)(kc_tensor *x, void *params, kc_error *err);

/* Apply an activation (function or class instance) to x, recorded on any
 * active tape. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_activation_call(kc_object *activation, kc_tensor *x,
                                                  kc_error *err);
/* keras.activations.get(name): a registered or built-in activation.
 * Returns: new reference or NULL (KC_ENOTFOUND). */
KC_API KC_NODISCARD kc_object *kc_activation_get(const char *name, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_ACTIVATION_H */
