/* Typed constructors of the built-in callbacks (callbacks.h): the args
 * struct becomes the JSON arguments kc_callback_create reads, so both
 * forms go through the same maker and the same checks. */
#include "api_int.h"
#include "../training/training_int.h"

static kc_callback *make_callback(const char *class_name, const kc_arg_field *fields, int n, const void *args,
                                  const char *where, kc_error *err)
{
    json_t *cfg;
    kc_custom_objects *co = NULL;
    if (kc_args_to_config(fields, n, args, where, &cfg, &co, err) != KC_OK) return NULL;
    kc_custom_objects_free(co); /* callbacks take no objects */
    kc_callback *cb = kc__callback_create_json(class_name, cfg, where, err);
    json_decref(cfg);
    return cb;
}

#define CALLBACK(fn, args_type, cls, table)                                                        \
    kc_callback *fn(const args_type *args, kc_error *err)                                          \
    {                                                                                              \
        return make_callback(cls, table, KC_ARRAY_SIZE(table), args, #fn, err);                    \
    }

#define MONITOR_FIELDS(T) KC_ARG(T, monitor), KC_ARG(T, mode)

#define T kc_callbacks_early_stopping_args
static const kc_arg_field early_stopping_fields[] = {
    MONITOR_FIELDS(T),   KC_ARG(T, min_delta), KC_ARG(T, patience), KC_ARG(T, verbose), KC_ARG(T, baseline),
    KC_ARG(T, restore_best_weights), KC_ARG(T, start_from_epoch)};
CALLBACK(kc_callbacks_early_stopping, T, "EarlyStopping", early_stopping_fields)
#undef T

#define T kc_callbacks_model_checkpoint_args
static const kc_arg_field checkpoint_fields[] = {
    KC_ARG(T, filepath),       MONITOR_FIELDS(T),      KC_ARG(T, verbose),
    KC_ARG(T, save_best_only), KC_ARG(T, save_weights_only), KC_ARG(T, save_freq),
    KC_ARG(T, initial_value_threshold)};
CALLBACK(kc_callbacks_model_checkpoint, T, "ModelCheckpoint", checkpoint_fields)
#undef T

#define T kc_callbacks_csv_logger_args
static const kc_arg_field csv_logger_fields[] = {KC_ARG(T, filename), KC_ARG(T, separator), KC_ARG(T, append)};
CALLBACK(kc_callbacks_csv_logger, T, "CSVLogger", csv_logger_fields)
#undef T

#define T kc_callbacks_reduce_lr_on_plateau_args
static const kc_arg_field reduce_lr_fields[] = {MONITOR_FIELDS(T),  KC_ARG(T, factor),   KC_ARG(T, patience),
                                                KC_ARG(T, verbose), KC_ARG(T, min_delta), KC_ARG(T, cooldown),
                                                KC_ARG(T, min_lr)};
CALLBACK(kc_callbacks_reduce_lr_on_plateau, T, "ReduceLROnPlateau", reduce_lr_fields)
#undef T

static const kc_arg_field no_fields[1] = {{"unused_", KC_ARG_INT, 0, sizeof(int), KC_KIND_COUNT, KC_ARG_REFUSED, 0}};
CALLBACK(kc_callbacks_terminate_on_nan, kc_no_args, "TerminateOnNaN", no_fields)

static const kc_arg_field progbar_fields[] = {KC_ARG(kc_callbacks_progbar_logger_args, verbose)};
CALLBACK(kc_callbacks_progbar_logger, kc_callbacks_progbar_logger_args, "ProgbarLogger", progbar_fields)

kc_callback *kc_callbacks_learning_rate_scheduler(const kc_callbacks_learning_rate_scheduler_args *args,
                                                  kc_error *err)
{
    if (!args || !args->schedule) {
        kc__errf(err, KC_EINVAL, "kc_callbacks_learning_rate_scheduler.schedule: missing (expected a function)");
        return NULL;
    }
    return kc_lr_scheduler_new(args->schedule, args->user, args->verbose, args->out, err);
}
