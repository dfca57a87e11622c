/* ckeras: tensors as JSON, in the format keras-ref and TensorFlow.js tools
 * use for example inputs and outputs:
 *
 *     {"shape": [2, 3], "data": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]}
 *
 * data is flat, row-major (C order), batch dimension first. Non-finite
 * values are the strings "NaN", "Infinity", "-Infinity" (bare NaN tokens
 * are accepted too when the text was parsed with kc_json_parse). An
 * optional "dtype" ("float32" default, "int32", "int64") gives the tensor's
 * dtype; "name" is informational and ignored here.
 *
 * Files hold lists of them: {"inputs": [...]} and {"outputs": [...]}. */
#ifndef CKERAS_TENSOR_JSON_H
#define CKERAS_TENSOR_JSON_H

#include "defs.h"
#include "error.h"
#include "tensor.h"

#include <jansson.h>

KC_BEGIN_DECLS

/* A tensor from one {"shape", "data"[, "dtype"]} object. The shape must be
 * non-negative and agree with the number of values; integer dtypes need
 * integral values in range. Errors name the offending key and index.
 * Returns: KC_OK and a new tensor in *out, or an error (KC_EFORMAT). */
KC_API KC_NODISCARD kc_status kc_tensor_from_json(const json_t *json, kc_tensor **out,
                                                  kc_error *err);
/* {"shape", "data"} (plus "dtype" unless float32; "name" when name is not
 * NULL). float32 values are written exactly: printed back they parse to the
 * same float. Returns: new JSON object in *out. */
KC_API KC_NODISCARD kc_status kc_tensor_to_json(const kc_tensor *t, const char *name,
                                                json_t **out, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_TENSOR_JSON_H */
