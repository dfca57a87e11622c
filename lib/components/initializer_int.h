/* ckeras private: shared pieces of the initializer classes. */
#ifndef CKERAS_INITIALIZER_INT_H
#define CKERAS_INITIALIZER_INT_H

#include "../objects/objects_int.h"
#include <ckeras/config.h>
#include <ckeras/initializer.h>
#include <ckeras/random.h>

/* The seed every random initializer has: null or an integer. */
typedef struct kc__seed {
    bool has;
    uint64_t value;
} kc__seed;

kc_status kc__seed_read(const kc_config_ctx *ctx, const json_t *cfg, kc__seed *s, kc_error *err);
kc_status kc__seed_write(json_t *cfg, const kc__seed *s, kc_error *err);
/* The generator to draw from: `local` seeded from s (same values at every
 * call, as Keras), or the global one. */
kc_rng *kc__seed_rng(const kc__seed *s, kc_rng *local);
/* out must be float32: KC_ETYPE otherwise. */
kc_status kc__check_init_out(const char *cls, const kc_tensor *out, kc_error *err);

extern const kc_class kc__zeros_class, kc__ones_class, kc__constant_class, kc__identity_class;
extern const kc_class kc__random_normal_class, kc__random_uniform_class,
    kc__truncated_normal_class, kc__variance_scaling_class, kc__glorot_normal_class,
    kc__glorot_uniform_class, kc__he_normal_class, kc__he_uniform_class, kc__lecun_normal_class,
    kc__lecun_uniform_class;
extern const kc_class kc__orthogonal_class;

#endif
