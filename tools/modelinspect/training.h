/* modelinspect: reading training_config (compile state) for people. */
#ifndef MODELINSPECT_TRAINING_H
#define MODELINSPECT_TRAINING_H

#include <ckeras.h>

#include <stdio.h>

/* training_config's optimizer_config ({"class_name", "config"}), or NULL. Borrowed. */
const json_t *training_optimizer(const json_t *tc);
/* "Adam (learning_rate=0.001, beta_1=0.9, ...)": hyperparameters at
 * float32 precision, name and nulls left out. */
void training_optimizer_text(const json_t *oc, char *buf, size_t size);
/* A loss / metrics value as written in compile(): "mse", "[accuracy]",
 * "{out_a: mse, out_b: mae}". */
void training_text(const json_t *v, char *buf, size_t size);
/* "optimizer: ...", "loss: ...", "metrics: ..." lines (tc may be NULL:
 * "not compiled"). */
void training_print(FILE *out, const json_t *tc);
/* {"optimizer", "loss", "metrics", "weighted_metrics", "loss_weights"} or
 * null. New reference. */
json_t *training_json(const json_t *tc);

#endif
