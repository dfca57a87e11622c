/* TensorFlow.js model goldens (tests/data/<area>/make-goldens*): a Keras 2
 * model_config, its weights, inputs and TensorFlow.js' outputs, and
 * optionally the training-mode loss sum_i mean((y_i - t_i)^2) with its
 * gradients for every trainable weight. Shared by the layer suites. */
#ifndef CKERAS_TESTS_GOLDEN_H
#define CKERAS_TESTS_GOLDEN_H

#include "testutil.h"

/* A tensor of keras-ref's {"shape", "data"[, "dtype"]} form (asserts). */
kc_tensor *tu_json_tensor(const json_t *j);
/* A JSON file under tests/data (asserts). */
json_t *tu_load_json(const char *rel);
/* The golden's model_config built, with its weights set. */
kc_object *tu_golden_model(const json_t *root, const char *label);
/* Predict on the golden's inputs and compare every output. */
void tu_check_io(kc_object *m, const json_t *io, const char *label, double rtol, double atol);
/* The training-mode loss and its gradients against the golden's. */
void tu_check_grads(kc_object *m, const json_t *root, const char *label);
/* All of the above for a golden file; gradients when it has "grads". */
void tu_check_golden(const char *rel, double rtol, double atol);

#endif
