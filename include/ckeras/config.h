/* ckeras: reading and writing object configs (Jansson JSON).
 *
 * from_config functions read their keys with these typed getters. A getter
 * returns the default for a missing key (unless KC_CFG_REQUIRED), checks the
 * JSON type and range, and on failure fills err with the JSON path and what
 * was expected:
 *     "model_config.config.layers[3].config.units: expected a positive
 *      integer, got -2"
 * Numbers written by Python may be integral reals (2.0 for an int) and the
 * non-standard tokens NaN / Infinity / -Infinity (which ckeras' JSON reader
 * turns into the strings "NaN", "Infinity", "-Infinity"): both are accepted
 * where a number is expected. */
#ifndef CKERAS_CONFIG_H
#define CKERAS_CONFIG_H

#include "defs.h"
#include "error.h"
#include "object.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

KC_BEGIN_DECLS

/* Where a config is being read from; passed to from_config. Callers may
 * allocate it (kc_config_ctx_init); fields are read-only for classes. */
struct kc_config_ctx {
    char path[256];                  /* JSON path of the object read, for messages */
    const kc_custom_objects *custom; /* consulted before the registry; may be NULL */
    int version;                     /* config version stored with the object (1 if none) */
};

KC_API void kc_config_ctx_init(kc_config_ctx *ctx, const char *path,
                               const kc_custom_objects *custom);
/* Context of a member: path + "." + key (or "[index]" when key is NULL). */
KC_API kc_config_ctx kc_config_ctx_child(const kc_config_ctx *parent, const char *key,
                                         size_t index);

#define KC_CFG_REQUIRED 0x1u /* a missing key is an error */
#define KC_CFG_NULLABLE 0x2u /* JSON null is accepted and gives the default */
#define KC_CFG_POSITIVE 0x4u /* numbers must be > 0 */
#define KC_CFG_NONNEG 0x8u   /* numbers must be >= 0 */

KC_API KC_NODISCARD kc_status kc_cfg_int(const kc_config_ctx *ctx, const json_t *cfg,
                                         const char *key, unsigned flags, int64_t dflt,
                                         int64_t *out, kc_error *err);
KC_API KC_NODISCARD kc_status kc_cfg_float(const kc_config_ctx *ctx, const json_t *cfg,
                                           const char *key, unsigned flags, double dflt,
                                           double *out, kc_error *err);
KC_API KC_NODISCARD kc_status kc_cfg_bool(const kc_config_ctx *ctx, const json_t *cfg,
                                          const char *key, unsigned flags, bool dflt, bool *out,
                                          kc_error *err);
/* *out is borrowed from cfg (or is dflt). */
KC_API KC_NODISCARD kc_status kc_cfg_string(const kc_config_ctx *ctx, const json_t *cfg,
                                            const char *key, unsigned flags, const char *dflt,
                                            const char **out, kc_error *err);
/* A string that must be one of choices[0..n); *out receives its index. */
KC_API KC_NODISCARD kc_status kc_cfg_choice(const kc_config_ctx *ctx, const json_t *cfg,
                                            const char *key, unsigned flags,
                                            const char *const *choices, int n_choices, int dflt,
                                            int *out, kc_error *err);
/* An integer or a list of integers (kernel_size: 3 or [3, 3]); a single
 * integer is repeated n times. A list must have exactly n items. */
KC_API KC_NODISCARD kc_status kc_cfg_int_tuple(const kc_config_ctx *ctx, const json_t *cfg,
                                               const char *key, unsigned flags, int n,
                                               int64_t dflt, int64_t *out, kc_error *err);
/* An optional integer seed: null or missing -> *has = false. */
KC_API KC_NODISCARD kc_status kc_cfg_seed(const kc_config_ctx *ctx, const json_t *cfg,
                                          const char *key, bool *has, uint64_t *seed,
                                          kc_error *err);
/* A nested component of `kind` (string, Keras 2 or Keras 3 dict). A missing
 * key gives kc_deserialize(dflt) (dflt NULL: *out = NULL); null gives NULL. */
KC_API KC_NODISCARD kc_status kc_cfg_object(const kc_config_ctx *ctx, const json_t *cfg,
                                            const char *key, kc_kind kind, const char *dflt,
                                            kc_object **out, kc_error *err);

/* Writing: json_object_set_new(config, key, json_real(x)) and friends, or
 * these, which store NaN and infinities so that they are written as the
 * tokens Python's json module reads. Returns KC_ENOMEM on failure. */
KC_API KC_NODISCARD kc_status kc_cfg_set_float(json_t *config, const char *key, double value,
                                               kc_error *err);
/* Integers, booleans and strings (value NULL: JSON null), for get_config. */
KC_API KC_NODISCARD kc_status kc_cfg_set_int(json_t *config, const char *key, int64_t value,
                                              kc_error *err);
KC_API KC_NODISCARD kc_status kc_cfg_set_bool(json_t *config, const char *key, bool value,
                                               kc_error *err);
KC_API KC_NODISCARD kc_status kc_cfg_set_string(json_t *config, const char *key, const char *value,
                                                 kc_error *err);
/* value NULL writes JSON null; else kc_serialize(value). */
KC_API KC_NODISCARD kc_status kc_cfg_set_object(json_t *config, const char *key,
                                                const kc_object *value, kc_error *err);

/* Parse JSON text as Keras writes it: NaN / Infinity / -Infinity tokens are
 * accepted (turned into strings, see above); at most max_depth levels of
 * nesting (0: 512). Returns: new JSON value or NULL (KC_EFORMAT with the
 * line and column in the context, or KC_ELIMIT). */
KC_API KC_NODISCARD json_t *kc_json_parse(const char *text, size_t length, int max_depth,
                                          kc_error *err);
/* Compact JSON text with NaN / infinities written as Python's tokens.
 * Returns: malloc'd (kc allocator) string to free with kc_json_free, or NULL. */
KC_API KC_NODISCARD char *kc_json_dump(const json_t *json, kc_error *err);
KC_API void kc_json_free(char *text);

KC_END_DECLS

#endif /* CKERAS_CONFIG_H */
