/* ckeras private: what the optimizer base (optimizer.c) shares with the
 * built-in optimizer families (optimizer_<family>.c). */
#ifndef CKERAS_OPTIMIZER_INT_H
#define CKERAS_OPTIMIZER_INT_H

#include "../objects/objects_int.h"
#include <ckeras/optimizer.h>

#include <stdbool.h>

/* The built-in classes (one per Keras class name). */
extern const kc_class kc__sgd_class;
extern const kc_class kc__adam_class, kc__adamw_class, kc__nadam_class, kc__adamax_class;
extern const kc_class kc__rmsprop_class;
extern const kc_class kc__adagrad_class, kc__adadelta_class;

/* Keras' fallback epsilon (backend.epsilon()). */
#define KC__OPT_EPSILON 1e-7

/* "epsilon": optimizer_v2 classes store `epsilon or backend_config.epsilon()`,
 * so a missing key, null and 0 all give 1e-7. Negative values are refused. */
kc_status kc__opt_read_epsilon(const kc_config_ctx *ctx, const json_t *cfg, double *eps,
                               kc_error *err);
/* A factor that must lie in [0, 1] (upper_open: [0, 1)), e.g. momentum or
 * beta_1, which Keras validates or divides by (1 - beta_1^t). */
kc_status kc__opt_read_unit(const kc_config_ctx *ctx, const json_t *cfg, const char *key,
                            bool upper_open, double *out, kc_error *err);
/* tf.keras >= 2.11 and Keras 3 give every optimizer a "weight_decay" key;
 * the classes that do not decay weights accept it only as null or 0. */
kc_status kc__opt_refuse_weight_decay(const kc_config_ctx *ctx, const json_t *cfg,
                                      kc_error *err);
/* Write a float key; *rc keeps the first failure so that a get_config can
 * chain several calls and test once. */
void kc__opt_put_float(json_t *cfg, const char *key, double v, kc_status *rc, kc_error *err);
void kc__opt_put_bool(json_t *cfg, const char *key, bool v, kc_status *rc, kc_error *err);

/* For the savers, before the optimizer is built: slot kinds per variable
 * and optimizer-level state weights (Nadam's momentum_cache). */
int kc__optimizer_num_slot_kinds(const kc_object *opt);
int kc__optimizer_num_states(const kc_object *opt);

#endif /* CKERAS_OPTIMIZER_INT_H */
