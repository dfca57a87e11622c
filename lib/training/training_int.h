/* ckeras private: the compile state the trainer and the saver share. */
#ifndef CKERAS_TRAINING_INT_H
#define CKERAS_TRAINING_INT_H

#include "../models/models_int.h"
#include <ckeras/loss.h>
#include <ckeras/metric.h>
#include <ckeras/optimizer.h>
#include <ckeras/callbacks.h>
#include <ckeras/trainer.h>

/* One metric entry of an output: an object, or a name Keras resolves from
 * the shapes at the first batch ("accuracy", "acc", "crossentropy", "ce"). */
typedef struct kc__metric_entry {
    kc_object *metric; /* owned; NULL until resolved for the special names */
    char *special;     /* owned; the name as given when special */
    bool weighted;     /* from weighted_metrics */
    char *log_name;    /* owned; the key in logs ("accuracy", "out_mae"), set at the first batch */
} kc__metric_entry;

/* A group of processes training together (<ckeras/distributed.h>). */
typedef struct kc_strategy kc_strategy;

typedef struct kc__compiled {
    kc_object *optimizer;  /* owned */
    /* what compile was given, for training_config (owned JSON) */
    json_t *loss_spec, *metrics_spec, *weighted_spec, *loss_weights_spec;
    const kc_custom_objects *custom; /* during compile: the caller's; after: owned_custom */
    kc_custom_objects *owned_custom; /* compile_objects' objects, until resolved */
    /* per output, once the number of outputs is known */
    int n_outputs;         /* -1: not resolved yet */
    kc_object **losses;    /* owned; NULL entries: no loss for that output */
    double *loss_weights;
    kc__metric_entry **metrics; /* per output: array of entries */
    int *n_metrics;
    /* Keras' loss trackers: Mean metrics weighted by batch size, for "loss"
     * and (several outputs) "<output>_loss" */
    kc_object *loss_tracker;
    kc_object **output_loss_trackers;
    bool stop_training;   /* model.stop_training */
    kc_strategy *strategy; /* borrowed: the data-parallel fit or evaluation running, or NULL */
    /* add_metric values of the forward passes, as Mean metrics by name */
    kc_object **added_metrics;
    char **added_names;
    int n_added;
} kc__compiled;

/* KC_OK for a model; KC_EINVAL "not a model" naming what model is
 * (NULL, a layer, another object) otherwise. */
kc_status kc__need_model(const kc_object *model, kc_error *err);

/* Make c the model's compile state (resolved now when the outputs are
 * known); takes c, freed on failure. */
kc_status kc__compiled_attach(kc_object *model, kc__compiled *c, kc_error *err);
void kc__compiled_free(kc__compiled *c);

/* The model's compile state, or NULL. */
kc__compiled *kc__model_compiled(const kc_object *model);
/* Resolve per-output losses and metric lists for n outputs (idempotent). */
kc_status kc__compiled_resolve(kc_object *model, int n_outputs, kc_error *err);

/* Name metric entries and create the special ones from the first batch's
 * shapes (Keras decides "accuracy" from them); idempotent. */
kc_status kc__compiled_prepare_metrics(kc_object *model, kc_tensor *const *y, kc_tensor *const *y_pred,
                                       int n, kc_error *err);

/* logs.c: copy src's entries into dst, keys prefixed ("val_"). */
kc_status kc__logs_copy(kc_logs *dst, const kc_logs *src, const char *prefix, kc_error *err);

/* history.c */
kc_history *kc__history_new(kc_error *err);
kc_status kc__history_append(kc_history *h, int epoch, const kc_logs *logs, kc_error *err);

/* Callbacks (callbacks.c). Built-ins keep their state in `user` and may
 * report through stopped_epoch / best. */
struct kc_callback {
    const kc_callback_methods *methods;
    void *user;
    kc_train_params params;
    FILE *out;
    int stopped_epoch;
    double best;
    json_t *args;        /* a built-in's constructor arguments (owned; NULL for others) */
    bool chief_only; /* in a data-parallel fit, only the chief (rank 0) runs it: it writes
                        output (progress bar, CSVLogger) that one process should write */
};

/* A built-in callback by Keras class name from its arguments (what
 * kc_callback_create parses; `where` names the caller in messages, NULL:
 * the class name). The callback keeps a copy of the arguments. */
kc_callback *kc__callback_create_json(const char *class_name, const json_t *cfg, const char *where,
                                     kc_error *err);
/* The arguments a built-in was made with (borrowed; NULL for others). */
const json_t *kc__callback_args(const kc_callback *cb);

/* Whether a built-in callback prints here: in a data-parallel fit every
 * process runs it, and only the chief prints. */
bool kc__callback_prints(const kc_object *model);

/* Make a callback around a built-in's state (takes user: destroyed by
 * methods->destroy on failure too). */
kc_callback *kc__callback_wrap(const kc_callback_methods *m, void *user, kc_error *err);

/* The hooks of a list of callbacks, in order; the first failure stops. */
typedef struct kc__callback_list {
    kc_callback **items;
    int n;
} kc__callback_list;
kc_status kc__cbs_train_begin(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_train_end(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_epoch_begin(const kc__callback_list *l, kc_object *m, int epoch, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_epoch_end(const kc__callback_list *l, kc_object *m, int epoch, kc_logs *logs, kc_error *err);
kc_status kc__cbs_batch_begin(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_batch_end(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_test_begin(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_test_end(const kc__callback_list *l, kc_object *m, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_test_batch_begin(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err);
kc_status kc__cbs_test_batch_end(const kc__callback_list *l, kc_object *m, int64_t batch, const kc_logs *logs, kc_error *err);

/* The built-ins, made from their Keras arguments (callbacks.c dispatches). */
kc_callback *kc__history_callback_new(kc_history *h, kc_error *err);
kc_callback *kc__progbar_logger_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err);
bool kc__is_progbar_logger(const kc_callback *cb);
kc_callback *kc__early_stopping_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err);
kc_callback *kc__model_checkpoint_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err);
kc_callback *kc__csv_logger_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err);
kc_callback *kc__reduce_lr_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err);
kc_callback *kc__terminate_on_nan_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err);

/* "auto"/"min"/"max" monitoring shared by EarlyStopping, ModelCheckpoint
 * and ReduceLROnPlateau: auto is max for names containing "acc" (or
 * "auc"), else min, as Keras. */
typedef struct kc__monitor {
    char *key;       /* owned */
    bool maximize;
    double min_delta; /* positive; improvement means beyond best by it */
} kc__monitor;
kc_status kc__monitor_read(kc__monitor *m, const json_t *cfg, const kc_config_ctx *ctx, const char *dflt_key,
                           double dflt_delta, kc_error *err);
bool kc__monitor_improved(const kc__monitor *m, double value, double best);
void kc__monitor_free(kc__monitor *m);

/* pyformat.c: Python's repr() of a float, and str.format of a file path
 * with "{epoch}" (given 1-based) and log keys. */
void kc__py_repr(double v, char *buf, size_t n);
kc_status kc__py_format_path(const char *pattern, int epoch, const kc_logs *logs, char *out, size_t n,
                             kc_error *err);

#endif /* CKERAS_TRAINING_INT_H */
