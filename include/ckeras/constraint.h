/* ckeras: weight constraints.
 *
 * A constraint projects a weight after each optimizer update (Keras'
 * kernel_constraint). Built-in classes: NonNeg, MaxNorm(max_value=2,
 * axis=0), MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0),
 * UnitNorm(axis=0), RadialConstraint (4-D kernels with square filters);
 * names "non_neg", "max_norm", "min_max_norm", "unit_norm",
 * "radial_constraint" and Keras 1's "nonneg", "maxnorm", "unitnorm".
 * `axis` may be an integer or a list of integers. */
#ifndef CKERAS_CONSTRAINT_H
#define CKERAS_CONSTRAINT_H

#include "autodiff.h"
#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

typedef struct kc_constraint_methods {
    /* Returns: the projected weight (new reference, w's shape) or NULL. */
    kc_tensor *(*apply)(kc_object *self, kc_tensor *w, kc_error *err);
} kc_constraint_methods;

/* Signature of plain constraint functions. */
typedef kc_tensor *(*kc_constraint_fn)(kc_tensor *w, void *params, kc_error *err);

/* The projection of w. Returns: new reference (same shape) or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_constraint_apply(kc_object *constraint, kc_tensor *w,
                                                   kc_error *err);

/* Attach a constraint to a variable: the variable adds a reference (the
 * caller keeps its own) and drops the one it held; NULL removes it.
 * Optimizers apply it after every update. */
KC_API void kc_variable_set_constraint(kc_variable *v, kc_object *constraint);
/* Borrowed; NULL when none. */
KC_API kc_object *kc_variable_constraint(const kc_variable *v);
/* Replace v's value by its constraint's projection (no-op without one). */
KC_API KC_NODISCARD kc_status kc_variable_apply_constraint(kc_variable *v, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_CONSTRAINT_H */
