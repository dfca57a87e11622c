/* ckeras: typed constructors of the built-in weight constraints
 * (keras.constraints.*).
 *
 *     keras.constraints.MaxNorm(3.0)   kc_constraints_max_norm(&(kc_constraints_max_norm_args){.max_value = 3}, &err)
 *
 * Conventions in args.h (a zero field is Keras' default). Every
 * constructor returns a new reference or NULL with err filled; args may
 * be NULL. constraint.h has what they do. */
#ifndef CKERAS_CONSTRAINTS_H
#define CKERAS_CONSTRAINTS_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"

KC_BEGIN_DECLS

KC_API KC_NODISCARD kc_object *kc_constraints_non_neg(const kc_no_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_constraints_radial_constraint(const kc_no_args *args, kc_error *err);

typedef struct kc_constraints_max_norm_args {
    double max_value; /* 2.0 */
    int axis;         /* 0 */
} kc_constraints_max_norm_args;
KC_API KC_NODISCARD kc_object *kc_constraints_max_norm(const kc_constraints_max_norm_args *args, kc_error *err);

typedef struct kc_constraints_min_max_norm_args {
    double min_value; /* 0 */
    double max_value; /* 1.0 */
    double rate;      /* 1.0 */
    int axis;         /* 0 */
} kc_constraints_min_max_norm_args;
KC_API KC_NODISCARD kc_object *kc_constraints_min_max_norm(const kc_constraints_min_max_norm_args *args,
                                                           kc_error *err);

typedef struct kc_constraints_unit_norm_args {
    int axis; /* 0 */
} kc_constraints_unit_norm_args;
KC_API KC_NODISCARD kc_object *kc_constraints_unit_norm(const kc_constraints_unit_norm_args *args, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_CONSTRAINTS_H */
