/* ckeras: typed constructors of the built-in regularizers (keras.regularizers.*).
 *
 *     keras.regularizers.L2(0.1)       kc_regularizers_l2(&(kc_regularizers_l2_args){.l2 = 0.1}, &err)
 *
 * The same classes as kc_regularizer_l1 / l2 / l1l2 (regularizer.h, which
 * take the factors positionally); here, as for every typed constructor, a
 * zero factor is Keras' default (0.01 for L1 and L2; KC_ZERO for 0).
 * Returns a new reference or NULL with err filled; args may be NULL. */
#ifndef CKERAS_REGULARIZERS_H
#define CKERAS_REGULARIZERS_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"

KC_BEGIN_DECLS

typedef struct kc_regularizers_l1_args {
    double l1; /* 0.01 */
} kc_regularizers_l1_args;
KC_API KC_NODISCARD kc_object *kc_regularizers_l1(const kc_regularizers_l1_args *args, kc_error *err);

typedef struct kc_regularizers_l2_args {
    double l2; /* 0.01 */
} kc_regularizers_l2_args;
KC_API KC_NODISCARD kc_object *kc_regularizers_l2(const kc_regularizers_l2_args *args, kc_error *err);

typedef struct kc_regularizers_l1l2_args {
    double l1; /* 0 */
    double l2; /* 0 */
} kc_regularizers_l1l2_args;
KC_API KC_NODISCARD kc_object *kc_regularizers_l1l2(const kc_regularizers_l1l2_args *args, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_REGULARIZERS_H */
