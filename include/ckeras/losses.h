/* ckeras: typed constructors of the built-in losses (keras.losses.*).
 *
 *     keras.losses.Huber(delta=2.0)
 *     kc_losses_huber(&(kc_losses_huber_args){.delta = 2.0}, &err)
 *
 * Conventions in args.h (a zero field is Keras' default, kc_bool, KC_ZERO).
 * Every constructor returns a new reference or NULL with err filled; args
 * may be NULL (all defaults). The instances are the classes loss.h lists,
 * configured as Keras' from_config would (same get_config as the JSON
 * form). */
#ifndef CKERAS_LOSSES_H
#define CKERAS_LOSSES_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"

KC_BEGIN_DECLS

/* What every loss takes. */
#define KC_LOSS_ARGS                                                                               \
    const char *reduction; /* "sum_over_batch_size"; "sum", "none" */                              \
    const char *name       /* the class's snake_case name, e.g. "huber_loss" */

/* The losses without arguments of their own. */
typedef struct kc_losses_args {
    KC_LOSS_ARGS;
} kc_losses_args;
KC_API KC_NODISCARD kc_object *kc_losses_mean_squared_error(const kc_losses_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_mean_absolute_error(const kc_losses_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_mean_absolute_percentage_error(const kc_losses_args *args,
                                                                        kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_mean_squared_logarithmic_error(const kc_losses_args *args,
                                                                        kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_log_cosh(const kc_losses_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_hinge(const kc_losses_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_squared_hinge(const kc_losses_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_categorical_hinge(const kc_losses_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_kl_divergence(const kc_losses_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_poisson(const kc_losses_args *args, kc_error *err);

typedef struct kc_losses_huber_args {
    KC_LOSS_ARGS;
    double delta; /* 1.0 */
} kc_losses_huber_args;
KC_API KC_NODISCARD kc_object *kc_losses_huber(const kc_losses_huber_args *args, kc_error *err);

/* BinaryCrossentropy, CategoricalCrossentropy. */
typedef struct kc_losses_crossentropy_args {
    KC_LOSS_ARGS;
    kc_bool from_logits;    /* false */
    double label_smoothing; /* 0 */
    int axis;               /* -1 */
} kc_losses_crossentropy_args;
KC_API KC_NODISCARD kc_object *kc_losses_binary_crossentropy(const kc_losses_crossentropy_args *args,
                                                             kc_error *err);
KC_API KC_NODISCARD kc_object *kc_losses_categorical_crossentropy(const kc_losses_crossentropy_args *args,
                                                                  kc_error *err);

typedef struct kc_losses_sparse_categorical_crossentropy_args {
    KC_LOSS_ARGS;
    kc_bool from_logits;  /* false */
    int64_t ignore_class; /* none (KC_ZERO ignores class 0) */
} kc_losses_sparse_categorical_crossentropy_args;
KC_API KC_NODISCARD kc_object *
kc_losses_sparse_categorical_crossentropy(const kc_losses_sparse_categorical_crossentropy_args *args,
                                          kc_error *err);

typedef struct kc_losses_cosine_similarity_args {
    KC_LOSS_ARGS;
    int axis; /* -1 */
} kc_losses_cosine_similarity_args;
KC_API KC_NODISCARD kc_object *kc_losses_cosine_similarity(const kc_losses_cosine_similarity_args *args,
                                                           kc_error *err);

KC_END_DECLS

#endif /* CKERAS_LOSSES_H */
