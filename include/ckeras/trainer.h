/* ckeras: compiling and training models (Keras' Model.compile, fit,
 * evaluate, ...). The trainer is a client of the tape, the losses, metrics
 * and optimizers like any user code.
 *
 * compile takes what Keras' training_config holds -- the same JSON a saved
 * file carries -- so compiling in C and restoring a compiled model from a
 * file are one path:
 *
 *     kc_model_compile(model,
 *         "{\"optimizer\": \"adam\", \"loss\": \"categorical_crossentropy\","
 *         " \"metrics\": [\"accuracy\"]}", NULL, &err);
 *
 *   optimizer        a name ("adam", "SGD") or {"class_name", "config"}
 *                    (default "rmsprop", as Keras); "optimizer_config" is
 *                    read too (the file's key)
 *   loss             a name or dict for every output, a list (one per
 *                    output, null for none) or a dict keyed by output name
 *   metrics          a list for every output, a list of lists (per
 *                    output) or a dict by output name; entries are names
 *                    ("accuracy", "mae", "Precision") or dicts.
 *                    "accuracy"/"acc" and "crossentropy"/"ce" are resolved
 *                    per output from the shapes, as Keras does
 *   loss_weights     null, a list, or a dict by output name
 *   weighted_metrics like metrics, computed with sample weights
 * Names resolve through custom_objects first (may be NULL), then the
 * registry; a custom loss function with bound parameters comes from
 * custom_objects. */
#ifndef CKERAS_TRAINER_H
#define CKERAS_TRAINER_H

#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

#include <jansson.h>

KC_BEGIN_DECLS

KC_API KC_NODISCARD kc_status kc_model_compile(kc_object *model, const char *spec,
                                               const kc_custom_objects *custom, kc_error *err);
/* The same from a parsed JSON object. */
KC_API KC_NODISCARD kc_status kc_model_compile_json(kc_object *model, const json_t *spec,
                                                    const kc_custom_objects *custom,
                                                    kc_error *err);

/* compile with objects built in C (a custom loss class, an optimizer with a
 * schedule, ...). Objects are referenced, not copied. */
typedef struct kc_compile_args {
    kc_object *optimizer;          /* required */
    kc_object *const *losses;      /* 1 (every output) or one per output; entries may be NULL */
    int n_losses;
    const double *loss_weights;    /* NULL, or one per output */
    int n_loss_weights;
    kc_object *const *metrics;     /* metric objects for every output; may be NULL */
    int n_metrics;
} kc_compile_args;
KC_API KC_NODISCARD kc_status kc_model_compile_objects(kc_object *model,
                                                       const kc_compile_args *args,
                                                       kc_error *err);

KC_API bool kc_model_is_compiled(const kc_object *model);
/* The compiled loss of output `output` (borrowed; NULL when that output
 * has no loss). Per-output specs are resolved on first use: KC_ESTATE when
 * the model is not compiled or its outputs are not known yet (build it). */
KC_API KC_NODISCARD kc_status kc_model_compiled_loss(kc_object *model, int output, kc_object **loss,
                                                     kc_error *err);
/* The compiled metrics of output `output`, in order, at most max of them
 * (borrowed; an entry is NULL for "accuracy" / "crossentropy" names until
 * the first batch's shapes resolve them); *n receives the count. */
KC_API KC_NODISCARD kc_status kc_model_compiled_metrics(kc_object *model, int output,
                                                        kc_object **metrics, int max, int *n,
                                                        kc_error *err);
/* The compiled optimizer. Borrowed; NULL when not compiled. */
KC_API kc_object *kc_model_optimizer(const kc_object *model);
/* Keras' training_config for saving: {"loss", "metrics",
 * "weighted_metrics", "loss_weights", "optimizer_config"}. Returns: new
 * JSON object in *out (NULL when the model is not compiled). */
KC_API KC_NODISCARD kc_status kc_model_training_config(const kc_object *model, json_t **out,
                                                       kc_error *err);

KC_END_DECLS

#endif /* CKERAS_TRAINER_H */
