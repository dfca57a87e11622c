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
 * every hook. Returns: new callback or NULL. */
KC_API KC_NODISCARD kc_callback *kc_callback_new(const kc_callback_methods *methods, void *user,
                                                 kc_error *err);
/* A built-in by Keras class name and JSON arguments (NULL: defaults).
 * Unknown names are KC_ENOTFOUND; bad arguments name the key. */
KC_API KC_NODISCARD kc_callback *kc_callback_create(const char *class_name, const char *config,
                                                    kc_error *err);
/* LearningRateScheduler(schedule): before each epoch, the optimizer's
 * learning rate becomes schedule(epoch, current_lr, user). verbose > 0
 * prints the change to out (NULL: stdout). */
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

/* EarlyStopping's results: the epoch training stopped at (0 if it did not)
 * and the best monitored value (NaN before any). Other callbacks: 0 / NaN. */
KC_API int kc_callback_stopped_epoch(const kc_callback *cb);
KC_API double kc_callback_best(const kc_callback *cb);

/* --- the progress bar (Keras' Progbar), for custom loops too ------------------------------ */

typedef struct kc_progbar kc_progbar;

/* A bar for `target` steps (<= 0: unknown), in Keras' format:
 *   12/20 [=================>............] - ETA: 1s - loss: 0.3521 - accuracy: 0.9012
 * verbose 1: redrawn in place on a terminal (a new line per update when out
 * is not a terminal, at most every 10% of the steps), verbose 2: only the
 * final line. out NULL: stdout. */
KC_API KC_NODISCARD kc_progbar *kc_progbar_new(int64_t target, int verbose, FILE *out,
                                               kc_error *err);
/* Show step `current` (1-based) with these values (logs may be NULL);
 * `finalize` ends the line (with the total time and time per step). */
KC_API void kc_progbar_update(kc_progbar *pb, int64_t current, const kc_logs *logs,
                              bool finalize);
KC_API void kc_progbar_free(kc_progbar *pb);

KC_END_DECLS

#endif /* CKERAS_CALLBACKS_H */
