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
 * custom_objects. custom is read during the call only: a model whose
 * outputs are not known yet (an unbuilt subclassed model) resolves its
 * losses and metrics at its first batch through the registry alone, so
 * give such a model its custom functions as objects
 * (kc_model_compile_specs, kc_model_compile_objects). */
#ifndef CKERAS_TRAINER_H
#define CKERAS_TRAINER_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"
#include "tensor.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

KC_BEGIN_DECLS

typedef struct kc_callback kc_callback; /* callbacks.h */

KC_API KC_NODISCARD kc_status kc_model_compile(kc_object *model, const char *spec,
                                               const kc_custom_objects *custom, kc_error *err);
/* The same from a parsed JSON object. */
KC_API KC_NODISCARD kc_status kc_model_compile_json(kc_object *model, const json_t *spec,
                                                    const kc_custom_objects *custom,
                                                    kc_error *err);

/* compile with objects built in C (a custom loss class, an optimizer with a
 * schedule, ...). The model adds a reference to the optimizer and to loss
 * and metric functions; loss and metric class instances are made again from
 * their config (as a loaded model would). */
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

/* compile with named arguments (args.h conventions), as Keras' call:
 *     model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
 *     kc_model_compile_specs(model, &(kc_compile_specs){.optimizer = KC_OBJECT(adam),
 *         .loss = KC_NAME("mse"), .metrics = {KC_NAME("mae")}}, &err)
 * Names are resolved as in kc_model_compile ("accuracy" from the output
 * shapes); the optimizer object is the model's (a reference); a loss or
 * metric function is referenced, a loss or metric class instance is made
 * again from its config (as a loaded model would). Lists end at their
 * first empty entry. args may be NULL (rmsprop, no loss). */
#define KC_MAX_COMPILE_METRICS 8
typedef struct kc_compile_specs {
    kc_spec optimizer; /* "rmsprop" */
    kc_spec loss;      /* none: one loss for every output (per-output losses: kc_model_compile) */
    kc_spec metrics[KC_MAX_COMPILE_METRICS];          /* for every output */
    kc_spec weighted_metrics[KC_MAX_COMPILE_METRICS]; /* computed with sample weights */
} kc_compile_specs;
KC_API KC_NODISCARD kc_status kc_model_compile_specs(kc_object *model, const kc_compile_specs *args,
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

/* --- logs: the name -> value dict Keras passes around ------------------------------- */

/* An ordered set of named values ("loss", "accuracy", "val_loss", ...), as
 * Keras' logs dicts. Callbacks receive them read-only, except at epoch end
 * (where Keras' ReduceLROnPlateau adds "lr"). */
typedef struct kc_logs kc_logs;

KC_API KC_NODISCARD kc_logs *kc_logs_new(kc_error *err);
KC_API void kc_logs_free(kc_logs *logs);
/* Set (or add) key. Returns KC_ENOMEM on failure. */
KC_API KC_NODISCARD kc_status kc_logs_set(kc_logs *logs, const char *key, double value,
                                          kc_error *err);
/* The value of key; false (and *value untouched) when absent. */
KC_API bool kc_logs_get(const kc_logs *logs, const char *key, double *value);
KC_API int kc_logs_size(const kc_logs *logs);
/* Entry i in insertion order (borrowed key). */
KC_API const char *kc_logs_key(const kc_logs *logs, int i);
KC_API double kc_logs_value(const kc_logs *logs, int i);
KC_API void kc_logs_clear(kc_logs *logs);

/* --- History ------------------------------------------------------------------------------ */

/* What fit returns (Keras' History): one value per epoch for each log key,
 * in the order Keras lists them (loss, <output>_loss..., metrics, then the
 * val_ ones). */
typedef struct kc_history kc_history;

KC_API void kc_history_free(kc_history *h);
KC_API int kc_history_num_epochs(const kc_history *h);
/* The epoch numbers trained (initial_epoch, ..., 0-based). Borrowed. */
KC_API const int *kc_history_epochs(const kc_history *h);
KC_API int kc_history_num_keys(const kc_history *h);
KC_API const char *kc_history_key(const kc_history *h, int i);
/* The per-epoch values of key (kc_history_num_epochs of them), or NULL.
 * Borrowed. */
KC_API const double *kc_history_values(const kc_history *h, const char *key);

/* --- fit / evaluate / predict ---------------------------------------------------------- */

/* Arguments of fit and evaluate; zero-initialized fields are Keras'
 * defaults except where noted. Tensors are batched along axis 0, one per
 * model input (x) and output (y). */
typedef struct kc_fit_args {
    kc_tensor *const *x;
    int n_x;
    kc_tensor *const *y;            /* may be NULL only for models that need no targets */
    int n_y;
    kc_tensor *const *sample_weight; /* NULL, or one [N] tensor per output */
    int n_sample_weight;
    int64_t batch_size;             /* 0: 32 */
    int epochs;                     /* 0: 1 */
    int initial_epoch;              /* epochs run are [initial_epoch, epochs) */
    double validation_split;        /* last fraction of the samples, taken before shuffling */
    kc_tensor *const *val_x;        /* validation_data (wins over validation_split) */
    int n_val_x;
    kc_tensor *const *val_y;
    int n_val_y;
    kc_tensor *const *val_sample_weight;
    bool no_shuffle;                /* shuffle=False (Keras shuffles by default; seeded by kc_set_random_seed) */
    const double *class_weight;     /* NULL, or a weight per class index (n_class_weight of them) */
    int n_class_weight;
    kc_callback *const *callbacks;  /* borrowed; called in order, after History */
    int n_callbacks;
    int verbose;                    /* 0 silent (the C default), 1 progress bar, 2 one line per epoch */
    FILE *out;                      /* where the progress goes; NULL: stdout */
} kc_fit_args;

/* Keras' Model.fit. The model must be compiled. Returns the History in
 * *history (may be NULL when not wanted; free with kc_history_free). A
 * callback may stop training early (kc_model_stop_training). */
KC_API KC_NODISCARD kc_status kc_model_fit(kc_object *model, const kc_fit_args *args,
                                           kc_history **history, kc_error *err);
/* Keras' Model.evaluate over x / y / sample_weight of args (batch_size,
 * callbacks and verbose are used; the rest is ignored). *logs receives the
 * loss and metrics (a new kc_logs; may be NULL). */
KC_API KC_NODISCARD kc_status kc_model_evaluate(kc_object *model, const kc_fit_args *args,
                                                kc_logs **logs, kc_error *err);
/* One step on one batch (Keras' train_on_batch / test_on_batch): logs
 * receives the batch's loss and metrics (reset_metrics: metrics restart
 * from this batch, Keras' default). logs may be NULL. */
KC_API KC_NODISCARD kc_status kc_model_train_on_batch(kc_object *model, kc_tensor *const *x,
                                                      int n_x, kc_tensor *const *y, int n_y,
                                                      kc_tensor *const *sample_weight,
                                                      kc_logs *logs, kc_error *err);
KC_API KC_NODISCARD kc_status kc_model_test_on_batch(kc_object *model, kc_tensor *const *x,
                                                     int n_x, kc_tensor *const *y, int n_y,
                                                     kc_tensor *const *sample_weight,
                                                     kc_logs *logs, kc_error *err);
/* The model on one batch in inference mode; *n_out outputs (new references). */
KC_API KC_NODISCARD kc_status kc_model_predict_on_batch(kc_object *model, kc_tensor *const *x,
                                                        int n_x, kc_tensor **outputs, int *n_out,
                                                        kc_error *err);
/* Ask a running fit to stop after the current batch (Keras'
 * model.stop_training = True); fit clears it when it starts. */
KC_API void kc_model_stop_training(kc_object *model);
KC_API bool kc_model_stopping(const kc_object *model);

/* --- building blocks of train steps and custom training loops ----------------------------- */

/* One batch as a train step sees it (Keras' data argument). */
typedef struct kc_train_step {
    kc_tensor *const *x;
    int n_x;
    kc_tensor *const *y;
    int n_y;
    kc_tensor *const *sample_weight; /* NULL or one per output */
    kc_logs *logs;                   /* the step writes the metric results here */
} kc_train_step;

/* What fit does per batch (Keras 2's Model.train_step): forward in
 * training mode under a tape, kc_model_compute_loss, gradients of every
 * trainable weight, optimizer.apply_gradients, kc_model_update_metrics,
 * results into step->logs. A model class's train_step slot replaces it;
 * that one may call this. */
KC_API KC_NODISCARD kc_status kc_model_train_step(kc_object *model, kc_train_step *step,
                                                  kc_error *err);
/* For a model class's own train_step in a data-parallel fit
 * (kc_strategy_fit in <ckeras/distributed.h>): replace each gradient by the sum over the
 * processes of their gradients, each weighted by its process's share of the
 * batch -- the gradient of the whole batch's loss, as Horovod's
 * DistributedOptimizer does before apply_gradients. grads[i] (of vars[i])
 * may be NULL (no gradient) and may become a new tensor. Outside a
 * data-parallel fit, it does nothing. kc_model_train_step calls it. */
KC_API KC_NODISCARD kc_status kc_model_reduce_gradients(kc_object *model, kc_tensor **grads,
                                                        kc_variable *const *vars, int n,
                                                        kc_error *err);
/* Keras' compute_loss: the sum over outputs of loss_weight * loss(y,
 * y_pred, sample_weight), plus every weight regularization penalty and
 * every loss the last call added (add_loss, activity regularizers).
 * Recorded on active tapes. *loss receives a new scalar. Also updates the
 * loss trackers behind the "loss" / "<output>_loss" logs. */
KC_API KC_NODISCARD kc_status kc_model_compute_loss(kc_object *model, kc_tensor *const *y, int n_y,
                                                    kc_tensor *const *y_pred, int n_pred,
                                                    kc_tensor *const *sample_weight,
                                                    kc_tensor **loss, kc_error *err);
/* Update the compiled metrics with one batch (never recorded on tapes). */
KC_API KC_NODISCARD kc_status kc_model_update_metrics(kc_object *model, kc_tensor *const *y,
                                                      int n_y, kc_tensor *const *y_pred,
                                                      int n_pred, kc_tensor *const *sample_weight,
                                                      kc_error *err);
/* The current values of the loss trackers and compiled metrics, under
 * Keras' log names, into logs (existing keys are overwritten). */
KC_API KC_NODISCARD kc_status kc_model_metric_results(kc_object *model, kc_logs *logs,
                                                      kc_error *err);
/* Restart every loss tracker and compiled metric (Keras' reset_metrics). */
KC_API KC_NODISCARD kc_status kc_model_reset_metrics(kc_object *model, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_TRAINER_H */
