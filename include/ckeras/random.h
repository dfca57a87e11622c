/* ckeras: seeded random numbers (initializers, dropout, shuffling).
 *
 * kc_rng is xoshiro256** seeded through splitmix64: fast, 256 bits of state,
 * and the same stream on every platform for the same seed. Keras' own
 * streams (TensorFlow's Philox) are not reproduced: the same seed gives the
 * same numbers in ckeras, not the same numbers as Keras. */
#ifndef CKERAS_RANDOM_H
#define CKERAS_RANDOM_H

#include "defs.h"

#include <stddef.h>
#include <stdint.h>

KC_BEGIN_DECLS

/* Callers may allocate it; fields are private. */
typedef struct kc_rng {
    uint64_t s[4];
} kc_rng;

KC_API void kc_rng_seed(kc_rng *rng, uint64_t seed);
/* 64 random bits. */
KC_API uint64_t kc_rng_next(kc_rng *rng);
/* Uniform in [0, 1) with 53 random bits. */
KC_API double kc_rng_uniform(kc_rng *rng);
/* Standard normal (mean 0, stddev 1). */
KC_API double kc_rng_normal(kc_rng *rng);
/* Uniform integer in [0, n) without modulo bias; 0 when n == 0. */
KC_API uint64_t kc_rng_below(kc_rng *rng, uint64_t n);

/* Fill n floats: uniform in [lo, hi); normal(mean, stddev); normal
 * truncated to mean +- 2 stddev (Keras' TruncatedNormal, by resampling). */
KC_API void kc_rng_fill_uniform(kc_rng *rng, float *out, size_t n, float lo, float hi);
KC_API void kc_rng_fill_normal(kc_rng *rng, float *out, size_t n, float mean, float stddev);
KC_API void kc_rng_fill_truncated_normal(kc_rng *rng, float *out, size_t n, float mean,
                                         float stddev);

/* The process-wide generator used when an object has no seed of its own
 * (Keras' seed=None). It starts from a fixed seed, so runs are reproducible
 * unless kc_set_random_seed() changes it; not thread-safe. */
KC_API kc_rng *kc_global_rng(void);
/* Re-seed the global generator (keras.utils.set_random_seed). */
KC_API void kc_set_random_seed(uint64_t seed);

KC_END_DECLS

#endif /* CKERAS_RANDOM_H */
