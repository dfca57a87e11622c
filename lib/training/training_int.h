/* ckeras private: the compile state the trainer and the saver share. */
#ifndef CKERAS_TRAINING_INT_H
#define CKERAS_TRAINING_INT_H

#include "../models/models_int.h"
#include <ckeras/loss.h>
#include <ckeras/metric.h>
#include <ckeras/optimizer.h>
#include <ckeras/trainer.h>

/* One metric entry of an output: an object, or a name Keras resolves from
 * the shapes at the first batch ("accuracy", "acc", "crossentropy", "ce"). */
typedef struct kc__metric_entry {
    kc_object *metric; /* owned; NULL until resolved for the special names */
    char *special;     /* owned; the name as given when special */
    bool weighted;     /* from weighted_metrics */
} kc__metric_entry;

typedef struct kc__compiled {
    kc_object *optimizer;  /* owned */
    /* what compile was given, for training_config (owned JSON) */
    json_t *loss_spec, *metrics_spec, *weighted_spec, *loss_weights_spec;
    const kc_custom_objects *custom; /* borrowed, only during compile */
    /* per output, once the number of outputs is known */
    int n_outputs;         /* -1: not resolved yet */
    kc_object **losses;    /* owned; NULL entries: no loss for that output */
    double *loss_weights;
    kc__metric_entry **metrics; /* per output: array of entries */
    int *n_metrics;
} kc__compiled;

/* The model's compile state, or NULL. */
kc__compiled *kc__model_compiled(const kc_object *model);
/* Resolve per-output losses and metric lists for n outputs (idempotent). */
kc_status kc__compiled_resolve(kc_object *model, int n_outputs, kc_error *err);

#endif /* CKERAS_TRAINING_INT_H */
