/* ckeras: weight regularizers.
 *
 * A regularizer maps a weight to a scalar penalty tensor built from ops, so
 * a tape differentiates it like the loss it is added to. Built-in classes:
 * L1(l1=0.01), L2(l2=0.01), L1L2(l1=0, l2=0); names "l1", "l2", "l1_l2"
 * (L1L2 with its defaults). tf.keras writes L1 / L2 classes; TensorFlow.js
 * knows only L1L2. */
#ifndef CKERAS_REGULARIZER_H
#define CKERAS_REGULARIZER_H

#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

typedef struct kc_regularizer_methods {
    /* Returns: a new scalar tensor, or NULL with err filled. */
    kc_tensor *(*penalty)(kc_object *self, kc_tensor *w, kc_error *err);
} kc_regularizer_methods;

/* Signature of plain regularizer functions. */
typedef kc_tensor *(*kc_regularizer_fn)(kc_tensor *w, void *params, kc_error *err);

/* The penalty of w (a 0-d float32 tensor). Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_regularizer_penalty(kc_object *regularizer, kc_tensor *w,
                                                      kc_error *err);
/* Built-in instances: L1L2 with both factors (as TensorFlow.js and Keras 2.2
 * write it), L1, L2. Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_object *kc_regularizer_l1l2(double l1, double l2, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_regularizer_l1(double l1, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_regularizer_l2(double l2, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_REGULARIZER_H */
