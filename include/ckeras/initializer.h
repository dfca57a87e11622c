/* ckeras: weight initializers.
 *
 * Built-in classes, with Keras' names, config keys and defaults: Zeros,
 * Ones, Constant(value=0), RandomNormal(mean=0, stddev=0.05, seed),
 * RandomUniform(minval=-0.05, maxval=0.05, seed), TruncatedNormal(mean=0,
 * stddev=0.05, seed; resampled beyond 2 stddev), VarianceScaling(scale=1,
 * mode="fan_in"|"fan_out"|"fan_avg", distribution="truncated_normal"|
 * "untruncated_normal"|"uniform"|"normal", seed), GlorotNormal,
 * GlorotUniform, HeNormal, HeUniform, LecunNormal, LecunUniform (seed),
 * Orthogonal(gain=1, seed), Identity(gain=1). Aliases: "zeros", "ones",
 * "constant", "random_normal", "random_uniform", "truncated_normal",
 * "variance_scaling", "glorot_normal", "glorot_uniform", "he_normal",
 * "he_uniform", "lecun_normal", "lecun_uniform", "orthogonal", "identity"
 * (and TensorFlow.js' LeCunNormal / LeCunUniform).
 *
 * A seeded initializer gives the same values at every call (as in Keras);
 * without a seed it draws from kc_global_rng(). Random streams are ckeras'
 * own (random.h): the same seed does not give Keras' numbers. */
#ifndef CKERAS_INITIALIZER_H
#define CKERAS_INITIALIZER_H

#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

KC_BEGIN_DECLS

/* Method table of initializer classes. */
typedef struct kc_initializer_methods {
    /* Fill the float32 tensor `out` (its shape is the weight's shape). */
    kc_status (*fill)(kc_object *self, kc_tensor *out, kc_error *err);
} kc_initializer_methods;

/* Signature of plain initializer functions. */
typedef kc_status (*kc_initializer_fn)(kc_tensor *out, void *params, kc_error *err);

/* Fill out (float32) with initial values. */
KC_API KC_NODISCARD kc_status kc_initializer_fill(kc_object *initializer, kc_tensor *out,
                                                  kc_error *err);
/* A new float32 tensor of the given shape, initialized.
 * Returns: new reference or NULL. */
KC_API KC_NODISCARD kc_tensor *kc_initializer_make(kc_object *initializer, int ndim,
                                                   const int64_t *dims, kc_error *err);
/* Keras' fan computation for a weight shape: (fan_in, fan_out). */
KC_API void kc_compute_fans(int ndim, const int64_t *dims, double *fan_in, double *fan_out);

KC_END_DECLS

#endif /* CKERAS_INITIALIZER_H */
