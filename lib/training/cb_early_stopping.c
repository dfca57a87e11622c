/* EarlyStopping (Keras 2.15): stop when the monitored value has not
 * improved by min_delta for `patience` epochs (checked from the second
 * epoch on); with restore_best_weights, the weights of the best epoch are
 * put back when it stops. A baseline must be beaten for the patience count
 * to restart. verbose > 0 prints Keras' two messages (restoring, and the
 * epoch it stopped at when training ends). */
#include "training_int.h"

#include <math.h>

typedef struct early_stopping {
    kc_callback *self;
    kc__monitor mon;
    int64_t patience, start_from_epoch, verbose;
    bool has_baseline, restore;
    double baseline;
    int wait, best_epoch;
    kc_tensor **best_weights;
    int n_best;
} early_stopping;

static void drop_best(early_stopping *e)
{
    for (int i = 0; i < e->n_best; i++) kc_tensor_unref(e->best_weights[i]);
    kc__free(e->best_weights);
    e->best_weights = NULL;
    e->n_best = 0;
}

static kc_status snapshot(early_stopping *e, kc_object *model, kc_error *err)
{
    drop_best(e);
    int n = kc_layer_num_weights(model);
    e->best_weights = kc__calloc((size_t)n + 1, sizeof(kc_tensor *));
    if (!e->best_weights) return kc__errf(err, KC_ENOMEM, "out of memory");
    kc_status rc = kc_layer_get_weights(model, e->best_weights, err);
    if (rc == KC_OK) e->n_best = n;
    return rc;
}

static FILE *out_of(const early_stopping *e) { return e->self->out ? e->self->out : stdout; }

static kc_status es_train_begin(void *user, kc_object *model, const kc_logs *logs, kc_error *err)
{
    (void)model, (void)logs, (void)err;
    early_stopping *e = user;
    e->wait = 0;
    e->best_epoch = 0;
    e->self->stopped_epoch = 0;
    e->self->best = NAN;
    drop_best(e);
    return KC_OK;
}

static kc_status es_epoch_end(void *user, kc_object *model, int epoch, kc_logs *logs, kc_error *err)
{
    early_stopping *e = user;
    double current;
    if (!kc_logs_get(logs, e->mon.key, &current) || epoch < e->start_from_epoch) return KC_OK;
    kc_status rc = KC_OK;
    if (e->restore && !e->best_weights && (rc = snapshot(e, model, err)) != KC_OK) return rc;
    e->wait++;
    if (kc__monitor_improved(&e->mon, current, e->self->best)) {
        e->self->best = current;
        e->best_epoch = epoch;
        if (e->restore && (rc = snapshot(e, model, err)) != KC_OK) return rc;
        if (!e->has_baseline || kc__monitor_improved(&e->mon, current, e->baseline)) e->wait = 0;
        return KC_OK;
    }
    if (e->wait >= e->patience && epoch > 0) {
        e->self->stopped_epoch = epoch;
        kc_model_stop_training(model);
        if (e->restore && e->best_weights) {
            if (e->verbose > 0 && kc__callback_prints(model))
                fprintf(out_of(e), "Restoring model weights from the end of the best epoch: %d.\n", e->best_epoch + 1);
            rc = kc_layer_set_weights(model, e->best_weights, e->n_best, err);
        }
    }
    return rc;
}

static kc_status es_train_end(void *user, kc_object *model, const kc_logs *logs, kc_error *err)
{
    (void)logs, (void)err;
    early_stopping *e = user;
    if (e->self->stopped_epoch > 0 && e->verbose > 0 && kc__callback_prints(model))
        fprintf(out_of(e), "Epoch %d: early stopping\n", e->self->stopped_epoch + 1);
    return KC_OK;
}

static void es_destroy(void *user)
{
    early_stopping *e = user;
    drop_best(e);
    kc__monitor_free(&e->mon);
    kc__free(e);
}

static const kc_callback_methods es_methods = {
    .on_train_begin = es_train_begin, .on_epoch_end = es_epoch_end, .on_train_end = es_train_end, .destroy = es_destroy};

kc_callback *kc__early_stopping_new(const json_t *cfg, const kc_config_ctx *ctx, kc_error *err)
{
    early_stopping *e = kc__calloc(1, sizeof(*e));
    if (!e) {
        kc__errf(err, KC_ENOMEM, "out of memory");
        return NULL;
    }
    kc_status rc = kc__monitor_read(&e->mon, cfg, ctx, "val_loss", 0.0, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "patience", KC_CFG_NONNEG, 0, &e->patience, err);
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "start_from_epoch", KC_CFG_NONNEG, 0, &e->start_from_epoch, err);
    if (rc == KC_OK) rc = kc_cfg_bool(ctx, cfg, "restore_best_weights", 0, false, &e->restore, err);
    if (rc == KC_OK) {
        const json_t *b = json_object_get(cfg, "baseline");
        e->has_baseline = b && !json_is_null(b);
        if (e->has_baseline) rc = kc_cfg_float(ctx, cfg, "baseline", 0, 0, &e->baseline, err);
    }
    if (rc == KC_OK) rc = kc_cfg_int(ctx, cfg, "verbose", KC_CFG_NONNEG, 0, &e->verbose, err);
    if (rc != KC_OK) {
        es_destroy(e);
        return NULL;
    }
    kc_callback *cb = kc__callback_wrap(&es_methods, e, err);
    if (cb) e->self = cb;
    return cb;
}
