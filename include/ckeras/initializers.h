/* ckeras: typed constructors of the built-in initializers (keras.initializers.*).
 *
 *     keras.initializers.HeNormal(seed=42)
 *     kc_initializers_he_normal(&(kc_initializers_seed_args){.seed = 42}, &err)
 *
 * Conventions in args.h (a zero field is Keras' default; KC_ZERO for an
 * explicit 0, e.g. RandomUniform's minval or seed 0). Every constructor
 * returns a new reference or NULL with err filled; args may be NULL.
 * initializer.h has what they draw. */
#ifndef CKERAS_INITIALIZERS_H
#define CKERAS_INITIALIZERS_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"

KC_BEGIN_DECLS

KC_API KC_NODISCARD kc_object *kc_initializers_zeros(const kc_no_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_initializers_ones(const kc_no_args *args, kc_error *err);

typedef struct kc_initializers_constant_args {
    double value; /* 0 */
} kc_initializers_constant_args;
KC_API KC_NODISCARD kc_object *kc_initializers_constant(const kc_initializers_constant_args *args,
                                                        kc_error *err);

typedef struct kc_initializers_identity_args {
    double gain; /* 1.0 */
} kc_initializers_identity_args;
KC_API KC_NODISCARD kc_object *kc_initializers_identity(const kc_initializers_identity_args *args,
                                                        kc_error *err);

/* RandomNormal, TruncatedNormal. */
typedef struct kc_initializers_normal_args {
    double mean;   /* 0 */
    double stddev; /* 0.05 */
    int64_t seed;  /* none: the global generator */
} kc_initializers_normal_args;
KC_API KC_NODISCARD kc_object *kc_initializers_random_normal(const kc_initializers_normal_args *args,
                                                             kc_error *err);
KC_API KC_NODISCARD kc_object *kc_initializers_truncated_normal(const kc_initializers_normal_args *args,
                                                                kc_error *err);

typedef struct kc_initializers_random_uniform_args {
    double minval; /* -0.05 */
    double maxval; /* 0.05 */
    int64_t seed;  /* none */
} kc_initializers_random_uniform_args;
KC_API KC_NODISCARD kc_object *kc_initializers_random_uniform(const kc_initializers_random_uniform_args *args,
                                                              kc_error *err);

typedef struct kc_initializers_variance_scaling_args {
    double scale;             /* 1.0 */
    const char *mode;         /* "fan_in"; "fan_out", "fan_avg" */
    const char *distribution; /* "truncated_normal"; "untruncated_normal", "uniform" */
    int64_t seed;             /* none */
} kc_initializers_variance_scaling_args;
KC_API KC_NODISCARD kc_object *
kc_initializers_variance_scaling(const kc_initializers_variance_scaling_args *args, kc_error *err);

/* GlorotNormal, GlorotUniform, HeNormal, HeUniform, LecunNormal, LecunUniform. */
typedef struct kc_initializers_seed_args {
    int64_t seed; /* none */
} kc_initializers_seed_args;
KC_API KC_NODISCARD kc_object *kc_initializers_glorot_normal(const kc_initializers_seed_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_initializers_glorot_uniform(const kc_initializers_seed_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_initializers_he_normal(const kc_initializers_seed_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_initializers_he_uniform(const kc_initializers_seed_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_initializers_lecun_normal(const kc_initializers_seed_args *args, kc_error *err);
KC_API KC_NODISCARD kc_object *kc_initializers_lecun_uniform(const kc_initializers_seed_args *args, kc_error *err);

typedef struct kc_initializers_orthogonal_args {
    double gain;  /* 1.0 */
    int64_t seed; /* none */
} kc_initializers_orthogonal_args;
KC_API KC_NODISCARD kc_object *kc_initializers_orthogonal(const kc_initializers_orthogonal_args *args,
                                                          kc_error *err);

KC_END_DECLS

#endif /* CKERAS_INITIALIZERS_H */
