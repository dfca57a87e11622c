/* ckeras: training callbacks (keras.callbacks) and the progress bar.
 *
 * A callback is a table of optional hooks called by fit / evaluate with
 * Keras' logs (kc_logs): train begin/end, epoch begin/end, batch
 * begin/end, test begin/end. A hook that fails stops training with its
 * error. Built-ins are made from Keras' class name and constructor
 * arguments as JSON, with Keras' defaults for what is left out:
 *
 *     kc_callback *es = kc_callback_create("EarlyStopping",
 *         "{\"monitor\": \"val_loss\", \"patience\": 3, \"restore_best_weights\": true}", &err);
 *
 *   EarlyStopping      monitor="val_loss", min_delta=0, patience=0,
 *                      mode="auto"|"min"|"max", baseline=null,
 *                      restore_best_weights=false, start_from_epoch=0
 *   ModelCheckpoint    filepath (required; "{epoch}", "{epoch:02d}",
 *                      "{val_loss:.4f}" and any log key are filled in),
 *                      monitor="val_loss", save_best_only=false,
 *                      save_weights_only=false, mode="auto",
 *                      initial_value_threshold=null; saves are atomic
 *   CSVLogger          filename (required), separator=",", append=false
 *   ReduceLROnPlateau  monitor="val_loss", factor=0.1, patience=10,
 *                      mode="auto", min_delta=1e-4, cooldown=0, min_lr=0
 *   TerminateOnNaN     (no arguments)
 *   ProgbarLogger      verbose=1 (what fit adds itself when verbose > 0)
 * LearningRateScheduler takes a C function: kc_lr_scheduler_new.
 * A user callback: kc_callback_new with a kc_callback_methods table.
 *
 * Callbacks are passed to fit by pointer and stay the caller's (free them
 * with kc_callback_free); one callback may serve several fits. */
#ifndef CKERAS_CALLBACKS_H
#define CKERAS_CALLBACKS_H

#include "args.h"
#include "defs.h"
#include "error.h"
#include "object.h"
#include "trainer.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

KC_BEGIN_DECLS

/* Hooks; every one may be NULL. `model` is the model being trained;
 * `user` is what kc_callback_new was given. epoch and batch are 0-based. */
typedef struct kc_callback_methods {
    kc_status (*on_train_begin)(void *user, kc_object *model, const kc_logs *logs, kc_error *err);
    kc_status (*on_train_end)(void *user, kc_object *model, const kc_logs *logs, kc_error *err);
    kc_status (*on_epoch_begin)(void *user, kc_object *model, int epoch, const kc_logs *logs,
                                kc_error *err);
    /* logs may be added to (Keras' ReduceLROnPlateau adds "lr"); History
     * runs last and records what the others added. */
    kc_status (*on_epoch_end)(void *user, kc_object *model, int epoch, kc_logs *logs,
                              kc_error *err);
    kc_status (*on_train_batch_begin)(void *user, kc_object *model, int64_t batch,
                                      const kc_logs *logs, kc_error *err);
    kc_status (*on_train_batch_end)(void *user, kc_object *model, int64_t batch,
                                    const kc_logs *logs, kc_error *err);
    kc_status (*on_test_begin)(void *user, kc_object *model, const kc_logs *logs, kc_error *err);
    kc_status (*on_test_end)(void *user, kc_object *model, const kc_logs *logs, kc_error *err);
    kc_status (*on_test_batch_begin)(void *user, kc_object *model, int64_t batch,
                                     const kc_logs *logs, kc_error *err);
    kc_status (*on_test_batch_end)(void *user, kc_object *model, int64_t batch,
                                   const kc_logs *logs, kc_error *err);
    /* Called by kc_callback_free. */
    void (*destroy)(void *user);
} kc_callback_methods;

/* What fit tells callbacks before training (Keras' params): set on every
 * callback of the fit, read with kc_callback_params. */
typedef struct kc_train_params {
    int epochs;
    int64_t steps;   /* batches per epoch */
    int64_t samples; /* training samples */
    int verbose;
} kc_train_params;

/* A user callback: methods is borrowed (usually static), user is passed to
 * every hook; kc_callback_free calls methods->destroy(user) when there is
 * one (then the callback owns user). Returns: new callback or NULL. */
KC_API KC_NODISCARD kc_callback *kc_callback_new(const kc_callback_methods *methods, void *user,
                                                 kc_error *err);
/* A built-in by Keras class name and JSON arguments (NULL: defaults).
 * Unknown names are KC_ENOTFOUND; bad arguments name the key. */
KC_API KC_NODISCARD kc_callback *kc_callback_create(const char *class_name, const char *config,
                                                    kc_error *err);
/* LearningRateScheduler(schedule): before each epoch, the optimizer's
 * learning rate becomes schedule(epoch, current_lr, user). verbose > 0
 * prints the change to out (NULL: stdout). user and out stay the
 * caller's and must outlive the callback. */
typedef double (*kc_lr_schedule_fn)(int epoch, double lr, void *user);
KC_API KC_NODISCARD kc_callback *kc_lr_scheduler_new(kc_lr_schedule_fn schedule, void *user,
                                                     int verbose, FILE *out, kc_error *err);
/* NULL-safe. */
KC_API void kc_callback_free(kc_callback *cb);
/* The params of the fit the callback is in. Borrowed. */
KC_API const kc_train_params *kc_callback_params(const kc_callback *cb);

/* For ProgbarLogger / ModelCheckpoint users: where output goes (NULL:
 * stdout). */
KC_API void kc_callback_set_output(kc_callback *cb, FILE *out);

/* EarlyStopping's epoch of stopping (0 if it did not stop), and the best
 * monitored value of EarlyStopping, ModelCheckpoint and ReduceLROnPlateau
 * (NaN before any; always NaN for the other callbacks). */
KC_API int kc_callback_stopped_epoch(const kc_callback *cb);
KC_API double kc_callback_best(const kc_callback *cb);

/* --- the progress bar (Keras' Progbar), for custom loops too ------------------------------ */

typedef struct kc_progbar kc_progbar;

/* A bar for `target` steps (<= 0: unknown), in Keras' format:
 *   12/20 [=================>............] - ETA: 1s - loss: 0.3521 - accuracy: 0.9012
 * verbose 1: redrawn in place on a terminal, at most every 0.05 s; when out
 * is not a terminal, only each bar's finished line is written (no control
 * characters in log files; Keras 2.15 redraws with \b and \r on any POSIX
 * stream). verbose 2: only the final line. out NULL: stdout. */
KC_API KC_NODISCARD kc_progbar *kc_progbar_new(int64_t target, int verbose, FILE *out,
                                               kc_error *err);
/* Show step `current` (1-based) with these values (logs may be NULL);
 * `finalize` ends the line (with the total time and time per step). */
KC_API void kc_progbar_update(kc_progbar *pb, int64_t current, const kc_logs *logs,
                              bool finalize);
KC_API void kc_progbar_free(kc_progbar *pb);

/* --- typed constructors (keras.callbacks.*; conventions in args.h) -------------------------
 *
 *     keras.callbacks.EarlyStopping(patience=3, restore_best_weights=True)
 *     kc_callbacks_early_stopping(&(kc_callbacks_early_stopping_args){
 *         .patience = 3, .restore_best_weights = KC_TRUE}, &err)
 *
 * The same callbacks as kc_callback_create with the same arguments as
 * JSON; a zero field is Keras' default (KC_ZERO for an explicit 0). Each
 * returns a new callback (free it with kc_callback_free) or NULL with err
 * filled. Strings are copied. */

/* EarlyStopping, ModelCheckpoint and ReduceLROnPlateau's monitor and mode. */
#define KC_MONITOR_ARGS                                                                            \
    const char *monitor; /* "val_loss" */                                                          \
    const char *mode     /* "auto"; "min", "max" */

typedef struct kc_callbacks_early_stopping_args {
    KC_MONITOR_ARGS;
    double min_delta;             /* 0 */
    int patience;                 /* 0 */
    int verbose;                  /* 0 */
    double baseline;              /* none (KC_ZERO for 0) */
    kc_bool restore_best_weights; /* false */
    int start_from_epoch;         /* 0 */
} kc_callbacks_early_stopping_args;
KC_API KC_NODISCARD kc_callback *
kc_callbacks_early_stopping(const kc_callbacks_early_stopping_args *args, kc_error *err);

typedef struct kc_callbacks_model_checkpoint_args {
    KC_MONITOR_ARGS;
    const char *filepath;           /* required: "{epoch:02d}" and log keys are filled in */
    int verbose;                    /* 0 */
    kc_bool save_best_only;         /* false */
    kc_bool save_weights_only;      /* false */
    const char *save_freq;          /* "epoch" */
    double initial_value_threshold; /* none (KC_ZERO for 0) */
} kc_callbacks_model_checkpoint_args;
KC_API KC_NODISCARD kc_callback *
kc_callbacks_model_checkpoint(const kc_callbacks_model_checkpoint_args *args, kc_error *err);

typedef struct kc_callbacks_csv_logger_args {
    const char *filename;  /* required */
    const char *separator; /* "," */
    kc_bool append;        /* false */
} kc_callbacks_csv_logger_args;
KC_API KC_NODISCARD kc_callback *kc_callbacks_csv_logger(const kc_callbacks_csv_logger_args *args,
                                                         kc_error *err);

typedef struct kc_callbacks_reduce_lr_on_plateau_args {
    KC_MONITOR_ARGS;
    double factor;    /* 0.1 */
    int patience;     /* 10 (KC_ZERO for 0) */
    int verbose;      /* 0 */
    double min_delta; /* 1e-4 */
    int cooldown;     /* 0 */
    double min_lr;    /* 0 */
} kc_callbacks_reduce_lr_on_plateau_args;
KC_API KC_NODISCARD kc_callback *
kc_callbacks_reduce_lr_on_plateau(const kc_callbacks_reduce_lr_on_plateau_args *args, kc_error *err);

KC_API KC_NODISCARD kc_callback *kc_callbacks_terminate_on_nan(const kc_no_args *args, kc_error *err);

typedef struct kc_callbacks_progbar_logger_args {
    int verbose; /* 1 (KC_ZERO for 0) */
} kc_callbacks_progbar_logger_args;
KC_API KC_NODISCARD kc_callback *
kc_callbacks_progbar_logger(const kc_callbacks_progbar_logger_args *args, kc_error *err);

/* LearningRateScheduler: kc_lr_scheduler_new with named arguments. */
typedef struct kc_callbacks_learning_rate_scheduler_args {
    kc_lr_schedule_fn schedule; /* required */
    void *user;                 /* passed to schedule */
    int verbose;                /* 0 */
    FILE *out;                  /* NULL: stdout */
} kc_callbacks_learning_rate_scheduler_args;
KC_API KC_NODISCARD kc_callback *
kc_callbacks_learning_rate_scheduler(const kc_callbacks_learning_rate_scheduler_args *args, kc_error *err);

KC_END_DECLS

#endif /* CKERAS_CALLBACKS_H */
