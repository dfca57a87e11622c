/* ckeras private: helpers shared by the core layer classes (activation
 * layers, reshaping, merging, dropout and noise): list-valued config keys,
 * shape-keeping output shapes, masks as 0/1 tensors, and per-layer random
 * streams. */
#ifndef CKERAS_LAYER_UTIL_H
#define CKERAS_LAYER_UTIL_H

#include "layers_int.h"

#include <ckeras/random.h>

/* Read an integer list such as Reshape's target_shape or Permute's dims: a
 * JSON list of at most max_n integers, or (allow_scalar) one integer, which
 * *scalar reports. A missing or null key gives *present = false (an error
 * with required). Errors name the JSON path. */
kc_status kc__cfg_int_list(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                           bool required, bool allow_scalar, int max_n, int64_t *out, int *n,
                           bool *present, bool *scalar, kc_error *err);
/* A JSON list of n integers. Returns: new JSON value, or NULL. */
json_t *kc__int_list_json(const int64_t *v, int n);
/* Write key: the integer itself when scalar, else the list. */
kc_status kc__cfg_set_int_list(json_t *cfg, const char *key, const int64_t *v, int n, bool scalar,
                               kc_error *err);

/* compute_output_shape of the layers whose output is shaped like their
 * input (activations, dropout, noise). */
kc_status kc__same_shape(const kc_object *self, const kc_shape *in, int n_in, kc_shape *out,
                         int *n_out, kc_error *err);

/* A mask as float32 0/1 values (any nonzero entry is true, as Keras casts
 * masks to bool). Returns: new reference or NULL. */
kc_tensor *kc__mask_bool(kc_tensor *mask, kc_error *err);

/* The random stream of a layer with a "seed" config key (Dropout and the
 * noise layers): its own generator when seeded (so a seeded layer repeats
 * its sequence of masks from construction), else kc_global_rng(), as Keras
 * draws from the global seed when seed is None. */
typedef struct kc__layer_rng {
    bool has_seed; /* config seed was an integer */
    int64_t seed;  /* the seed as written in the config */
    kc_rng rng;    /* the layer's stream, seeded from seed */
} kc__layer_rng;

/* Read "seed" (null or an integer) and seed the stream. */
kc_status kc__layer_rng_read(kc__layer_rng *r, const kc_config_ctx *ctx, const json_t *cfg,
                             kc_error *err);
/* Write "seed" (null or the integer). */
kc_status kc__layer_rng_write(const kc__layer_rng *r, json_t *cfg, kc_error *err);
/* The generator to draw from. */
kc_rng *kc__layer_rng_get(kc__layer_rng *r);
/* A float32 tensor of the given dims filled from the layer's stream:
 * normal(mean, stddev). Not recorded on tapes (a constant). */
kc_tensor *kc__layer_rng_normal(kc__layer_rng *r, int ndim, const int64_t *dims, float mean,
                                float stddev, kc_error *err);

/* Merge layers (Keras' _Merge): every input has a batch axis (rank >= 1)
 * and the known batch sizes agree; *batch receives the common size (-1
 * when none is known). Errors name the class and all the shapes. */
kc_status kc__merge_batch(const kc_object *self, const kc_shape *in, int n, int64_t *batch,
                          kc_error *err);

/* Read a finite number (the activation layers' slopes and thresholds):
 * kc_cfg_float plus a check that rejects NaN and infinities. */
kc_status kc__cfg_finite(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                         unsigned flags, double dflt, double *out, kc_error *err);

/* The class descriptor of a built-in layer written in one line. */
#define KC__LAYER_CLASS(var, kname, type, init_fn, fini_fn, get_fn, from_fn, methods_ptr)          \
    const kc_class var = {.abi = KC_CLASS_ABI,                                                     \
                          .kind = KC_KIND_LAYER,                                                   \
                          .name = kname,                                                           \
                          .size = sizeof(type),                                                    \
                          .config_version = 1,                                                     \
                          .init = init_fn,                                                         \
                          .fini = fini_fn,                                                         \
                          .get_config = get_fn,                                                    \
                          .from_config = from_fn,                                                  \
                          .methods = methods_ptr}

#endif /* CKERAS_LAYER_UTIL_H */
